// Fake secrets of several families, built at run time so that no source file
// holds one whole (and a scanner of this repository finds nothing).
import { randomBytes } from "node:crypto";

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function randomText(length: number, alphabet = ALPHANUMERIC): string {
  const bytes = randomBytes(length);
  let text = "";
  for (const byte of bytes) text += alphabet[byte % alphabet.length];
  return text;
}

const base64url = (text: string) => Buffer.from(text).toString("base64url");

/** One fake secret: `value` is what is handed to the toolkit, `secret` the part that must never be stored. */
export interface FakeSecret {
  family: string;
  value: string;
  secret: string;
}

/** A fresh set of fake secrets, one per family. */
export function fakeSecrets(): FakeSecret[] {
  const whole = (family: string, value: string): FakeSecret => ({ family, value, secret: value });
  const jwt = [
    base64url('{"alg":"RS256","typ":"JWT"}'),
    base64url(`{"iss":"${randomText(8)}","exp":1900000000}`),
    randomText(43, `${ALPHANUMERIC}-_`),
  ].join(".");
  const pemBody = Array.from({ length: 4 }, () => randomText(64, `${ALPHANUMERIC}+/`)).join("\n");
  const pem =
    ["-----BEGIN RSA", "PRIVATE KEY-----\n"].join(" ") +
    pemBody +
    ["\n-----END RSA", "PRIVATE KEY-----"].join(" ");
  const password = `Pw${randomText(18)}`;
  const accessToken = randomText(40, "abcdef0123456789");
  const bearer = randomText(48, `${ALPHANUMERIC}-._~`);
  // GitHub's stateless installation token: ghs_<app id>_<JWT>, about 520 characters.
  const statelessJwt = [
    base64url('{"alg":"RS256","typ":"JWT","kid":"installation"}'),
    base64url(
      JSON.stringify({
        iss: "github.com",
        sub: `installation:${randomText(8, "0123456789")}`,
        repositories: ["acme/widgets", "acme/gadgets"],
        permissions: { contents: "write", issues: "write", pull_requests: "write" },
        exp: 1_900_000_000,
      }),
    ),
    `${randomText(200, `${ALPHANUMERIC}-_`)}-_${randomText(40)}`,
  ].join(".");
  const stateless = `ghs_${randomText(7, "123456789")}_${statelessJwt}`;
  const envPemBody = Array.from({ length: 3 }, () => randomText(64, `${ALPHANUMERIC}+/`)).join(
    "\n",
  );
  const envPem = `GITHUB_APP_PRIVATE_KEY="${["-----BEGIN RSA", "PRIVATE KEY-----"].join(" ")}\n${envPemBody}\n${["-----END RSA", "PRIVATE KEY-----"].join(" ")}"`;
  const longPassword = `${randomText(150)}@${randomText(60)}/${randomText(60)}`;
  const azureKey = `${randomText(86, `${ALPHANUMERIC}+/`)}==`;
  const npmAuth = Buffer.from(`bot:${randomText(24)}`).toString("base64");
  const xAuth = randomText(40, `${ALPHANUMERIC}-_`);
  const gitlab = `glpat-${randomText(20, `${ALPHANUMERIC}-_`)}`;
  return [
    whole("github-app-stateless", stateless),
    whole("github-app", `ghs_${randomText(36)}`),
    whole("github-app-legacy", `v1.${randomText(40, "0123456789abcdef")}`),
    { family: "private-key-after-env-name", value: envPem, secret: envPemBody.slice(0, 64) },
    {
      family: "long-url-password",
      value: `https://oauth2:${longPassword}@github.com/acme/widgets.git`,
      secret: longPassword.slice(0, 80),
    },
    {
      family: "azure-account-key",
      value: `DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=${azureKey};EndpointSuffix=core.windows.net`,
      secret: azureKey,
    },
    { family: "npm-auth", value: `_auth=${npmAuth}`, secret: npmAuth },
    { family: "x-auth-token", value: `X-Auth-Token: Bearer ${xAuth}`, secret: xAuth },
    { family: "gitlab-bearer", value: `Authorization: Bearer ${gitlab}`, secret: gitlab },
    whole("github-pat", `ghp_${randomText(36)}`),
    whole("github-fine-grained", `github_pat_${randomText(22)}_${randomText(59)}`),
    whole("github-oauth", `gho_${randomText(36)}`),
    whole("aws-key", `AKIA${randomText(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}`),
    whole(
      "slack-token",
      `xoxb-${randomText(12, "0123456789")}-${randomText(12, "0123456789")}-${randomText(24)}`,
    ),
    { family: "private-key", value: pem, secret: pemBody.slice(0, 64) },
    whole("jwt", jwt),
    {
      family: "url-password",
      value: `https://bot:${password}@git.example.com/acme/widgets.git`,
      secret: password,
    },
    {
      family: "access-token-param",
      value: `https://api.example.com/items?access_token=${accessToken}`,
      secret: accessToken,
    },
    { family: "bearer", value: `Authorization: Bearer ${bearer}`, secret: bearer },
  ];
}

/** Every form a secret may take in a file or a log line: raw, base64, percent-encoded, JSON-escaped. */
export function encodedForms(secret: string): string[] {
  const forms = new Set([
    secret,
    Buffer.from(secret).toString("base64"),
    Buffer.from(secret).toString("base64url"),
    encodeURIComponent(secret),
    JSON.stringify(secret).slice(1, -1),
  ]);
  return [...forms];
}

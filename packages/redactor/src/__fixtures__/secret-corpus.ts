// A corpus of fake secrets (families) and of the places they turn up in
// (contexts). Everything is built at run time from fragments: no literal
// token sits in the sources.
import { body, fake, pemBlock } from "./fake-secrets.js";

/** One kind of secret, as it appears in text, and the parts of it that must never survive. */
export interface SecretFamily {
  readonly family: string;
  /** The secret as a program would print it (a bare token, or `KEY=value` when a name comes with it). */
  readonly text: string;
  /** The sensitive parts: no window of them may be left in the output. */
  readonly sensitive: readonly string[];
}

/** The part after a token's public prefix (`ghp_…` → `…`), which is the actual secret. */
const after = (token: string, prefix: string): string => token.slice(prefix.length);

const basicCredential = Buffer.from(`deploy:${body(18, undefined, 5)}`).toString("base64");
const azureKey = `${body(86, "A1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvWxYz+/", 4)}==`;
const opaque = `${body(24, undefined, 2)}.${body(16, "0123456789abcdef")}`;
const password = `Tr0ub4dor${body(10, undefined, 8)}`;
const urlPassword = `Xk9/${body(18, undefined, 6)}@Q7`;
const uuid = "4e2b8c1a-6f0d-4b3e-9a71-c2d5e8f0a1b3";
const signature = encodeURIComponent(
  Buffer.from(body(32, undefined, 3))
    .toString("base64")
    .replace(/=+$/, ""),
);

export const SECRET_FAMILIES: readonly SecretFamily[] = [
  {
    family: "github classic PAT",
    text: fake.githubClassic,
    sensitive: [after(fake.githubClassic, "ghp_")],
  },
  {
    family: "github fine-grained PAT",
    text: fake.githubFineGrained,
    sensitive: [after(fake.githubFineGrained, "github_pat_")],
  },
  {
    family: "github OAuth token",
    text: fake.githubOauth,
    sensitive: [after(fake.githubOauth, "gho_")],
  },
  {
    family: "github installation token",
    text: fake.githubApp,
    sensitive: [after(fake.githubApp, "ghs_")],
  },
  {
    family: "github stateless installation token",
    text: fake.githubAppStateless,
    sensitive: [after(fake.githubAppStateless, "ghs_1234567_")],
  },
  {
    family: "github user-to-server token",
    text: fake.githubUser,
    sensitive: [after(fake.githubUser, "ghu_")],
  },
  {
    family: "github refresh token",
    text: fake.githubRefresh,
    sensitive: [after(fake.githubRefresh, "ghr_")],
  },
  {
    family: "github legacy installation token",
    text: fake.githubAppLegacy,
    sensitive: [after(fake.githubAppLegacy, "v1.")],
  },
  { family: "aws access key id", text: fake.awsKeyId, sensitive: [fake.awsKeyId] },
  {
    family: "aws temporary key id",
    text: fake.awsTemporaryKeyId,
    sensitive: [fake.awsTemporaryKeyId],
  },
  {
    family: "aws secret access key",
    text: `aws_secret_access_key=${fake.awsSecret}`,
    sensitive: [fake.awsSecret],
  },
  { family: "slack bot token", text: fake.slackBot, sensitive: [after(fake.slackBot, "xoxb-")] },
  { family: "slack user token", text: fake.slackUser, sensitive: [after(fake.slackUser, "xoxp-")] },
  { family: "slack app token", text: fake.slackApp, sensitive: [after(fake.slackApp, "xapp-")] },
  {
    family: "slack webhook",
    text: fake.slackWebhook,
    sensitive: [after(fake.slackWebhook, "https://hooks.slack.com/services/")],
  },
  {
    family: "stripe secret key",
    text: fake.stripeLive,
    sensitive: [after(fake.stripeLive, "sk_live_")],
  },
  {
    family: "stripe restricted key",
    text: fake.stripeRestricted,
    sensitive: [after(fake.stripeRestricted, "rk_test_")],
  },
  {
    family: "stripe webhook secret",
    text: fake.stripeWebhook,
    sensitive: [after(fake.stripeWebhook, "whsec_")],
  },
  { family: "npm token", text: fake.npm, sensitive: [after(fake.npm, "npm_")] },
  {
    family: "openai project key",
    text: fake.openaiProject,
    sensitive: [after(fake.openaiProject, "sk-proj-")],
  },
  {
    family: "openai legacy key",
    text: fake.openaiLegacy,
    sensitive: [after(fake.openaiLegacy, "sk-")],
  },
  {
    family: "openai service account key",
    text: fake.openaiServiceAccount,
    sensitive: [after(fake.openaiServiceAccount, "sk-svcacct-")],
  },
  {
    family: "anthropic key",
    text: fake.anthropic,
    sensitive: [after(fake.anthropic, "sk-ant-api03-")],
  },
  { family: "google api key", text: fake.google, sensitive: [after(fake.google, "AIza")] },
  {
    family: "google oauth access token",
    text: fake.googleOauth,
    sensitive: [after(fake.googleOauth, "ya29.")],
  },
  { family: "gitlab token", text: fake.gitlab, sensitive: [after(fake.gitlab, "glpat-")] },
  {
    family: "hugging face token",
    text: fake.huggingFace,
    sensitive: [after(fake.huggingFace, "hf_")],
  },
  { family: "sendgrid key", text: fake.sendgrid, sensitive: [after(fake.sendgrid, "SG.")] },
  {
    family: "digitalocean token",
    text: fake.digitalOcean,
    sensitive: [after(fake.digitalOcean, "dop_v1_")],
  },
  { family: "shopify token", text: fake.shopify, sensitive: [after(fake.shopify, "shpat_")] },
  { family: "pypi token", text: fake.pypi, sensitive: [after(fake.pypi, "pypi-AgEIcHlwaS5vcmc")] },
  {
    family: "json web token",
    text: fake.jwt,
    sensitive: [fake.jwt.slice(fake.jwt.indexOf(".") + 1)],
  },
  {
    family: "RSA private key",
    text: pemBlock("RSA PRIVATE KEY", 5),
    sensitive: pemBlock("RSA PRIVATE KEY", 5).split("\n").slice(1, -1),
  },
  {
    family: "OpenSSH private key",
    text: pemBlock("OPENSSH PRIVATE KEY", 4, "\n", 11),
    sensitive: pemBlock("OPENSSH PRIVATE KEY", 4, "\n", 11).split("\n").slice(1, -1),
  },
  {
    family: "PKCS#8 key after an env-var name",
    text: `GITHUB_APP_PRIVATE_KEY=${pemBlock("PRIVATE KEY", 4, "\n", 23)}`,
    sensitive: pemBlock("PRIVATE KEY", 4, "\n", 23).split("\n").slice(1, -1),
  },
  {
    family: "azure storage account key",
    text: `DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=${azureKey};EndpointSuffix=core.windows.net`,
    sensitive: [azureKey],
  },
  {
    family: "azure shared access key",
    text: `Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=${azureKey}`,
    sensitive: [azureKey],
  },
  {
    family: "npm _auth",
    text: `//registry.npmjs.org/:_auth=${basicCredential}`,
    sensitive: [basicCredential],
  },
  { family: "npm _authToken", text: `//npm.pkg.github.com/:_authToken=${uuid}`, sensitive: [uuid] },
  {
    family: "docker auth",
    text: `{"auths":{"ghcr.io":{"auth":"${basicCredential}"}}}`,
    sensitive: [basicCredential],
  },
  {
    family: "url password",
    text: `postgres://app:${urlPassword}@db.internal:5432/main`,
    sensitive: [urlPassword],
  },
  { family: "password assignment", text: `DB_PASSWORD=${password}`, sensitive: [password] },
  {
    family: "basic credentials",
    text: `Authorization: Basic ${basicCredential}`,
    sensitive: [basicCredential],
  },
  { family: "opaque bearer token", text: `Bearer ${opaque}`, sensitive: [opaque] },
  {
    family: "x-auth-token with a scheme",
    text: `X-Auth-Token: Bearer ${opaque}`,
    sensitive: [opaque],
  },
  {
    family: "signed url",
    text: `https://acme.blob.core.windows.net/c/f.txt?sv=2022-11-02&se=2026-01-01&sig=${signature}`,
    sensitive: [signature],
  },
];

/** Escapes text as it would sit inside a JSON string, without the quotes. */
const inJsonString = (text: string): string => JSON.stringify(text).slice(1, -1);

/** One place a secret can sit in. `percentEncoded` contexts hold the secret URL-encoded. */
export interface SecretContext {
  readonly context: string;
  readonly place: (secret: string) => string;
  readonly percentEncoded?: boolean;
}

export const SECRET_CONTEXTS: readonly SecretContext[] = [
  { context: "alone", place: (s) => s },
  { context: "prose", place: (s) => `the value ${s} was rejected` },
  { context: "end of a sentence", place: (s) => `rotated the key ${s}.` },
  { context: "before a comma", place: (s) => `${s}, then retry` },
  { context: "double quotes", place: (s) => `"${s}"` },
  { context: "single quotes", place: (s) => `'${s}'` },
  { context: "backticks", place: (s) => `\`${s}\`` },
  { context: "parentheses", place: (s) => `(${s})` },
  { context: "brackets", place: (s) => `[${s}]` },
  { context: "angle brackets", place: (s) => `<${s}>` },
  { context: "JSON value", place: (s) => JSON.stringify({ value: s, n: 1 }) },
  { context: "JSON array", place: (s) => JSON.stringify([s, "other"]) },
  {
    context: "JSON inside a JSON string",
    place: (s) => JSON.stringify({ body: JSON.stringify({ value: s }) }),
  },
  {
    context: "after an escaped newline in JSON text",
    place: (s) => `{"log":"line one\\n${inJsonString(s)}\\nline two"}`,
  },
  {
    context: "after an escaped tab in JSON text",
    place: (s) => `{"log":"col\\t${inJsonString(s)}"}`,
  },
  {
    context: "after a doubly escaped newline",
    place: (s) => JSON.stringify({ body: JSON.stringify({ log: `x\n${s}` }) }),
  },
  { context: "after an escaped quote", place: (s) => `{"v":"\\u0022${inJsonString(s)}\\u0022"}` },
  { context: "python repr", place: (s) => `{'value': '${s}', 'n': 1}` },
  { context: "YAML", place: (s) => `config:\n  value: ${s}\n  n: 1` },
  { context: "YAML double-quoted", place: (s) => `value: "${inJsonString(s)}"` },
  { context: "TOML", place: (s) => `value = "${inJsonString(s)}"` },
  { context: ".env", place: (s) => `MY_VALUE=${s}\nOTHER=1` },
  { context: ".env double-quoted", place: (s) => `MY_VALUE="${s}"` },
  { context: "shell export", place: (s) => `export MY_VALUE='${s}'` },
  { context: "docker -e", place: (s) => `docker run -e MY_VALUE=${s} acme/bot:1` },
  { context: "after a colon", place: (s) => `value:${s}` },
  { context: "after an equals sign", place: (s) => `v=${s}&w=2` },
  { context: "after an at sign", place: (s) => `@${s}` },
  { context: "after an underscore", place: (s) => `ID_${s}` },
  { context: "semicolon list", place: (s) => `a=1;b=${s};c=3` },
  { context: "CRLF lines", place: (s) => `line\r\n${s}\r\nnext` },
  { context: "tab separated", place: (s) => `a\t${s}\tb` },
  { context: "log line", place: (s) => `2025-01-01T00:00:00.000Z INFO [github] using ${s} now` },
  {
    context: "stack trace",
    place: (s) => `Error: request failed with ${s}\n    at fetch (node:internal/deps/undici:1:1)`,
  },
  { context: "XML element", place: (s) => `<value>${s}</value>` },
  { context: "HTML attribute", place: (s) => `<div data-value="${s}"></div>` },
  { context: "HTML entities", place: (s) => `&quot;${s}&quot;` },
  { context: "Ruby hash", place: (s) => `{ :value => '${s}' }` },
  { context: "header line", place: (s) => `X-Custom-Header: ${s}` },
  { context: "Authorization header", place: (s) => `Authorization: Bearer ${s}` },
  {
    context: "curl command",
    place: (s) => `curl -H "Authorization: token ${s}" https://api.github.com/user`,
  },
  { context: "token remote", place: (s) => `https://${s}@github.com/acme/widgets.git` },
  { context: "oauth2 remote", place: (s) => `https://oauth2:${s}@gitlab.com/acme/widgets.git` },
  {
    context: "x-access-token remote",
    place: (s) => `git push https://x-access-token:${s}@github.com/acme/widgets.git`,
  },
  { context: "raw query string", place: (s) => `https://example.com/cb?state=${s}&x=1` },
  {
    context: "percent-encoded query",
    place: (s) => `https://example.com/cb?state=${encodeURIComponent(s)}&x=1`,
    percentEncoded: true,
  },
  {
    context: "percent-encoded JSON",
    place: (s) => `/cb?data=${encodeURIComponent(JSON.stringify({ v: s }))}`,
    percentEncoded: true,
  },
];

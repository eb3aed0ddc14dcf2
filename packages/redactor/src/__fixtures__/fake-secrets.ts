// Fake credentials in the exact shapes of real ones. They are built at run
// time from repeated fragments so that no literal token sits in the sources
// (secret scanners would flag it) and none of them is a live credential.

const BASE62 = "A1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvWxYz";

/** `length` characters cycling through `alphabet`, starting at `offset`. */
export function body(length: number, alphabet = BASE62, offset = 0): string {
  let text = "";
  for (let index = 0; index < length; index++) {
    text += alphabet[(index + offset) % alphabet.length];
  }
  return text;
}

const UPPER_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE64URL = `${BASE62}-_`;
const BASE64 = `${BASE62}+/`;
const HEX = "0123456789abcdef";

/** Base64url of a JSON value, as a JWT segment. */
const segment = (value: unknown): string =>
  Buffer.from(JSON.stringify(value)).toString("base64url");

/** A PEM block of `kind` ("RSA PRIVATE KEY"…) with `lines` lines of 64 base64 characters. */
export function pemBlock(kind: string, lines: number, separator = "\n", offset = 0): string {
  const bodyLines = Array.from({ length: lines }, (_, index) =>
    body(index === lines - 1 ? 44 : 64, BASE64, offset + index * 7),
  );
  return [`-----BEGIN ${kind}-----`, ...bodyLines, `-----END ${kind}-----`].join(separator);
}

/**
 * GitHub's stateless installation token: `ghs_<app id>_<JWT>`, about 520
 * characters with two dots, its signature in base64url (so `-` and `_`).
 */
function statelessInstallationToken(appId: number, offset: number): string {
  const header = segment({ alg: "RS256", typ: "JWT" });
  const payload = segment({
    iss: String(appId),
    iat: 1_767_225_600,
    exp: 1_767_229_200,
    installation_id: 81_234_567 + offset,
    repository_ids: [101, 202, 303],
    permissions: { issues: "write", contents: "read" },
  });
  return `ghs_${appId}_${header}.${payload}.${body(342, BASE64URL, offset)}`;
}

export const fake = {
  githubClassic: `ghp_${body(36)}`,
  githubFineGrained: `github_pat_${body(22)}_${body(59, BASE62, 7)}`,
  githubOauth: `gho_${body(36, BASE62, 3)}`,
  githubApp: `ghs_${body(36, BASE62, 5)}`,
  githubAppStateless: statelessInstallationToken(1_234_567, 0),
  githubUser: `ghu_${body(36, BASE62, 9)}`,
  githubRefresh: `ghr_${body(36, BASE62, 11)}`,
  githubAppLegacy: `v1.${body(40, HEX, 3)}`,
  awsKeyId: `AKIA${body(16, UPPER_BASE32)}`,
  awsTemporaryKeyId: `ASIA${body(16, UPPER_BASE32, 4)}`,
  awsSecret: body(40, `${BASE62}/+`, 2),
  slackBot: `xoxb-${body(12, "0123456789")}-${body(13, "0123456789")}-${body(24)}`,
  slackUser: `xoxp-${body(12, "0123456789")}-${body(12, "0123456789")}-${body(32)}`,
  slackApp: `xapp-1-A${body(10, "0123456789")}-${body(13, "0123456789")}-${body(64, "abcdef0123456789")}`,
  slackWebhook: `https://hooks.slack.com/services/T${body(8, UPPER_BASE32)}/B${body(10, UPPER_BASE32)}/${body(24)}`,
  stripeLive: `sk_live_${body(24)}`,
  stripeRestricted: `rk_test_${body(24, BASE62, 1)}`,
  stripeWebhook: `whsec_${body(32)}`,
  npm: `npm_${body(36, BASE62, 13)}`,
  openaiProject: `sk-proj-${body(48, BASE64URL)}T3BlbkFJ${body(48, BASE64URL, 5)}`,
  openaiLegacy: `sk-${body(20)}T3BlbkFJ${body(20, BASE62, 3)}`,
  openaiServiceAccount: `sk-svcacct-${body(60, BASE64URL)}`,
  anthropic: `sk-ant-api03-${body(93, BASE64URL)}AA`,
  google: `AIza${body(35, BASE64URL)}`,
  googleOauth: `ya29.a0${body(120, BASE64URL, 6)}`,
  gitlab: `glpat-${body(20, BASE64URL, 2)}`,
  huggingFace: `hf_${body(34, "AbCdEfGhIjKlMnOpQrStUvWxYz", 1)}`,
  sendgrid: `SG.${body(22, BASE64URL, 4)}.${body(43, BASE64URL, 8)}`,
  digitalOcean: `dop_v1_${body(64, HEX, 5)}`,
  shopify: `shpat_${body(32, HEX, 7)}`,
  pypi: `pypi-AgEIcHlwaS5vcmc${body(70, BASE64URL, 9)}`,
  jwt: `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFkYSJ9.${body(43, BASE64URL)}`,
  pem: [
    "-----BEGIN RSA PRIVATE KEY-----",
    body(64, `${BASE62}+/`),
    body(64, `${BASE62}+/`, 9),
    "-----END RSA PRIVATE KEY-----",
  ].join("\n"),
  basicCredential: Buffer.from("deploy:correct-horse-battery").toString("base64"),
  opaqueBearer: `${body(28)}.${body(12, BASE62, 4)}`,
} as const;

/** Fake secrets that need a key name or scheme next to them to be recognised. */
const CONTEXT_ONLY = new Set<string>([fake.awsSecret, fake.basicCredential, fake.opaqueBearer]);

/** Every fake secret recognisable on its own, which must never survive redaction. */
export const everyFakeSecret: readonly string[] = Object.values(fake).filter(
  (secret) => !CONTEXT_ONLY.has(secret),
);

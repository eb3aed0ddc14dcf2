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

export const fake = {
  githubClassic: `ghp_${body(36)}`,
  githubFineGrained: `github_pat_${body(22)}_${body(59, BASE62, 7)}`,
  githubOauth: `gho_${body(36, BASE62, 3)}`,
  githubApp: `ghs_${body(36, BASE62, 5)}`,
  githubUser: `ghu_${body(36, BASE62, 9)}`,
  githubRefresh: `ghr_${body(36, BASE62, 11)}`,
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

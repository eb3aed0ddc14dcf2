import {
  type Anchor,
  anyCase,
  assignment,
  type KeySpelling,
  keyName,
  lineValue,
  longestSpelling,
  notAfter,
  QUOTE,
  schemeCredential,
  signAnchors,
} from "./pattern-syntax.js";

/**
 * One kind of secret the redactor recognises: its placeholder name and the
 * pattern that finds it.
 */
export interface SecretPattern {
  /** Placeholder name: a match becomes `[REDACTED:<name>]`. */
  readonly name: string;
  /**
   * A global regular expression. When it has a named group `secret`, only that
   * group is replaced and the rest of the match (a key name, `Bearer `) stays.
   */
  readonly pattern: RegExp;
  /** What the pattern finds, for documentation and error messages. */
  readonly description: string;
}

/** @internal How a built-in pattern is written, and where the prefilter looks for it. */
export interface PatternSource {
  readonly name: string;
  readonly description: string;
  readonly source: string;
  /** Characters every match holds near its start; see {@link Anchor}. */
  readonly anchors: readonly Anchor[];
  /**
   * The part of a match before its `secret` group may hold another secret
   * (the user name of `https://user:password@host`), so it is redacted too.
   */
  readonly redactsPrefix?: boolean;
}

/**
 * The first letters of the prefixes `glpat-`, `v1.`, `xoxb-`, `ya29.` and
 * `pypi-`, checked as one class: what follows each (`l(?:pat|…)-`, `1\.`,
 * `ox…`) tells them apart in a few characters, and one alternative less makes
 * the prefilter scan faster.
 */
const LETTERS = "gvxy";

/** Characters of base64url, which JWTs and many token bodies are written in. */
const BASE64URL = "[A-Za-z0-9_-]";
/**
 * The anchor every token family with a `_` in its prefix shares: one
 * lookbehind, written as a tree of the prefixes, tells them all apart.
 */
const UNDERSCORE: readonly Anchor[] = [
  {
    at: "_",
    check: "(?<=(?:g(?:h[pousr]|ithub)|whsec|shp(?:at|ss|ca|pa)|npm|[sr]k|hf|do[opr])_)",
    back: "github_".length - 1,
  },
];

/** A token that starts with `prefix` right after a non-alphanumeric, with a body of `body`. */
const prefixed = (prefix: string, body: string): string =>
  `${notAfter("A-Za-z0-9", prefix)}${body}`;

/** GitHub's token families: classic and stateless bodies, so `_`, `.` and `-` too. */
const GITHUB_BODY = "[A-Za-z0-9._-]{36,}(?<!\\.)";

/** A JWT after its header: `.eyJ` payload, `.` and an optional signature. */
const JWT_AFTER_HEADER = `\\.eyJ${BASE64URL}{4,}\\.${BASE64URL}*`;

const AWS_SECRET: KeySpelling[] = [
  ["aws", "secret", "access", "key"],
  ["secret", "access", "key"],
  ["aws", "secret", "key"],
];
const AZURE: KeySpelling[] = [
  ["account", "key"],
  ["shared", "access", "key"],
];
const API_KEY: KeySpelling[] = [
  ["api", "key"],
  ["subscription", "key"],
];
const PASSWORD: KeySpelling[] = [["password"], ["passwd"], ["passphrase"]];
const SECRET: KeySpelling[] = [
  ["secret"],
  ["secret", "key"],
  ["private", "key"],
  ["signing", "key"],
  ["encryption", "key"],
];

const KEY_SPELLINGS: readonly KeySpelling[] = [
  ["authorization"],
  ["cookie"],
  ["_auth"],
  ...AWS_SECRET,
  ...AZURE,
  ...API_KEY,
  ...PASSWORD,
  ...SECRET,
  ["token"],
];

/**
 * One set of anchors for every key-value pattern: the sign after any of their
 * key names. Shared, so the prefilter checks each `:` and `=` once.
 */
const SIGN_ANCHORS = signAnchors(
  KEY_SPELLINGS.map((words) => words[words.length - 1]!.replace("_", "")),
  longestSpelling(KEY_SPELLINGS),
);

const keyValue = (
  name: string,
  description: string,
  spellings: readonly KeySpelling[],
): PatternSource => ({
  name,
  description,
  source: assignment(keyName(...spellings)),
  anchors: SIGN_ANCHORS,
});

/** The user part of URL userinfo: no `/`, `:`, blanks, quotes or brackets (so no placeholder). */
const URL_USER = "[^\\s/?#:\"'<>\\[\\]\\\\]*";
/** Password characters before any `@`; `://` never, so a failed attempt stops at the next URL. */
const URL_PASSWORD_HEAD = "(?:[^@\\s\"'<>\\\\:]|:(?!//))+";
/** What follows an `@` inside the password, up to the next `@`: no `/`. */
const URL_PASSWORD_TAIL = "(?:@[^@/\\s\"'<>\\\\]*)*";
/** The host after the last `@` of the userinfo, up to where the authority ends. */
const URL_HOST_AHEAD = "(?=@[^@/?#\\s\"'<>\\\\]*(?:[/?#\\s\"'<>\\\\]|$))";
/** A percent-encoded character other than `:`, `/` and `@`. */
const ENCODED_OTHER = "%(?!3[Aa]|2[Ff]|40)[0-9A-Fa-f]{2}";
/** The same parts percent-encoded, as in `?next=https%3A%2F%2Fuser%3Apass%40host`. */
const ENCODED_USER = `(?:[A-Za-z0-9._~!$'()*+,;=-]|${ENCODED_OTHER})*`;
const ENCODED_PASSWORD = `(?:[^%\\s"'<>\\\\&]|%(?!3[Aa]%2[Ff]%2[Ff])[0-9A-Fa-f]{2})+`;
const ENCODED_HOST_AHEAD = `(?=%40(?:[A-Za-z0-9._~-]|%3[Aa]|${ENCODED_OTHER})*(?:%2[Ff]|%3[Ff]|%23|[&\\s"'<>\\\\]|$))`;

/**
 * The built-in patterns, most specific first. At one position of the input
 * the first pattern that matches wins; a context pattern (`token=…`) whose
 * value holds a more specific secret keeps that secret's own placeholder.
 */
const SOURCES: readonly PatternSource[] = [
  {
    name: "private-key",
    description:
      "PEM private key blocks (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted, PGP), BEGIN to END in any quoting",
    source:
      "-----BEGIN(?:[ A-Z0-9]|%20){0,40}PRIVATE(?: |%20)KEY(?:(?: |%20)BLOCK)?-----(?:[^-]|-(?!----))*" +
      "(?:-----END(?:[ A-Z0-9]|%20){0,40}PRIVATE(?: |%20)KEY(?:(?: |%20)BLOCK)?-----)?",
    anchors: [{ at: "B", check: "EGIN(?<=-----BEGIN)", back: 5 }],
  },
  {
    name: "jwt",
    description: "JSON Web Tokens (`eyJ…` header and payload, optional signature)",
    // After `_` or `-` (a prefix such as `ghs_<id>_`), the header stops at the
    // next `_` or `-` and at 256 characters, so that a run of `x_eyJ` repeats
    // cannot make every attempt rescan the run.
    source:
      `${notAfter("A-Za-z0-9_-", "eyJ")}${BASE64URL}{4,}${JWT_AFTER_HEADER}` +
      `|eyJ(?<=[_-]eyJ)[A-Za-z0-9]{4,256}${JWT_AFTER_HEADER}`,
    anchors: [{ at: "J", check: "(?<=eyJ)", back: 2 }],
  },
  {
    name: "github-pat",
    description: "GitHub personal access tokens: classic `ghp_` and fine-grained `github_pat_`",
    source: `${prefixed("github_pat_", "[A-Za-z0-9_]{82,}")}|${prefixed("ghp_", GITHUB_BODY)}`,
    anchors: UNDERSCORE,
  },
  {
    name: "github-oauth",
    description: "GitHub OAuth app access tokens (`gho_`)",
    source: prefixed("gho_", GITHUB_BODY),
    anchors: UNDERSCORE,
  },
  {
    name: "github-app",
    description:
      "GitHub App installation tokens (`ghs_`), Actions' GITHUB_TOKEN, including the stateless `ghs_<app id>_<JWT>` form",
    source: prefixed("ghs_", GITHUB_BODY),
    anchors: UNDERSCORE,
  },
  {
    name: "github-user",
    description: "GitHub App user-to-server tokens (`ghu_`)",
    source: prefixed("ghu_", GITHUB_BODY),
    anchors: UNDERSCORE,
  },
  {
    name: "github-refresh",
    description: "GitHub refresh tokens (`ghr_`)",
    source: prefixed("ghr_", GITHUB_BODY),
    anchors: UNDERSCORE,
  },
  {
    name: "github-app-legacy",
    description: "Legacy GitHub App installation tokens (`v1.` and 40 hex digits)",
    source: prefixed("v1\\.", "[0-9a-f]{40}(?![A-Za-z0-9])"),
    anchors: [{ at: LETTERS, check: "1\\.[0-9a-f]", back: 0 }],
  },
  {
    name: "aws-key",
    description: "AWS access key ids (AKIA, ASIA, ABIA, ACCA, A3T… and the other IAM prefixes)",
    source: prefixed(
      "A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA",
      "[A-Z0-9]{16}(?![A-Za-z0-9])",
    ),
    anchors: [
      { at: "A", check: "(?:3T[A-Z0-9]|KIA|SIA|BIA|CCA|GPA|IDA|IPA|NPA|NVA|PKA|ROA)", back: 0 },
    ],
  },
  {
    name: "slack-webhook",
    description: "Slack incoming webhook URLs (the path after the host), also percent-encoded",
    source:
      "https?(?:://|%3[Aa]%2[Ff]%2[Ff])hooks\\.slack\\.com(?:/|%2[Ff])" +
      "(?<secret>(?:services|workflows|triggers)(?:[A-Za-z0-9_/+-]|%2[Ff]){16,})",
    anchors: [
      { at: ":", check: "//hooks\\.slack\\.com/", back: 5 },
      { at: "%", check: "3[Aa]%2[Ff]%2[Ff]hooks\\.slack\\.com", back: 5 },
    ],
  },
  {
    name: "slack-token",
    description: "Slack bot, user, app, config and refresh tokens (`xoxb-`, `xoxp-`, `xapp-`…)",
    source: prefixed("xoxe\\.xox[abceoprs]|xox[abceoprs]|xapp", "-[A-Za-z0-9-]{10,}"),
    anchors: [{ at: LETTERS, check: "ox[a-z][-.]|app-", back: 0 }],
  },
  {
    name: "stripe-key",
    description: "Stripe secret and restricted keys (`sk_live_`, `rk_test_`…) and webhook secrets",
    source:
      `${prefixed("[sr]k_(?:live|test|prod)_", "[A-Za-z0-9]{16,}")}` +
      `|${prefixed("whsec_", "[A-Za-z0-9+/]{24,}")}`,
    anchors: UNDERSCORE,
  },
  {
    name: "npm-token",
    description: "npm access tokens (`npm_`)",
    source: prefixed("npm_", "[A-Za-z0-9]{36,}"),
    anchors: UNDERSCORE,
  },
  {
    name: "anthropic-key",
    description: "Anthropic API and admin keys (`sk-ant-`)",
    source: prefixed("sk-ant-", `${BASE64URL}{32,}`),
    anchors: [{ at: "k", check: "-ant-(?<=sk-ant-)", back: 1 }],
  },
  {
    name: "openai-key",
    description: "OpenAI API keys: project, service-account, admin and legacy `sk-`",
    source: prefixed(
      "sk-",
      `(?:(?:proj|svcacct|admin|None)-${BASE64URL}{20,}|[A-Za-z0-9]{32,}(?![A-Za-z0-9_-]))`,
    ),
    anchors: [{ at: "k", check: "-(?<=sk-)", back: 1 }],
  },
  {
    name: "google-api-key",
    description: "Google API keys (`AIza` + 35 characters)",
    source: prefixed("AIza", `${BASE64URL}{35}(?![A-Za-z0-9_-])`),
    anchors: [{ at: "A", check: "Iza", back: 0 }],
  },
  {
    name: "google-oauth",
    description: "Google OAuth access tokens (`ya29.`)",
    source: prefixed("ya29\\.", "[A-Za-z0-9._-]{20,}(?<!\\.)"),
    anchors: [{ at: LETTERS, check: "a29\\.", back: 0 }],
  },
  {
    name: "gitlab-token",
    description:
      "GitLab personal, deploy, runner, CI, trigger, feed, mail, agent and OAuth tokens (`glpat-`…)",
    source: prefixed(
      "gl(?:pat|dt|rt|ptt|cbt|ft|imt|soat|oas|agent|wt|ffct)-",
      "[A-Za-z0-9._-]{20,}(?<!\\.)",
    ),
    anchors: [
      { at: LETTERS, check: "l(?:pat|dt|rt|ptt|cbt|ft|imt|soat|oas|agent|wt|ffct)-", back: 0 },
    ],
  },
  {
    name: "huggingface-token",
    description: "Hugging Face access tokens (`hf_`)",
    source: prefixed("hf_", "[A-Za-z0-9]{34,}"),
    anchors: UNDERSCORE,
  },
  {
    name: "sendgrid-key",
    description: "SendGrid API keys (`SG.` and two base64url parts)",
    source: prefixed("SG\\.", `${BASE64URL}{22}\\.${BASE64URL}{43}(?![A-Za-z0-9_-])`),
    anchors: [{ at: "G", check: "\\.(?<=SG\\.)", back: 1 }],
  },
  {
    name: "digitalocean-token",
    description:
      "DigitalOcean personal, OAuth and refresh tokens (`dop_v1_`, `doo_v1_`, `dor_v1_`)",
    source: prefixed("do[opr]_v1_", "[a-f0-9]{64}(?![A-Za-z0-9])"),
    anchors: UNDERSCORE,
  },
  {
    name: "shopify-token",
    description:
      "Shopify access tokens and shared secrets (`shpat_`, `shpss_`, `shpca_`, `shppa_`)",
    source: prefixed("shp(?:at|ss|ca|pa)_", "[a-fA-F0-9]{32}(?![A-Za-z0-9])"),
    anchors: UNDERSCORE,
  },
  {
    name: "pypi-token",
    description: "PyPI upload tokens (`pypi-AgEIcHlwaS5vcmc…`)",
    source: prefixed("pypi-AgEIcHlwaS5vcmc", `${BASE64URL}{50,}`),
    anchors: [{ at: LETTERS, check: "pi-AgEI(?<=pypi-AgEI)", back: 1 }],
  },
  {
    name: "url-password",
    description:
      "Passwords in URL userinfo (`scheme://user:password@host`), of any length, `@` and `/` included, also percent-encoded",
    // The user name is redacted on its own (it may be a token). A port is no
    // password: `host:8080/@scope` stays.
    source:
      `(?:://${URL_USER}:(?![0-9]{1,5}(?:[/?#\\s"'<>\\\\]|$))|%3[Aa]%2[Ff]%2[Ff]${ENCODED_USER}%3[Aa])` +
      `(?<secret>(?<=:)${URL_PASSWORD_HEAD}${URL_PASSWORD_TAIL}${URL_HOST_AHEAD}` +
      `|(?<=%3[Aa])${ENCODED_PASSWORD}${ENCODED_HOST_AHEAD})`,
    anchors: [
      { at: ":", check: "//", back: 0 },
      { at: "%", check: "3[Aa]%2[Ff]%2[Ff]", back: 0 },
    ],
    redactsPrefix: true,
  },
  {
    name: "url-param",
    description:
      "URL query parameters that carry credentials beyond the key names below (`sig`, `signature`, `key`, `auth`, `jwt`, `session`, `X-Amz-Signature`…), also percent-encoded inside another URL",
    source:
      `(?:[?&]|%3[Ff]|%26)(?:${anyCase("x-amz-")}(?:${anyCase("signature")}|${anyCase("credential")}|${anyCase("security-token")})` +
      `|${anyCase("x-goog-")}(?:${anyCase("signature")}|${anyCase("credential")})` +
      `|${anyCase("signature")}|${anyCase("sig")}|${anyCase("key")}|${anyCase("auth")}|${anyCase("jwt")}` +
      `|${anyCase("session")}(?:_?${anyCase("id")})?)(?:=|%3[Dd])(?<secret>[^&#\\s"'<>\\\\]+)`,
    anchors: [
      { at: "?&", check: "[XxSsKkAaJj]", back: 0 },
      { at: "%", check: "3[Ff][XxSsKkAaJj]|26[XxSsKkAaJj]", back: 0 },
    ],
  },
  {
    name: "bearer",
    description: "`Bearer` credentials",
    source: schemeCredential("bearer", "A-Za-z0-9._~+/\\-", 1),
    anchors: [
      { at: "B", check: "(?:earer|EARER)(?:[ \\t]|%20)", back: 0 },
      { at: "b", check: "earer(?:[ \\t]|%20)", back: 0 },
    ],
  },
  {
    name: "basic-auth",
    description: "`Basic` credentials (base64 of user:password)",
    source: schemeCredential("basic", "A-Za-z0-9+/", 8),
    anchors: [
      { at: "B", check: "(?:asic|ASIC)(?:[ \\t]|%20)", back: 0 },
      { at: "b", check: "asic(?:[ \\t]|%20)", back: 0 },
    ],
  },
  {
    name: "authorization",
    description: "`Authorization` / `Proxy-Authorization` header values in text",
    source: assignment(keyName(["authorization"]), lineValue(), true),
    anchors: SIGN_ANCHORS,
  },
  {
    name: "cookie",
    description: "`Cookie` / `Set-Cookie` header values in text (`name=value` pairs)",
    source: assignment(keyName(["cookie"]), lineValue(true)),
    anchors: SIGN_ANCHORS,
  },
  {
    name: "auth",
    description:
      "npm `_auth` and Docker `auth` values (base64 of user:password; base64url and JWTs too)",
    source: assignment(
      `(?:${notAfter("A-Za-z0-9", "_auth|_AUTH")}|(?<=["'\`]|%2[27])auth(?=${QUOTE}))`,
      // A lowercase word followed by punctuation (`required`, `config.enabled`) is a setting, not a credential.
      "(?<secret>(?![a-z]*(?:[^A-Za-z0-9+/=%]|$))(?:[A-Za-z0-9+/._-]|%2[BbFf]){8,}(?:=|%3[Dd]){0,2})",
    ),
    anchors: SIGN_ANCHORS,
  },
  keyValue(
    "aws-secret",
    "AWS secret access keys next to their key name (`aws_secret_access_key=`…)",
    AWS_SECRET,
  ),
  keyValue(
    "azure-key",
    "Azure storage `AccountKey=` and Service Bus / Event Hubs `SharedAccessKey=` values",
    AZURE,
  ),
  keyValue(
    "api-key",
    "Values of `api_key`, `apiKey`, `X-Api-Key`, `subscription-key`… assignments",
    API_KEY,
  ),
  keyValue(
    "password",
    "Values of `password`, `passwd`, `passphrase` assignments (`DB_PASSWORD=`…)",
    PASSWORD,
  ),
  keyValue(
    "secret",
    "Values of `secret`, `client_secret`, `private_key`, `signing_key`… assignments",
    SECRET,
  ),
  keyValue(
    "token",
    "Values of `token`, `access_token`, `GITHUB_TOKEN`, `X-Auth-Token`… assignments",
    [["token"]],
  ),
];

/** @internal The sources, for the engine that combines them into one expression. */
export const BUILT_IN_SOURCES = SOURCES;

/**
 * The built-in patterns in the order they are tried, for documentation,
 * tests and `disabledPatterns`. Each `pattern` is a fresh global RegExp; the
 * redactor never uses these instances, so calling `exec` on them is harmless.
 *
 * @example
 * ```ts
 * for (const { name, description } of BUILT_IN_SECRET_PATTERNS) console.log(name, description);
 * ```
 */
export const BUILT_IN_SECRET_PATTERNS: readonly SecretPattern[] = Object.freeze(
  SOURCES.map(({ name, description, source }) =>
    Object.freeze({ name, description, pattern: new RegExp(source, "g") }),
  ),
);

/** The placeholder that replaces a secret found by the pattern called `name`. */
export function placeholder(name: string): string {
  return `[REDACTED:${name}]`;
}

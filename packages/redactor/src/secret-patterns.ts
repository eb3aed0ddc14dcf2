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

/*
 * Rules every built-in pattern follows, so that redaction stays linear in the
 * length of the input whatever the input is:
 *
 * - It starts with a literal (a token prefix, a key name, `://`) or with a
 *   lookbehind that only lets a match start at the beginning of a run of
 *   token characters. Two attempts therefore never rescan the same run.
 * - Repetitions are either bounded by a small constant or range over a
 *   character class that the next element of the pattern cannot match, so a
 *   failed attempt gives back at most one run.
 * - The `secret` group, when present, ends the match (what must follow it is
 *   a lookahead), so the replacement is `match.slice(0, -secret.length)`.
 *
 * The ReDoS tests in `redaction-linearity.test.ts` hold each pattern to this.
 */

/** A literal made of letters, digits, `-` and `_`, in any letter case: `[Kk][Ee][Yy]`. */
function anyCase(word: string): string {
  let source = "";
  for (const character of word) {
    const lower = character.toLowerCase();
    const upper = character.toUpperCase();
    source += lower === upper ? character : `[${lower}${upper}]`;
  }
  return source;
}

/**
 * `literal` where it does not directly follow one of `preceding` (a character
 * class body). The lookbehind comes after the literal, not before it, so the
 * regular expression engine can still skip ahead to the literal's first
 * characters instead of testing the lookbehind at every position.
 */
const notAfter = (preceding: string, literal: string): string =>
  `(?:${literal})(?<![${preceding}](?:${literal}))`;

const capitalize = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);

/**
 * A key name made of `words`, in the spellings found in code, config and HTTP:
 * `api_key`, `api-key`, `apikey`, `API_KEY`, `apiKey`, `ApiKey`, `Api-Key`.
 * The name may follow a non-letter (`GITHUB_TOKEN`, `x-api-key`, `?token`) or,
 * capitalised, a lowercase letter (`accessToken`, `dbPassword`), but never sits
 * inside a longer lowercase word (`mytoken`, `tokens`).
 */
function keyName(...spellings: string[][]): string {
  const separator = "[_.-]?";
  const alternatives: string[] = [];
  for (const words of spellings) {
    const lower = words.join(separator);
    const upper = words.map((word) => word.toUpperCase()).join(separator);
    const capitalized = words.map(capitalize).join(separator);
    const camel = words.length > 1 ? words[0] + words.slice(1).map(capitalize).join("") : "";
    alternatives.push(notAfter("A-Za-z", `${lower}|${upper}${camel ? `|${camel}` : ""}`));
    alternatives.push(notAfter("A-Z", capitalized));
  }
  return `(?:${alternatives.join("|")})`;
}

/**
 * A quote around a key or value: plain, backslash-escaped (JSON inside a
 * JSON string) or percent-encoded (JSON inside a URL).
 */
const QUOTE = "(?:\\\\?[\"'`]|%2[27])";
/** What may sit between a key name and the assignment: a closing quote, blanks. */
const AFTER_KEY = `${QUOTE}?[ \\t]{0,16}`;
/** The assignment sign: `=`, `:`, `=>`, `:=`, and `%3D`, `%3A` percent-encoded. */
const SIGN = ":=|=>|[:=]|%3[DdAa]";
/** Blanks and an opening quote between the sign and the value. */
const AFTER_SIGN = `[ \\t]{0,16}${QUOTE}?`;

/**
 * A value after the assignment sign: up to the closing quote when quoted (so a
 * password with spaces goes whole), else up to whitespace or `& , ;`.
 */
const VALUE =
  '(?<secret>(?<=")(?:[^"\\\\\\r\\n]|\\\\[^"\\r\\n])+' +
  "|(?<=')[^'\\\\\\r\\n]+" +
  "|(?<=`)[^`\\\\\\r\\n]+" +
  "|(?<![\"'`])[^\\s\"'`\\\\&,;][^\\s\"'`\\\\&,;]*)";

/** A header value: like {@link VALUE} but unquoted it runs to the end of the line. */
const LINE_VALUE =
  '(?<secret>(?<=")(?:[^"\\\\\\r\\n]|\\\\[^"\\r\\n])+' +
  "|(?<=')[^'\\\\\\r\\n]+" +
  "|(?<=`)[^`\\\\\\r\\n]+" +
  "|(?<![\"'`])[^\\s\"'`\\\\](?:[^\\r\\n\"'`\\\\]*[^\\s\"'`\\\\])?)";

/** `key = value`, with the secret group on the value. */
const assignment = (key: string, value = VALUE): string =>
  `${key}${AFTER_KEY}(?:${SIGN})${AFTER_SIGN}${value}`;

/**
 * A scheme word followed by a credential: not an ordinary word (`Bearer
 * tokens`), and either holding a digit in its first 16 characters or at least
 * 16 characters long (`token_type=bearer expires_in=3600` is no credential).
 */
const schemeCredential = (scheme: string, characters: string, minimum: number): string =>
  `${notAfter("A-Za-z", `${scheme}|${capitalize(scheme)}|${scheme.toUpperCase()}`)}[ \\t]+` +
  `(?![A-Za-z][a-z]*(?![${characters}=]))(?=[${characters}]{0,15}[0-9]|[${characters}]{16})` +
  `(?<secret>[${characters}]{${minimum},}=*)`;

interface PatternSource {
  readonly name: string;
  readonly description: string;
  readonly source: string;
}

/**
 * The built-in patterns, most specific first. At one position of the input
 * the first pattern that matches wins; a context pattern (`token=…`) whose
 * value holds a more specific secret keeps that secret's own placeholder.
 */
const SOURCES: readonly PatternSource[] = [
  {
    name: "private-key",
    description: "PEM private key blocks (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted, PGP)",
    source:
      "-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----(?:[^-]|-(?!----))*" +
      "(?:-----END[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----)?",
  },
  {
    name: "jwt",
    description: "JSON Web Tokens (`eyJ…` header and payload, optional signature)",
    source: `${notAfter("A-Za-z0-9_-", "eyJ")}[A-Za-z0-9_-]{4,}\\.eyJ[A-Za-z0-9_-]{4,}\\.[A-Za-z0-9_-]*`,
  },
  {
    name: "github-pat",
    description: "GitHub personal access tokens: classic `ghp_` and fine-grained `github_pat_`",
    source: `${notAfter("A-Za-z0-9_", "github_pat_")}[A-Za-z0-9_]{82,}|${notAfter("A-Za-z0-9_", "ghp_")}[A-Za-z0-9]{36,}`,
  },
  {
    name: "github-oauth",
    description: "GitHub OAuth app access tokens (`gho_`)",
    source: `${notAfter("A-Za-z0-9_", "gho_")}[A-Za-z0-9]{36,}`,
  },
  {
    name: "github-app",
    description: "GitHub App installation tokens (`ghs_`), including Actions' GITHUB_TOKEN",
    source: `${notAfter("A-Za-z0-9_", "ghs_")}[A-Za-z0-9]{36,}`,
  },
  {
    name: "github-user",
    description: "GitHub App user-to-server tokens (`ghu_`)",
    source: `${notAfter("A-Za-z0-9_", "ghu_")}[A-Za-z0-9]{36,}`,
  },
  {
    name: "github-refresh",
    description: "GitHub refresh tokens (`ghr_`)",
    source: `${notAfter("A-Za-z0-9_", "ghr_")}[A-Za-z0-9]{36,}`,
  },
  {
    name: "aws-key",
    description: "AWS access key ids (AKIA, ASIA, ABIA, ACCA, A3T… and the other IAM prefixes)",
    source:
      `${notAfter("A-Za-z0-9", "A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA")}` +
      "[A-Z0-9]{16}(?![A-Za-z0-9])",
  },
  {
    name: "slack-webhook",
    description: "Slack incoming webhook URLs (the path after the host)",
    source:
      "https?://hooks\\.slack\\.com/(?<secret>(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{16,})",
  },
  {
    name: "slack-token",
    description: "Slack bot, user, app, config and refresh tokens (`xoxb-`, `xoxp-`, `xapp-`…)",
    source: `${notAfter("A-Za-z0-9.", "xoxe\\.xox[abceoprs]|xox[abceoprs]|xapp")}-[A-Za-z0-9-]{10,}`,
  },
  {
    name: "stripe-key",
    description: "Stripe secret and restricted keys (`sk_live_`, `rk_test_`…) and webhook secrets",
    source:
      `${notAfter("A-Za-z0-9_", "[sr]k_(?:live|test|prod)_")}[A-Za-z0-9]{16,}` +
      `|${notAfter("A-Za-z0-9_", "whsec_")}[A-Za-z0-9+/]{24,}`,
  },
  {
    name: "npm-token",
    description: "npm access tokens (`npm_`)",
    source: `${notAfter("A-Za-z0-9_", "npm_")}[A-Za-z0-9]{36,}`,
  },
  {
    name: "anthropic-key",
    description: "Anthropic API and admin keys (`sk-ant-`)",
    source: `${notAfter("A-Za-z0-9_-", "sk-ant-")}[A-Za-z0-9_-]{32,}`,
  },
  {
    name: "openai-key",
    description: "OpenAI API keys: project, service-account, admin and legacy `sk-`",
    source:
      `${notAfter("A-Za-z0-9_-", "sk-")}(?:(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}` +
      "|[A-Za-z0-9]{32,}(?![A-Za-z0-9_-]))",
  },
  {
    name: "google-api-key",
    description: "Google API keys (`AIza` + 35 characters)",
    source: `${notAfter("A-Za-z0-9_-", "AIza")}[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])`,
  },
  {
    name: "url-password",
    description: "Passwords in URL userinfo (`scheme://user:password@host`)",
    source: "://[^\\s/?#@:\"'<>]{0,256}:(?<secret>[^\\s/?#@\"'<>]{1,256})(?=@)",
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
  },
  {
    name: "bearer",
    description: "`Bearer` credentials",
    source: schemeCredential("bearer", "A-Za-z0-9._~+/-", 1),
  },
  {
    name: "basic-auth",
    description: "`Basic` credentials (base64 of user:password)",
    source: schemeCredential("basic", "A-Za-z0-9+/", 8),
  },
  {
    name: "authorization",
    description: "`Authorization` / `Proxy-Authorization` header values in text",
    source: assignment(keyName(["authorization"]), LINE_VALUE),
  },
  {
    name: "cookie",
    description: "`Cookie` / `Set-Cookie` header values in text",
    source: assignment(keyName(["cookie"]), LINE_VALUE),
  },
  {
    name: "aws-secret",
    description: "AWS secret access keys next to their key name (`aws_secret_access_key=`…)",
    source: assignment(
      keyName(
        ["aws", "secret", "access", "key"],
        ["secret", "access", "key"],
        ["aws", "secret", "key"],
      ),
    ),
  },
  {
    name: "api-key",
    description: "Values of `api_key`, `apiKey`, `X-Api-Key`, `subscription-key`… assignments",
    source: assignment(keyName(["api", "key"], ["subscription", "key"])),
  },
  {
    name: "password",
    description: "Values of `password`, `passwd`, `passphrase` assignments (`DB_PASSWORD=`…)",
    source: assignment(keyName(["password"], ["passwd"], ["passphrase"])),
  },
  {
    name: "secret",
    description: "Values of `secret`, `client_secret`, `private_key`, `signing_key`… assignments",
    source: assignment(
      keyName(
        ["secret"],
        ["secret", "key"],
        ["private", "key"],
        ["signing", "key"],
        ["encryption", "key"],
      ),
    ),
  },
  {
    name: "token",
    description: "Values of `token`, `access_token`, `GITHUB_TOKEN`, `X-Auth-Token`… assignments",
    source: assignment(keyName(["token"])),
  },
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

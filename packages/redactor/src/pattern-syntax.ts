/*
 * The vocabulary the built-in patterns are written in. Every piece keeps the
 * rules that make redaction linear in the length of its input:
 *
 * - A pattern starts with a literal (a token prefix, a key name, `://`) or
 *   with a lookbehind that only lets a match start at a boundary, so a run of
 *   token characters is entered once, not once per character.
 * - A repetition either ranges over a class the next element cannot match, or
 *   can only fail after a bounded number of characters, so a failed attempt
 *   never rescans what another attempt will scan again.
 * - The `secret` group, when present, ends the match (what must follow it is
 *   a lookahead), so the replacement is `match.slice(0, -secret.length)`.
 *
 * The ReDoS tests (`redaction-linearity.test.ts`) hold every pattern to this.
 */

/** A literal made of letters, digits, `-` and `_`, in any letter case: `[Kk][Ee][Yy]`. */
export function anyCase(word: string): string {
  let source = "";
  for (const character of word) {
    const lower = character.toLowerCase();
    const upper = character.toUpperCase();
    source += lower === upper ? character : `[${lower}${upper}]`;
  }
  return source;
}

/**
 * What may stand right before a token without being part of it, although it
 * ends in a letter or digit: a backslash escape (`\n`, `\t` in JSON text), a
 * percent-encoding (`%3D`, `%22`) or a JSON `\u0022`. Each holds a `\` or `%`,
 * which no token body contains, so allowing them keeps runs apart.
 */
const ESCAPE_BEFORE = "\\\\|%[0-9A-Fa-f]|\\\\u[0-9A-Fa-f]{3}";

/**
 * `literal` where it does not directly follow one of `preceding` (a character
 * class body), unless that character ends an escape or a percent-encoding.
 * The lookbehind comes after the literal, not before it, so the regular
 * expression engine can still skip ahead to the literal's first characters.
 */
export const notAfter = (preceding: string, literal: string): string =>
  `(?:${literal})(?<!(?<!${ESCAPE_BEFORE})[${preceding}](?:${literal}))`;

export const capitalize = (word: string): string => word.charAt(0).toUpperCase() + word.slice(1);

/** One way of naming a key: its words, `["api", "key"]`. */
export type KeySpelling = readonly string[];

/**
 * A key name made of `words`, in the spellings found in code, config and HTTP:
 * `api_key`, `api-key`, `apikey`, `API_KEY`, `apiKey`, `ApiKey`, `Api-Key`.
 * The name may follow a non-letter (`GITHUB_TOKEN`, `x-api-key`, `?token`) or,
 * capitalised, a lowercase letter (`accessToken`, `dbPassword`), but never sits
 * inside a longer lowercase word (`mytoken`, `tokens`).
 */
export function keyName(...spellings: readonly KeySpelling[]): string {
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
export const QUOTE = "(?:\\\\{0,7}[\"'`]|%2[27])";
/** The most characters a {@link QUOTE} takes (`\\\\\\\"`, JSON nested four deep). */
export const QUOTE_LENGTH = 8;
/** The most blanks between a key and its sign, and between the sign and its value. */
export const BLANKS = 16;
/** What may sit between a key name and the assignment: a closing quote, blanks. */
const AFTER_KEY = `${QUOTE}?[ \\t]{0,${BLANKS}}`;
/** Blanks and an opening quote between the sign and the value. */
const AFTER_SIGN = `[ \\t]{0,${BLANKS}}${QUOTE}?`;

/** Authentication schemes, which may open a value (`X-Auth-Token: Bearer …`). */
const SCHEMES =
  "(?:[Bb]earer|BEARER|[Bb]asic|BASIC|[Tt]oken|TOKEN|[Bb]ot|[Dd]igest|[Nn]egotiate|NTLM|[Aa]pikey|[Kk]ey|[Oo][Aa]uth|AWS4-HMAC-SHA256)";

/**
 * Prose after a colon (`password: must contain 12 characters`): an ordinary
 * word that is not a scheme, a blank, and another word (or what a word that
 * was a secret became).
 */
const PROSE = `[ \\t]{1,${BLANKS}}(?!${SCHEMES}[ \\t])[A-Za-z][a-z]{0,31}[ \\t]{1,${BLANKS}}(?:[A-Za-z]|\\[REDACTED:)`;

/**
 * The assignment sign: `=`, `:`, `=>`, `:=`, and `%3D`, `%3A` percent-encoded.
 * Comparisons (`==`, `===`) are no assignment, and a colon followed by prose
 * is a sentence, not a value, unless `prose` says the key takes any text
 * (an `Authorization:` header).
 */
const sign = (prose: boolean): string =>
  `:=|=>|=(?![=>~])|%3[Dd]|(?::(?!=)|%3[Aa])${prose ? "" : `(?!${PROSE})`}`;

/**
 * Unquoted values that are references or stand-ins rather than secrets: an
 * environment or template reference (`$TOKEN`, `${{ … }}`, `%TOKEN%`) and a
 * placeholder (`<your-token>`, `***`).
 */
const REFERENCE =
  "\\$\\{\\{|\\$\\{?[A-Z_][A-Z0-9_]{0,63}\\}?(?![\\w])|%[A-Z_][A-Z0-9_]{0,63}%|<[^<>\\s]{1,64}>|\\*{3,}|\\.\\.\\.|…";

/** An identifier in code, as long as identifiers are. */
const IDENTIFIER = "[A-Za-z_$][\\w$]{0,63}";
/** One made of letters only (`self`, `API_KEY`), which no token is. */
const WORD = "[A-Za-z_$][A-Za-z_$]{0,63}";

/**
 * Unquoted values that are code, after a blank as code is written (`token =
 * tokens[i]`, not `token=abc.def`): a call or an index (`getToken()`), a
 * property path (`self.token`, `settings.API_KEY`), a type (`string`,
 * `Token)`) or a keyword (`await`). Bounded, as real code is, so a megabyte
 * of `a.a.a…` costs one bounded look, not a rescan.
 */
const CODE =
  `(?<=[ \\t])(?:${IDENTIFIER}(?:\\.${IDENTIFIER}){0,8}[([]` +
  `|${WORD}(?:\\.${WORD}){1,8}(?![\\w$.-])` +
  "|(?:string|number|boolean|bigint|symbol|object|unknown|any|never|void|str|int|bool|bytes)(?![\\w$.-])" +
  "|[A-Z][A-Za-z]{0,63}(?=[)|&<>\\]])" +
  "|(?:await|new|typeof|yield|async|function|require|import|lambda|this|self)(?![\\w$]))";

const NOT_A_SECRET = `(?:${REFERENCE}|${CODE})`;

/**
 * A value that starts with a PEM block is left to the `private-key` pattern,
 * and one that starts with a placeholder was redacted already: the key stays
 * as it is, so redacting the output again finds what the first pass left.
 */
const VALUE_TAKEN = `(?![ \\t]{0,${BLANKS}}${QUOTE}?(?:${SCHEMES}[ \\t]+)?(?:-----BEGIN|\\[REDACTED:))`;

/**
 * A value after the assignment sign: up to the closing quote when quoted (so a
 * password with spaces goes whole), else up to whitespace or `& , ;`,
 * optionally after an authentication scheme (`Bearer …`).
 */
export const VALUE =
  '(?<secret>(?<=")(?:[^"\\\\\\r\\n]|\\\\[^"\\r\\n])+' +
  "|(?<=')[^'\\\\\\r\\n]+" +
  "|(?<=`)[^`\\\\\\r\\n]+" +
  `|(?<!["'\`])(?!${NOT_A_SECRET})(?:${SCHEMES}[ \\t]+)?[^\\s"'\`\\\\&,;](?:(?!-----BEGIN)[^\\s"'\`\\\\&,;])*)`;

/**
 * A header value: like {@link VALUE} but unquoted it runs to the end of the
 * line. `cookie` values must start with a name and `=` (`sid=…`), so a sentence
 * that starts with "Cookie:" is left alone.
 */
export const lineValue = (requireEquals = false): string =>
  '(?<secret>(?<=")(?:[^"\\\\\\r\\n]|\\\\[^"\\r\\n])+' +
  "|(?<=')[^'\\\\\\r\\n]+" +
  "|(?<=`)[^`\\\\\\r\\n]+" +
  `|(?<!["'\`])${requireEquals ? "(?=[^\\s=;,\\[\\]]{1,64}=)" : ""}[^\\s"'\`\\\\]` +
  `(?:(?:(?!-----BEGIN)[^\\r\\n"'\`\\\\])*(?!-----BEGIN)[^\\s"'\`\\\\])?)`;

/**
 * `key = value`, with the secret group on the value.
 * @param prose - whether text after `key:` is a value even when it reads like a sentence.
 */
export const assignment = (key: string, value = VALUE, prose = false): string =>
  `${key}${AFTER_KEY}(?:${sign(prose)})${VALUE_TAKEN}${AFTER_SIGN}${value}`;

/**
 * A scheme word followed by a credential: not an ordinary word (`Bearer
 * tokens`), and either holding a digit in its first 16 characters or at least
 * 16 characters long (`token_type=bearer expires_in=3600` is no credential).
 */
export const schemeCredential = (scheme: string, characters: string, minimum: number): string =>
  `${notAfter("A-Za-z", `${scheme}|${capitalize(scheme)}|${scheme.toUpperCase()}`)}(?:[ \\t]+|%20)` +
  `(?![A-Za-z][a-z]*(?![${characters}=]))(?=[${characters}]{0,15}[0-9]|[${characters}]{16})` +
  `(?<secret>[${characters}]{${minimum},}=*)`;

/**
 * Where the prefilter looks for a pattern: a character `at` that every match
 * holds at most `back` characters after its start, and `check`, what must
 * follow it: literal characters (which the regular expression engine checks
 * several at a time) and lookarounds (a lookbehind there sees what was
 * consumed). A check may let through more than the pattern matches, never less.
 */
export interface Anchor {
  readonly at: string;
  readonly check: string;
  readonly back: number;
  /**
   * The anchor is the sign after a key name: a match starts no earlier than
   * the run of key-name characters before it (past blanks and a quote), which
   * is usually much nearer than `back`.
   */
  readonly afterKey?: boolean;
}

/**
 * The anchors of a key-value pattern: its sign, with a lookbehind for the last
 * word of a spelling (`…key`, `…Key`, `…KEY`) before the quote and blanks.
 * @param lastWords - the words a key name of the pattern may end with.
 * @param longest - characters in the longest key name, separators included.
 */
export function signAnchors(lastWords: readonly string[], longest: number): Anchor[] {
  const endings = [
    ...new Set(lastWords.flatMap((word) => [word, capitalize(word), word.toUpperCase()])),
  ];
  // Grouped by their last character, which a lookbehind matches first: most
  // signs follow a digit or a letter no key ends with (`10:00`, `a=b`) and
  // fail there, after one comparison.
  const byLastCharacter = new Map<string, string[]>();
  for (const ending of endings) {
    const last = ending.slice(-1);
    byLastCharacter.set(last, [...(byLastCharacter.get(last) ?? []), ending.slice(0, -1)]);
  }
  const names = [...byLastCharacter]
    .map(([last, heads]) => `(?:${heads.join("|")})${last}`)
    .join("|");
  const before = `(?:${names})${QUOTE}?[ \\t]{0,${BLANKS}}`;
  const back = longest + QUOTE_LENGTH + BLANKS;
  return [
    { at: ":", check: `(?<=${before}:)`, back, afterKey: true },
    { at: "=", check: `(?<=${before}=)`, back, afterKey: true },
    { at: "%", check: `3[DdAa](?<=${before}%3[DdAa])`, back, afterKey: true },
  ];
}

/** The length of the longest spelling of `spellings`, with one separator between words. */
export const longestSpelling = (spellings: readonly KeySpelling[]): number =>
  Math.max(...spellings.map((words) => words.join("_").length));

import { BUILT_IN_SOURCES, placeholder } from "./secret-patterns.js";

/** A pattern supplied by the caller, compiled into the redactor's own copy. */
export interface CompiledExtraPattern {
  readonly name: string;
  readonly regex: RegExp;
  readonly placeholder: string;
}

/** A placeholder already in the text, from an earlier pattern or an earlier call. */
const PLACEHOLDER = /\[REDACTED:[A-Za-z0-9._-]{1,64}\]/g;
/**
 * What may be left of a value around placeholders without being redacted
 * itself: nothing, or an authentication scheme (`Bearer [REDACTED:jwt]`).
 * Any other word stays suspect: in `"hunter2 ghp_…"` both halves are secret.
 */
const INSIGNIFICANT =
  /^\s*(?:(?:bearer|basic|token|bot|digest|negotiate|oauth|apikey|key|aws4-hmac-sha256)\s+)?$/i;
/** Values that are data, not credentials, even after `token=`. */
const LITERAL_VALUES = new Set(["null", "undefined", "true", "false", "None", "nil"]);

/**
 * The built-in patterns, combined into one alternation so that a text is
 * scanned once. Alternative `k` is wrapped in a capturing group (to tell
 * which one matched) and its `secret` group becomes the next numbered group.
 * Numbered, not named: V8 builds a groups object with every name for every
 * match, which made texts dense with matches ten times slower.
 */
export class BuiltInPatternSet {
  readonly #names: string[];
  readonly #sources: string[];
  /** Group number of each alternative's wrapper; its secret group, if any, is the next one. */
  readonly #wrapperGroups: number[] = [];
  readonly #hasSecret: boolean[] = [];
  /** Combined expressions of the first `k` patterns, built on first use. */
  readonly #prefixes: (RegExp | undefined)[] = [];

  /** @param disabled - names of built-in patterns to leave out. */
  constructor(disabled: ReadonlySet<string>) {
    const enabled = BUILT_IN_SOURCES.filter((source) => !disabled.has(source.name));
    this.#names = enabled.map((source) => source.name);
    let group = 1;
    this.#sources = enabled.map(({ name, source }) => {
      const numbered = source.replaceAll("(?<secret>", "(");
      const captures = new RegExp(`${numbered}|`).exec("")!.length - 1;
      if (captures > 1)
        throw new Error(`built-in pattern ${name} has more than one capturing group`);
      this.#wrapperGroups.push(group);
      this.#hasSecret.push(captures === 1);
      group += 1 + captures;
      return `(${numbered})`;
    });
  }

  /** Names of the patterns in use, in order. */
  get names(): readonly string[] {
    return this.#names;
  }

  /**
   * Replaces every built-in secret in `text`.
   * @param count - use only the first `count` patterns (for the value of a context pattern).
   */
  redact(text: string, count = this.#names.length): string {
    const regex = this.#combined(count);
    if (regex === undefined) return text;
    regex.lastIndex = 0;
    let match = regex.exec(text);
    if (match === null) return text;
    let result = "";
    let copiedUpTo = 0;
    do {
      const whole = match[0];
      let index = 0;
      while (match[this.#wrapperGroups[index]!] === undefined) index++;
      const name = this.#names[index]!;
      const secret = this.#hasSecret[index] ? match[this.#wrapperGroups[index]! + 1] : undefined;
      const replacement =
        secret === undefined
          ? placeholder(name)
          : whole.slice(0, whole.length - secret.length) + this.#redactValue(secret, index, name);
      result += text.slice(copiedUpTo, match.index) + replacement;
      copiedUpTo = match.index + whole.length;
      match = regex.exec(text);
    } while (match !== null);
    return result + text.slice(copiedUpTo);
  }

  /**
   * The value after a key name or scheme. A more specific secret inside it
   * keeps its own placeholder (most specific first); anything else that is
   * left becomes this pattern's placeholder.
   */
  #redactValue(value: string, index: number, name: string): string {
    if (LITERAL_VALUES.has(value)) return value;
    const inner = index > 0 ? this.redact(value, index) : value;
    return INSIGNIFICANT.test(inner.replace(PLACEHOLDER, "")) ? inner : placeholder(name);
  }

  #combined(count: number): RegExp | undefined {
    if (count === 0) return undefined;
    let regex = this.#prefixes[count];
    if (regex === undefined) {
      regex = new RegExp(this.#sources.slice(0, count).join("|"), "g");
      this.#prefixes[count] = regex;
    }
    return regex;
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const isRegExp = (value: unknown): value is RegExp =>
  Object.prototype.toString.call(value) === "[object RegExp]";

/**
 * Checks one entry of `extraPatterns` and makes the redactor's own copy of
 * it, so that the caller's `lastIndex` is never shared.
 * @throws TypeError naming `extraPatterns[index]` when the entry is unusable.
 */
export function compileExtraPattern(entry: unknown, index: number): CompiledExtraPattern {
  const option = `extraPatterns[${index}]`;
  let name = "custom";
  let pattern: unknown = entry;
  if (!isRegExp(entry)) {
    if (typeof entry !== "object" || entry === null) {
      throw new TypeError(`${option} must be a RegExp or { name, pattern }, got ${typeof entry}`);
    }
    const candidate = entry as { name?: unknown; pattern?: unknown };
    if (typeof candidate.name !== "string" || !NAME.test(candidate.name)) {
      throw new TypeError(
        `${option}.name must be 1-64 letters, digits, '.', '_' or '-', got ${String(candidate.name)}`,
      );
    }
    name = candidate.name;
    pattern = candidate.pattern;
    if (!isRegExp(pattern)) throw new TypeError(`${option}.pattern must be a RegExp`);
  }
  const regex = pattern as RegExp;
  if (!regex.flags.includes("g")) {
    throw new TypeError(`${option} must have the global flag (/${regex.source}/${regex.flags}g)`);
  }
  if (regex.flags.includes("y")) {
    throw new TypeError(`${option} must not be sticky: secrets can be anywhere in the text`);
  }
  const hasSecretGroup = regex.source.includes("(?<secret>");
  const flags = hasSecretGroup && !regex.flags.includes("d") ? `${regex.flags}d` : regex.flags;
  return { name, regex: new RegExp(regex.source, flags), placeholder: placeholder(name) };
}

/**
 * Replaces the matches of one extra pattern (only its `secret` group when it
 * has one). Empty matches are skipped, so a pattern like `/x*\/g` cannot fill
 * the text with placeholders.
 */
export function applyExtraPattern(text: string, extra: CompiledExtraPattern): string {
  const { regex } = extra;
  regex.lastIndex = 0;
  let result = "";
  let copiedUpTo = 0;
  for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
    if (match[0].length === 0) {
      regex.lastIndex++;
      continue;
    }
    const range = match.indices?.groups?.secret;
    const [start, end] = range ?? [match.index, match.index + match[0].length];
    if (start === end) continue;
    result += text.slice(copiedUpTo, start) + extra.placeholder;
    copiedUpTo = end;
  }
  return copiedUpTo === 0 ? text : result + text.slice(copiedUpTo);
}

import { BUILT_IN_SOURCES, placeholder } from "./secret-patterns.js";

/** A pattern supplied by the caller, compiled into the redactor's own copy. */
export interface CompiledExtraPattern {
  readonly name: string;
  readonly regex: RegExp;
  readonly placeholder: string;
}

/** A placeholder already in the text, from an earlier pattern or an earlier call. */
const PLACEHOLDER = /\[REDACTED:[A-Za-z0-9._-]{1,64}\]/g;
/** What may be left of a value around placeholders without being worth redacting: `Bearer `. */
const INSIGNIFICANT = /^\s*(?:[A-Za-z]{1,20}\s+)?$/;
/** Values that are data, not credentials, even after `token=`. */
const LITERAL_VALUES = new Set(["null", "undefined", "true", "false", "None", "nil"]);

/**
 * The built-in patterns, combined into one alternation so that a text is
 * scanned once. Alternative `k` is wrapped in the group `p<k>` (to tell which
 * one matched) and its `secret` group is renamed `s<k>`.
 */
export class BuiltInPatternSet {
  readonly #names: string[];
  readonly #sources: string[];
  /** Combined expressions of the first `k` patterns, built on first use. */
  readonly #prefixes: (RegExp | undefined)[] = [];

  /** @param disabled - names of built-in patterns to leave out. */
  constructor(disabled: ReadonlySet<string>) {
    const enabled = BUILT_IN_SOURCES.filter((source) => !disabled.has(source.name));
    this.#names = enabled.map((source) => source.name);
    this.#sources = enabled.map(
      (source, index) => `(?<p${index}>${source.source.replaceAll("(?<secret>", `(?<s${index}>`)})`,
    );
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
    return text.replace(regex, (...args: unknown[]) => {
      const match = args[0] as string;
      const groups = args[args.length - 1] as Record<string, string | undefined>;
      let index = 0;
      while (groups[`p${index}`] === undefined) index++;
      const name = this.#names[index]!;
      const secret = groups[`s${index}`];
      if (secret === undefined) return placeholder(name);
      return match.slice(0, match.length - secret.length) + this.#redactValue(secret, index, name);
    });
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

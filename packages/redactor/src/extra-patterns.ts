import { placeholder } from "./secret-patterns.js";

/** A pattern supplied by the caller, compiled into the redactor's own copy. */
export interface CompiledExtraPattern {
  readonly name: string;
  readonly regex: RegExp;
  readonly placeholder: string;
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

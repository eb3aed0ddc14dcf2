import { escapeControlCharacters } from "@beauvoir/core";

/** Characters valid in JSON text that a terminal would still act on, or show out of order. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Untrusted text (a record's action, target, error; a path) made safe to print
 * on one line: control characters become visible escapes.
 * @param text - anything; non-strings are converted with `String()`.
 * @returns the escaped text.
 */
export function printable(text: unknown): string {
  return escapeControlCharacters(typeof text === "string" ? text : String(text));
}

/**
 * JSON that is still the same JSON (parsing it gives the same value) but
 * holds no character a terminal acts on: `JSON.stringify` already escapes the
 * C0 controls; DEL, C1 controls, the line separators and bidirectional
 * overrides are written as `\uXXXX` too.
 * @param value - what to print.
 * @param indent - as for `JSON.stringify`.
 * @returns the JSON text.
 */
export function jsonForTerminal(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    UNSAFE_IN_JSON,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

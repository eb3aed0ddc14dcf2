/**
 * Characters a terminal or a line-oriented log would act on instead of
 * showing: C0 controls (line feeds, carriage returns, ESC, …), DEL, C1
 * controls, the Unicode line and paragraph separators, and the bidirectional
 * overrides that make text display in another order than it is stored.
 */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED_ESCAPES: Readonly<Record<string, string>> = Object.freeze({
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
});

/**
 * Makes text safe to print on one line: each control character becomes a
 * visible escape (`\n`, `\r`, `\t`, or `\xHH` / `\uHHHH`), and a backslash
 * becomes `\\` so an escape in the output always means an escaped character.
 * A message can then neither forge a second log line nor send a terminal
 * sequence.
 * @param text - untrusted text (a log message, an audit record's field).
 * @returns the text with every control character escaped.
 * @example
 * ```ts
 * escapeControlCharacters("ok\n[info] forged"); // "ok\\n[info] forged"
 * escapeControlCharacters("\u001b[2J"); // "\\x1b[2J"
 * ```
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(CONTROL_CHARACTERS, escapeOne);
}

function escapeOne(character: string): string {
  const named = NAMED_ESCAPES[character];
  if (named !== undefined) return named;
  const code = character.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/* Positions in a text that the pattern engine starts from: where a key name
 * may begin, where a check around a placeholder begins, how wide a window is. */

/**
 * The earliest position where a key name ending before the sign at `sign`
 * may start: back over blanks, a quote (`"`, `\\"`, `%22`) and the run of
 * key-name characters, at most `reach` characters.
 */
export function keyStart(text: string, sign: number, reach: number): number {
  const limit = Math.max(0, sign - reach);
  let index = sign;
  while (index > limit && isBlank(text.charCodeAt(index - 1))) index--;
  while (index > limit && isQuote(text, index - 1))
    index -= text.charCodeAt(index - 1) === 0x37 || text.charCodeAt(index - 1) === 0x32 ? 3 : 1;
  while (index > limit && isKeyCharacter(text.charCodeAt(index - 1))) index--;
  return Math.max(index, limit);
}

const isBlank = (code: number): boolean => code === 0x20 || code === 0x09;

/** A quote character, a backslash escaping one, or the end of `%22` / `%27`. */
function isQuote(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  if (code === 0x22 || code === 0x27 || code === 0x60 || code === 0x5c) return true;
  return (
    (code === 0x32 || code === 0x37) &&
    text.charCodeAt(index - 1) === 0x32 &&
    text.charCodeAt(index - 2) === 0x25
  );
}

/** Letters, digits and the separators key names are spelled with. */
function isKeyCharacter(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x5f ||
    code === 0x2d ||
    code === 0x2e
  );
}

/** Window sizes in use: a window of the next size up tries a few positions more, never fewer. */
const WINDOW_SIZES = [0, 1, 2, 3, 5, 6, 8, 12, 16, 24, 32, 48, 64];
export function windowSize(distance: number): number {
  for (const size of WINDOW_SIZES) if (size >= distance) return size;
  return distance;
}

/**
 * Where to start checking a text again around a placeholder: `from`, moved
 * back to just after a blank when one is near, so the check does not start
 * in the middle of a word.
 */
export function regionStart(text: string, from: number): number {
  if (from <= 0) return 0;
  for (let index = from; index > 0 && index > from - 64; index--) {
    const code = text.charCodeAt(index - 1);
    if (code === 0x20 || code === 0x0a || code === 0x09 || code === 0x0d) return index;
  }
  return from;
}

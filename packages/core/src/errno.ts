/**
 * Tells whether `error` is a Node.js system error, optionally with one of the
 * given codes (`"ENOENT"`, `"EEXIST"`, …).
 * @param error - anything caught.
 * @param codes - accepted `code` values; any code when empty.
 * @returns true when `error.code` is a string and matches.
 * @example
 * ```ts
 * try { await readFile(path); } catch (error) { if (!isErrnoError(error, "ENOENT")) throw error; }
 * ```
 */
export function isErrnoError(error: unknown, ...codes: string[]): error is NodeJS.ErrnoException {
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && (codes.length === 0 || codes.includes(code));
}

import { BeauvoirError, isBeauvoirErrorWithCode } from "./beauvoir-error.js";

/** Thrown when a store, lock or similar name could escape its directory. */
export class InvalidNameError extends BeauvoirError<"INVALID_NAME"> {
  /** The rejected name. */
  readonly invalidName: string;

  /**
   * @param invalidName - the name that was refused.
   * @param reason - why it was refused.
   */
  constructor(invalidName: string, reason: string) {
    super("INVALID_NAME", `Invalid name ${JSON.stringify(invalidName)}: ${reason}`);
    this.invalidName = invalidName;
  }

  /** @returns true for an {@link InvalidNameError} from any copy of the package. */
  static override isInstance(value: unknown): value is InvalidNameError {
    return isBeauvoirErrorWithCode(value, "INVALID_NAME");
  }
}

const MAX_NAME_LENGTH = 200;

/**
 * Checks that `name` can be used as one file name inside a directory the
 * library owns: not empty, no path separators, no `.`/`..`, no NUL or other
 * control characters, at most 200 characters.
 * @param name - the candidate name.
 * @returns the name, unchanged.
 * @throws {@link InvalidNameError} when it is not safe.
 * @example
 * ```ts
 * assertSafeName("dedup-index"); // ok
 * assertSafeName("../etc/passwd"); // throws INVALID_NAME
 * ```
 */
export function assertSafeName(name: unknown): string {
  if (typeof name !== "string") throw new InvalidNameError(String(name), "must be a string");
  if (name.length === 0) throw new InvalidNameError(name, "must not be empty");
  if (name.length > MAX_NAME_LENGTH) {
    throw new InvalidNameError(name, `must be at most ${MAX_NAME_LENGTH} characters`);
  }
  if (name === "." || name === "..") throw new InvalidNameError(name, "must not be . or ..");
  if (name.includes("/") || name.includes("\\")) {
    throw new InvalidNameError(name, "must not contain path separators");
  }
  if (name.includes("..")) throw new InvalidNameError(name, "must not contain '..'");
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    throw new InvalidNameError(name, "must not contain NUL or control characters");
  }
  return name;
}

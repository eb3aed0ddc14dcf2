const ANY_BEAUVOIR_ERROR = Symbol.for("beauvoir.error");

function markerFor(code: string): symbol {
  return Symbol.for(`beauvoir.error.${code}`);
}

/** Options accepted by every {@link BeauvoirError} constructor. */
export interface BeauvoirErrorOptions {
  /** The error that led to this one; kept as the standard `cause`. */
  cause?: unknown | undefined;
}

/**
 * The base of every error a Beauvoir package throws on purpose.
 *
 * Each error carries a stable string `code` (listed in the package README), so
 * callers can branch on it without parsing messages. Checks with
 * {@link BeauvoirError.isInstance} work across two installed copies of a
 * package, where `instanceof` would not.
 *
 * @example
 * ```ts
 * try {
 *   await mutex.acquire(10);
 * } catch (error) {
 *   if (BeauvoirError.isInstance(error)) console.log(error.code);
 * }
 * ```
 */
export class BeauvoirError<Code extends string = string> extends Error {
  /** Stable, documented identifier of the failure. */
  readonly code: Code;

  /**
   * @param code - stable identifier of the failure, e.g. `"MUTEX_TIMEOUT"`.
   * @param message - human-readable explanation.
   * @param options - `cause`: the underlying error.
   */
  constructor(code: Code, message: string, options: BeauvoirErrorOptions = {}) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, ANY_BEAUVOIR_ERROR, { value: true });
    Object.defineProperty(this, markerFor(code), { value: true });
  }

  /**
   * Tells whether `value` is an error thrown by any Beauvoir package.
   * @param value - anything caught.
   * @returns true for every {@link BeauvoirError}, from any copy of the package.
   */
  static isInstance(value: unknown): value is BeauvoirError {
    return hasMarker(value, ANY_BEAUVOIR_ERROR);
  }
}

/**
 * Tells whether `value` is a Beauvoir error with the given `code`. Subclasses
 * implement their `isInstance` with it.
 * @param value - anything caught.
 * @param code - the error code to look for.
 * @returns true when `value` carries the marker of `code`.
 */
export function isBeauvoirErrorWithCode(value: unknown, code: string): boolean {
  return hasMarker(value, markerFor(code));
}

function hasMarker(value: unknown, marker: symbol): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<symbol, unknown>)[marker] === true
  );
}

import { BeauvoirError, isBeauvoirErrorWithCode } from "@beauvoir/core";

/** Error codes thrown by `@beauvoir/mutex`. */
export type MutexErrorCode = "MUTEX_TIMEOUT";

/**
 * Rejects an `acquire()` that waited longer than its timeout. A fresh instance
 * is thrown each time, so its stack points at the waiting call.
 */
export class MutexTimeoutError extends BeauvoirError<"MUTEX_TIMEOUT"> {
  /** How long the caller was willing to wait, in milliseconds. */
  readonly timeoutMs: number;

  /** @param timeoutMs - the timeout that ran out. */
  constructor(timeoutMs: number) {
    super("MUTEX_TIMEOUT", `Timed out after ${timeoutMs} ms waiting for the lock`);
    this.timeoutMs = timeoutMs;
  }

  /** @returns true for a {@link MutexTimeoutError} from any copy of the package. */
  static override isInstance(value: unknown): value is MutexTimeoutError {
    return isBeauvoirErrorWithCode(value, "MUTEX_TIMEOUT");
  }
}

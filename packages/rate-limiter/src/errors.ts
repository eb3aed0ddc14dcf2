import { BeauvoirError, isBeauvoirErrorWithCode } from "@beauvoir/core";

/** Error codes thrown by `@beauvoir/rate-limiter`. */
export type RateLimiterErrorCode = "RATE_LIMITED" | "RATE_LIMITER_SHUT_DOWN";

/** Which token bucket refused a request: the shared one or the workflow's own. */
export type RateLimitBucket = "global" | "workflow";

/**
 * Thrown by `consume()` when the wait for a token would be longer than the
 * caller's `maxWaitMs`. It carries when to try again and which bucket is short,
 * so a caller can reschedule the work instead of parsing a message.
 *
 * @example
 * ```ts
 * try {
 *   await limiter.consume("triage", { maxWaitMs: 0 });
 * } catch (error) {
 *   if (RateLimitedError.isInstance(error)) reschedule(error.retryAfterMs);
 * }
 * ```
 */
export class RateLimitedError extends BeauvoirError<"RATE_LIMITED"> {
  /** Milliseconds until a token will be available, if nobody else takes it first. */
  readonly retryAfterMs: number;
  /** The bucket that is short (or blocked, for `"global"`). */
  readonly bucket: RateLimitBucket;
  /** The workflow that asked, when known. */
  readonly workflowId: string | undefined;

  /**
   * @param retryAfterMs - milliseconds until a token will be available.
   * @param bucket - the bucket that refused.
   * @param workflowId - the workflow that asked.
   */
  constructor(retryAfterMs: number, bucket: RateLimitBucket, workflowId?: string) {
    const who = workflowId === undefined ? "" : ` for workflow "${workflowId}"`;
    super(
      "RATE_LIMITED",
      `Rate limited by the ${bucket} bucket${who}; retry after ${retryAfterMs} ms`,
    );
    this.retryAfterMs = retryAfterMs;
    this.bucket = bucket;
    this.workflowId = workflowId;
  }

  /** @returns true for a {@link RateLimitedError} from any copy of the package. */
  static override isInstance(value: unknown): value is RateLimitedError {
    return isBeauvoirErrorWithCode(value, "RATE_LIMITED");
  }
}

/**
 * Rejects a `consume()` that was waiting when `shutdown()` was called, or that
 * was started afterwards: the limiter no longer runs timers, so the wait would
 * never end.
 */
export class RateLimiterShutDownError extends BeauvoirError<"RATE_LIMITER_SHUT_DOWN"> {
  constructor() {
    super("RATE_LIMITER_SHUT_DOWN", "The rate limiter was shut down while waiting for a token");
  }

  /** @returns true for a {@link RateLimiterShutDownError} from any copy of the package. */
  static override isInstance(value: unknown): value is RateLimiterShutDownError {
    return isBeauvoirErrorWithCode(value, "RATE_LIMITER_SHUT_DOWN");
  }
}

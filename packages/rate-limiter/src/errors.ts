import { BeauvoirError, isBeauvoirErrorWithCode } from "@beauvoir/core";

/** Error codes thrown by `@beauvoir/rate-limiter`. */
export type RateLimiterErrorCode =
  | "RATE_LIMITED"
  | "RATE_LIMIT_EXHAUSTED"
  | "RATE_LIMIT_SNAPSHOT_INVALID"
  | "RATE_LIMITER_SHUT_DOWN";

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

/**
 * Rejects a `consume()` that could wait forever: the bucket it needs is empty
 * and never refills (`refillPerHour: 0`), so no token can ever come, whatever
 * block lifts. Thrown at once, or as soon as the last token goes to a waiter
 * ahead; nothing is taken.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({ global: { capacity: 10, refillPerHour: 0 } });
 * try {
 *   await limiter.consume("migration");
 * } catch (error) {
 *   if (RateLimitExhaustedError.isInstance(error)) console.error(`${error.bucket} budget spent`);
 * }
 * ```
 */
export class RateLimitExhaustedError extends BeauvoirError<"RATE_LIMIT_EXHAUSTED"> {
  /** The bucket that is empty for good. */
  readonly bucket: RateLimitBucket;
  /** The workflow that asked, when known. */
  readonly workflowId: string | undefined;

  /**
   * @param bucket - the bucket that is empty and never refills.
   * @param workflowId - the workflow that asked.
   */
  constructor(bucket: RateLimitBucket, workflowId?: string) {
    const who = workflowId === undefined ? "" : ` for workflow "${workflowId}"`;
    super(
      "RATE_LIMIT_EXHAUSTED",
      `The ${bucket} bucket${who} is empty and never refills (refillPerHour 0); no token will come`,
    );
    this.bucket = bucket;
    this.workflowId = workflowId;
  }

  /** @returns true for a {@link RateLimitExhaustedError} from any copy of the package. */
  static override isInstance(value: unknown): value is RateLimitExhaustedError {
    return isBeauvoirErrorWithCode(value, "RATE_LIMIT_EXHAUSTED");
  }
}

/**
 * Thrown by `restoreBlocks()` for a snapshot it cannot read (wrong version, a
 * field of the wrong type). Nothing is applied: the limiter keeps the blocks it
 * had, and the stored snapshot is left for a person to look at.
 *
 * @example
 * ```ts
 * try {
 *   limiter.restoreBlocks(JSON.parse(text));
 * } catch (error) {
 *   if (RateLimitSnapshotError.isInstance(error)) logger.warn("limiter blocks not restored", { field: error.field });
 * }
 * ```
 */
export class RateLimitSnapshotError extends BeauvoirError<"RATE_LIMIT_SNAPSHOT_INVALID"> {
  /** The path of the field that is wrong, e.g. `blocks[0].until`. */
  readonly field: string;

  /**
   * @param field - the path of the bad field.
   * @param problem - what is wrong with it.
   */
  constructor(field: string, problem: string) {
    super("RATE_LIMIT_SNAPSHOT_INVALID", `Invalid rate-limit blocks snapshot: ${field} ${problem}`);
    this.field = field;
  }

  /** @returns true for a {@link RateLimitSnapshotError} from any copy of the package. */
  static override isInstance(value: unknown): value is RateLimitSnapshotError {
    return isBeauvoirErrorWithCode(value, "RATE_LIMIT_SNAPSHOT_INVALID");
  }
}

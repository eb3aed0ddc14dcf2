import type { RateLimitBucket } from "./errors.js";
import type { GitHubRateLimit } from "./github-rate-limit.js";

/** The answer of `tryConsume()` when a token was taken from both buckets. */
export interface ConsumeAllowed {
  readonly allowed: true;
  readonly bucket: null;
}

/** The answer of `tryConsume()` when no token was taken. */
export interface ConsumeDenied {
  readonly allowed: false;
  /**
   * Milliseconds until the request would be allowed, if nobody else takes the
   * token first: the latest of the short buckets' refill times, the end of a
   * recorded rate-limit block and the quota pacing. Exact to the millisecond
   * for whole-number options. `Infinity` when the short bucket never refills
   * (`refillPerHour: 0`): no wait will do.
   */
  readonly retryAfterMs: number;
  /** The bucket that sets `retryAfterMs` (`"global"` on a tie, during a block, or while pacing). */
  readonly bucket: RateLimitBucket;
}

/** What `tryConsume()` returns. */
export type ConsumeResult = ConsumeAllowed | ConsumeDenied;

/** Per-call options of `consume()`. */
export interface ConsumeOptions {
  /** Aborting stops the wait; `consume()` rejects with the signal's reason and takes nothing. */
  signal?: AbortSignal | undefined;
  /**
   * Longest the caller will wait. When the wait (counting the waiters ahead)
   * would be longer, `consume()` rejects at once with
   * {@link RateLimitedError}; a waiter that a later block pushes past it is
   * rejected as soon as the block is recorded. `0` turns `consume()` into a
   * throwing `tryConsume()`.
   * @default Infinity
   */
  maxWaitMs?: number | undefined;
}

/** Whole tokens left, from `getRemainingTokens()`. */
export interface RemainingTokens {
  readonly global: number;
  readonly workflow: number;
}

/** What `recordRateLimitFailure()` recorded. */
export interface RecordedRateLimit extends GitHubRateLimit {
  /** How long the limiter now holds every request back, in milliseconds. */
  readonly blockedForMs: number;
}

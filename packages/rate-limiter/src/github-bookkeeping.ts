import type { RateLimitBlocksSnapshot } from "./blocks-snapshot.js";
import type { RecordedRateLimit } from "./consume-result.js";
import type { GitHubLimits } from "./github-limits.js";
import type { GitHubQuota } from "./github-quota.js";
import { findHttpAnswer, type GitHubRateLimit, rateLimitOf } from "./github-rate-limit.js";
import type { LimiterBuckets } from "./limiter-buckets.js";
import type { WaitQueue } from "./wait-queue.js";

/** @internal A limit as GitHub stated it, checked. */
export type StatedLimit = Pick<GitHubRateLimit, "kind" | "retryAfterSec" | "resetAtEpochSec">;

/**
 * @internal What GitHub's answers do to the limiter: a recorded limit blocks
 * (or empties) the global bucket, the quota headers pace requests, a snapshot
 * of the blocks goes out and comes back; after each, the waiters that may go
 * now are served and those pushed past their `maxWaitMs` are rejected.
 */
export class GitHubBookkeeping {
  readonly #github: GitHubLimits;
  readonly #buckets: LimiterBuckets;
  readonly #queue: WaitQueue;
  readonly #now: () => number;

  /**
   * @param github - the blocks, streak and quota pacing.
   * @param buckets - the token buckets (a primary limit without a time empties the global one).
   * @param queue - the `consume()` waiters.
   * @param now - the limiter's clock.
   */
  constructor(github: GitHubLimits, buckets: LimiterBuckets, queue: WaitQueue, now: () => number) {
    this.#github = github;
    this.#buckets = buckets;
    this.#queue = queue;
    this.#now = now;
  }

  /** Records a checked limit as of `now`, so a caller that reports the wait measures it from the same instant. */
  record(workflowId: string, limit: StatedLimit, now: number): void {
    const { kind, retryAfterSec, resetAtEpochSec } = limit;
    if (this.#github.record(workflowId, kind, retryAfterSec, resetAtEpochSec, now)) {
      this.#buckets.emptyGlobal(now);
    }
    this.#serveWaiters(now);
  }

  /** `recordRateLimitFailure()`: records the limit `value` states, if any. */
  recordFailure(value: unknown, workflowId: string): RecordedRateLimit | null {
    const found = findHttpAnswer(value);
    if (found === undefined) return null;
    const now = this.#now();
    this.#github.observe(found.failure.headers, now);
    const limit = rateLimitOf(found, undefined);
    if (limit === null) {
      this.#github.endStreak(now);
      this.#serveWaiters(now);
      return null;
    }
    this.record(workflowId, limit, now);
    const blockWait = Math.max(0, Math.ceil(this.#github.blocks.until - now));
    const tokenWait = this.#buckets.globalTokenWait(now);
    return { ...limit, blockedForMs: Math.max(blockWait, tokenWait) };
  }

  /** `observeResponse()`: takes in the quota of a response. */
  observeResponse(value: unknown): GitHubQuota | null {
    const found = findHttpAnswer(value);
    if (found === undefined) return null;
    const now = this.#now();
    const { status, headers } = found.failure;
    if (status !== 403 && status !== 429) this.#github.endStreak(now);
    const quota = this.#github.observe(headers, now);
    this.#serveWaiters(now);
    return quota;
  }

  /** `exportBlocks()`: the blocks still running. */
  exportBlocks(): RateLimitBlocksSnapshot {
    return this.#github.blocks.toSnapshot(this.#now());
  }

  /** `restoreBlocks()`: adds the blocks of a snapshot. */
  restoreBlocks(snapshot: unknown): void {
    const now = this.#now();
    this.#github.restore(snapshot, now);
    this.#serveWaiters(now);
  }

  #serveWaiters(now: number): void {
    if (this.#queue.size > 0) this.#queue.drain(now);
  }
}

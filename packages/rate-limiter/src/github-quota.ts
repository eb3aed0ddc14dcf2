import { type HeadersLike, readHeader } from "@beauvoir/core";

/** What a GitHub response says about the quota, from its `x-ratelimit-*` headers. */
export interface GitHubQuota {
  /** `x-ratelimit-resource` (`core`, `search`, `graphql`, …), when given. */
  readonly resource: string | undefined;
  /** `x-ratelimit-limit`: requests allowed per window, when given. */
  readonly limit: number | undefined;
  /** `x-ratelimit-remaining`: requests left in the window. */
  readonly remaining: number;
  /** `x-ratelimit-reset`: when the window resets, UTC epoch seconds. */
  readonly resetAtEpochSec: number;
}

const WHOLE_NUMBER = /^\d+$/;

/**
 * @internal Reads the quota headers; both `x-ratelimit-remaining` and
 * `x-ratelimit-reset` must be whole numbers, or nothing is read.
 */
export function readGitHubQuota(headers: HeadersLike): GitHubQuota | null {
  const remaining = readHeader(headers, "x-ratelimit-remaining");
  const reset = readHeader(headers, "x-ratelimit-reset");
  if (remaining === undefined || reset === undefined) return null;
  if (!WHOLE_NUMBER.test(remaining) || !WHOLE_NUMBER.test(reset)) return null;
  const limit = readHeader(headers, "x-ratelimit-limit");
  return {
    resource: readHeader(headers, "x-ratelimit-resource"),
    limit: limit !== undefined && WHOLE_NUMBER.test(limit) ? Number(limit) : undefined,
    remaining: Number(remaining),
    resetAtEpochSec: Number(reset),
  };
}

/**
 * @internal Slows requests down before GitHub refuses them. From the last
 * quota observed it keeps an estimate of the requests left in the window,
 * counted down by every request the limiter lets through. While the estimate
 * is at or below `paceBelowFraction` of the window's limit, the requests left
 * are spread evenly over the time left: the next one may go at
 * `anchor + (reset - anchor) / (left + 1)`, where `anchor` is the later of the
 * last request let through and the last observation. With none left, that is
 * the reset itself.
 */
export class QuotaPacer {
  readonly #paceBelowFraction: number;
  /** Whether a quota for the current window is known. */
  active = false;
  #remaining = 0;
  #paceAtOrBelow = 0;
  #resetAt = 0;
  #anchor = 0;

  /** @param paceBelowFraction - the share of the limit below which requests are spread out. */
  constructor(paceBelowFraction: number) {
    this.#paceBelowFraction = paceBelowFraction;
  }

  /**
   * Takes in an observed quota. A later window replaces the estimate; the same
   * window can only lower it (an answer that left before our last requests
   * does not count them); an earlier window is stale and ignored.
   */
  observe(quota: GitHubQuota, now: number): void {
    const resetAt = quota.resetAtEpochSec * 1000;
    if (resetAt <= now) return;
    if (!this.active || resetAt > this.#resetAt) {
      this.active = true;
      this.#resetAt = resetAt;
      this.#remaining = quota.remaining;
      this.#anchor = now;
    } else if (resetAt < this.#resetAt || quota.remaining >= this.#remaining) {
      return;
    } else {
      this.#remaining = quota.remaining;
      this.#anchor = Math.max(this.#anchor, now);
    }
    if (quota.limit !== undefined) {
      this.#paceAtOrBelow = Math.floor(quota.limit * this.#paceBelowFraction);
    }
  }

  /** @returns milliseconds until the next request may go; 0 when it may go now. */
  waitAt(now: number): number {
    if (now >= this.#resetAt) {
      this.active = false;
      return 0;
    }
    const remaining = this.#remaining;
    if (remaining > 0 && remaining > this.#paceAtOrBelow) return 0;
    const anchor = this.#anchor;
    const nextAt = anchor + (this.#resetAt - anchor) / (remaining + 1);
    return nextAt > now ? Math.ceil(nextAt - now) : 0;
  }

  /** Counts a request the limiter let through at `now`. */
  taken(now: number): void {
    if (this.#remaining > 0) this.#remaining--;
    if (now > this.#anchor) this.#anchor = now;
  }
}

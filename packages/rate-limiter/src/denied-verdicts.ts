import type { ConsumeAllowed, ConsumeDenied } from "./consume-result.js";
import type { RateLimitBucket } from "./errors.js";

/** @internal The one answer of every allowed `tryConsume()`. */
export const ALLOWED: ConsumeAllowed = Object.freeze({ allowed: true, bucket: null });

/**
 * @internal The refusals of `tryConsume()`: one in a row with the same wait
 * and bucket (a burst at the same millisecond) shares the previous frozen
 * answer instead of allocating each.
 */
export class DeniedVerdicts {
  #last: ConsumeDenied = Object.freeze({ allowed: false, retryAfterMs: -1, bucket: "global" });

  /** The refusal for `retryAfterMs` on `bucket`. */
  verdict(retryAfterMs: number, bucket: RateLimitBucket): ConsumeDenied {
    const last = this.#last;
    if (last.retryAfterMs === retryAfterMs && last.bucket === bucket) return last;
    this.#last = Object.freeze({ allowed: false, retryAfterMs, bucket });
    return this.#last;
  }
}

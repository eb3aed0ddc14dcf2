import { readHttpFailure } from "@beauvoir/core";
import {
  type GitHubResponseLike,
  parseGitHubRateLimit,
  RateLimiter,
  type RateLimiterOptions,
} from "@beauvoir/rate-limiter";
import type { RateLimiterPort } from "./ports.js";

/**
 * The `RateLimiter` boot builds, with what the executor needs on top of
 * today's `@beauvoir/rate-limiter`: rate-limit answers read from whatever a
 * step threw, and the blocks they set kept across restarts. (The next
 * `@beauvoir/rate-limiter` has these itself; this class then goes.)
 */
export class GitHubRateLimiter extends RateLimiter implements RateLimiterPort {
  readonly #listeners = new Set<() => void>();
  readonly #now: () => number;

  /** @param options - as `new RateLimiter(options)`. */
  constructor(options?: RateLimiterOptions) {
    super(options);
    this.#now = options?.now ?? (() => (options?.clock ?? { now: Date.now }).now());
  }

  /**
   * Records the rate limit an HTTP answer states (an Octokit error, a fetch
   * `Response`, `{ status, headers, body }`); anything else is ignored.
   * @returns the kind recorded, or null.
   */
  recordRateLimitFailure(value: unknown, workflowId = "unknown"): "primary" | "secondary" | null {
    const failure = readHttpFailure(value);
    if (!failure) return null;
    const body = (value as { body?: unknown }).body;
    const limit = parseGitHubRateLimit({
      status: failure.status,
      headers: failure.headers,
      ...(typeof body === "string" ||
      (typeof body === "object" && body !== null && !("getReader" in body))
        ? { body }
        : {}),
      ...(failure.message === undefined ? {} : { message: failure.message }),
    } as GitHubResponseLike);
    if (limit === null) return null;
    this.recordRateLimit(workflowId, limit.kind, limit.retryAfterSec, limit.resetAtEpochSec);
    return limit.kind;
  }

  /** As `RateLimiter.recordRateLimit`, and tells the `blocksChange` listeners. */
  override recordRateLimit(
    workflowId: string,
    kind: "primary" | "secondary",
    retryAfterSec?: number,
    resetAtEpochSec?: number,
  ): void {
    super.recordRateLimit(workflowId, kind, retryAfterSec, resetAtEpochSec);
    for (const listener of this.#listeners) listener();
  }

  /** Quota headers of successful answers are not followed by this version. */
  observeResponse(_value: unknown): null {
    return null;
  }

  /** @returns `{ version: 1, blockedUntil }` (epoch ms, or null). */
  exportBlocks(): { version: 1; blockedUntil: number | null } {
    return { version: 1, blockedUntil: this.blockedUntil };
  }

  /** Blocks again until the saved time, when it is still ahead. */
  restoreBlocks(snapshot: unknown): void {
    const until = (snapshot as { blockedUntil?: unknown } | null)?.blockedUntil;
    if (typeof until !== "number" || !Number.isFinite(until)) return;
    const now = this.#now();
    if (until <= now) return;
    this.recordRateLimit("restored", "secondary", Math.ceil((until - now) / 1000));
  }

  /** Subscribes to changes of the blocks (`"blocksChange"`). @returns an unsubscribe function. */
  on(event: "blocksChange", listener: () => void): () => void {
    if (event !== "blocksChange") throw new TypeError(`unknown event ${String(event)}`);
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

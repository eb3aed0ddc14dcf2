import type { HeadersLike, Logger } from "@beauvoir/core";
import {
  parseBlocksSnapshot,
  type RateLimitBlocksSnapshot,
  type RateLimitKind,
} from "./blocks-snapshot.js";
import { publishBlock } from "./diagnostics.js";
import { GitHubBlocks } from "./github-blocks.js";
import { type GitHubQuota, QuotaPacer, readGitHubQuota } from "./github-quota.js";

/** Why the GitHub-imposed blocks changed. */
export type BlocksChangeReason =
  /** A rate limit was recorded (`recordRateLimit`, `recordRateLimitFailure`). */
  | "recorded"
  /** An observed response said no request is left until the reset. */
  | "quota"
  /** `restoreBlocks()` added blocks. */
  | "restored"
  /** A request went through, ending a streak of secondary limits. */
  | "streak_ended";

/** Payload of the `blocksChange` event. */
export interface BlocksChangeEvent {
  readonly reason: BlocksChangeReason;
  /** When the change happened, epoch ms. */
  readonly at: number;
  /** `exportBlocks()` after the change: what to persist. */
  readonly snapshot: RateLimitBlocksSnapshot;
}

/** Every event of a `RateLimiter` and its payload. */
export interface RateLimiterEvents {
  blocksChange: BlocksChangeEvent;
}

/** @internal Resolved options the GitHub state needs. */
export interface GitHubLimitsOptions {
  readonly secondaryDefaultWaitMs: number;
  readonly maxBlockMs: number;
  readonly paceBelowFraction: number;
  readonly resources: ReadonlySet<string>;
  readonly logger: Pick<Logger, "warn">;
}

/**
 * @internal What GitHub told the limiter: the blocks it imposed (kept across
 * restarts through `exportBlocks`/`restoreBlocks`), the quota it reported
 * (not kept: the next response reports it again), and the listeners told of
 * every change to the blocks.
 */
export class GitHubLimits {
  readonly #options: GitHubLimitsOptions;
  readonly blocks: GitHubBlocks;
  readonly pacer: QuotaPacer;
  #listeners: ReadonlyArray<(event: BlocksChangeEvent) => void> = [];

  /** @param options - waits, caps, pacing and the logger. */
  constructor(options: GitHubLimitsOptions) {
    this.#options = options;
    this.blocks = new GitHubBlocks(options.secondaryDefaultWaitMs, options.maxBlockMs);
    this.pacer = new QuotaPacer(options.paceBelowFraction);
  }

  /**
   * Records a limit; see `RateLimiter.recordRateLimit` for the rules.
   * @returns true when the limit gave no time at all and is primary: the
   *   caller then empties its global bucket instead.
   */
  record(
    workflowId: string,
    kind: RateLimitKind,
    retryAfterSec: number | undefined,
    resetAtEpochSec: number | undefined,
    now: number,
  ): boolean {
    let until = Number.NEGATIVE_INFINITY;
    if (retryAfterSec !== undefined) until = now + retryAfterSec * 1000;
    if (resetAtEpochSec !== undefined) until = Math.max(until, resetAtEpochSec * 1000);
    const told = retryAfterSec !== undefined || resetAtEpochSec !== undefined;
    if (!told && kind === "secondary") until = now + this.blocks.nextSecondaryWait(now);
    const changed = this.blocks.extend(kind, until, now);
    const blockedForMs = Math.max(0, this.blocks.until - now);
    this.#options.logger.warn("API rate limit recorded; holding requests back", {
      workflowId,
      kind,
      retryAfterSec,
      resetAtEpochSec,
      blockedForMs,
    });
    publishBlock(() => ({
      reason: "recorded",
      kind,
      workflowId,
      retryAfterSec,
      resetAtEpochSec,
      blockedUntil: this.blocks.until,
      blockedForMs,
    }));
    // A streak that grew is a change even when a longer block hides it.
    if (changed || (!told && kind === "secondary")) this.#emit("recorded", now);
    return !told && kind === "primary";
  }

  /**
   * Takes in the quota headers of a response, if its resource is followed.
   * No request left → a primary block until the reset.
   */
  observe(headers: HeadersLike, now: number): GitHubQuota | null {
    const quota = readGitHubQuota(headers);
    if (quota === null || !this.#options.resources.has(quota.resource ?? "core")) return null;
    this.pacer.observe(quota, now);
    if (quota.remaining === 0 && this.blocks.extend("primary", quota.resetAtEpochSec * 1000, now)) {
      publishBlock(() => ({
        reason: "quota",
        kind: "primary",
        workflowId: undefined,
        retryAfterSec: undefined,
        resetAtEpochSec: quota.resetAtEpochSec,
        blockedUntil: this.blocks.until,
        blockedForMs: Math.max(0, this.blocks.until - now),
      }));
      this.#emit("quota", now);
    }
    return quota;
  }

  /** A request went through: the next secondary limit waits a minute again. */
  endStreak(now: number): void {
    if (this.blocks.endStreak(now)) this.#emit("streak_ended", now);
  }

  /** Checks `value` whole, then adds what is still running. @throws RateLimitSnapshotError */
  restore(value: unknown, now: number): void {
    const snapshot = parseBlocksSnapshot(value);
    if (this.blocks.restore(snapshot, now)) this.#emit("restored", now);
  }

  /** Subscribes to `blocksChange`. */
  on(listener: (event: BlocksChangeEvent) => void): () => void {
    this.#listeners = [...this.#listeners, listener];
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.#listeners = this.#listeners.filter((candidate) => candidate !== listener);
    };
  }

  #emit(reason: BlocksChangeReason, at: number): void {
    const listeners = this.#listeners;
    if (listeners.length === 0) return;
    const event: BlocksChangeEvent = { reason, at, snapshot: this.blocks.toSnapshot(at) };
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        try {
          this.#options.logger.warn("rate limiter blocksChange listener threw", { error });
        } catch {
          // A broken logger must not break the limiter either.
        }
      }
    }
  }
}

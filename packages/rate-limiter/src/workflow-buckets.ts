import type { Clock, Logger, TimerHandle } from "@beauvoir/core";
import { type BucketRate, type BucketState, isFullAt } from "./token-bucket.js";

/** @internal One workflow's bucket and backoff count. */
export interface WorkflowEntry extends BucketState {
  /** Last allowed request or backoff query, for idle eviction. */
  lastActiveAt: number;
  /** Backoffs handed out since the last success. */
  attempts: number;
}

/** @internal What the workflow buckets need from the limiter's options. */
export interface WorkflowBucketsOptions {
  readonly rate: BucketRate;
  readonly idleEvictionMs: number;
  readonly cleanupIntervalMs: number;
  readonly clock: Clock;
  readonly now: () => number;
  readonly logger: Pick<Logger, "debug">;
}

/**
 * @internal The per-workflow buckets, made on first use and forgotten once
 * idle and full again, so memory follows the workflows in use, not every id
 * ever seen. The eviction timer exists only while buckets do, and is unref'd.
 */
export class WorkflowBuckets {
  readonly #options: WorkflowBucketsOptions;
  readonly #entries = new Map<string, WorkflowEntry>();
  #cleanupTimer: TimerHandle | undefined;
  #stopped = false;
  /** The last workflow looked up: a workflow usually sends several requests in a row. */
  #lastWorkflowId: string | undefined;
  #lastEntry: WorkflowEntry | undefined;

  /** @param options - the bucket rate, eviction settings, clock and logger. */
  constructor(options: WorkflowBucketsOptions) {
    this.#options = options;
  }

  /** Buckets held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The workflow's bucket, if it has one; remembers it for the next call. */
  lookUp(workflowId: string): WorkflowEntry | undefined {
    if (workflowId === this.#lastWorkflowId) return this.#lastEntry;
    const entry = this.#entries.get(workflowId);
    if (entry !== undefined) {
      this.#lastWorkflowId = workflowId;
      this.#lastEntry = entry;
    }
    return entry;
  }

  /** Makes the workflow's bucket, full. */
  create(workflowId: string, now: number): WorkflowEntry {
    const entry: WorkflowEntry = {
      credit: this.#options.rate.capacityUnits,
      updatedAt: now,
      readyAt: 0,
      lastActiveAt: now,
      attempts: 0,
    };
    this.#entries.set(workflowId, entry);
    if (this.#cleanupTimer === undefined) this.#arm();
    return entry;
  }

  /** Forgets the buckets idle for `idleEvictionMs` and full again. @returns how many. */
  cleanup(): number {
    const { idleEvictionMs, rate, now: clockNow, logger } = this.#options;
    const now = clockNow();
    let evicted = 0;
    for (const [workflowId, entry] of this.#entries) {
      if (now - entry.lastActiveAt >= idleEvictionMs && isFullAt(entry, rate, now)) {
        this.#entries.delete(workflowId);
        evicted++;
        if (workflowId === this.#lastWorkflowId) {
          this.#lastWorkflowId = undefined;
          this.#lastEntry = undefined;
        }
      }
    }
    if (evicted > 0) {
      logger.debug("Evicted idle workflow buckets", { evicted, remaining: this.#entries.size });
    }
    return evicted;
  }

  /** Stops the eviction timer for good. */
  stop(): void {
    this.#stopped = true;
    if (this.#cleanupTimer !== undefined) {
      this.#options.clock.clearTimeout(this.#cleanupTimer);
      this.#cleanupTimer = undefined;
    }
  }

  #arm(): void {
    const { cleanupIntervalMs, clock } = this.#options;
    if (this.#stopped || cleanupIntervalMs === Number.POSITIVE_INFINITY) return;
    this.#cleanupTimer = clock.setTimeout(() => {
      this.#cleanupTimer = undefined;
      this.cleanup();
      if (this.#entries.size > 0) this.#arm();
    }, cleanupIntervalMs);
    this.#cleanupTimer.unref?.();
  }
}

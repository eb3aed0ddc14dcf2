import type { RateLimitBucket } from "./errors.js";
import type { GitHubBlocks } from "./github-blocks.js";
import type { QuotaPacer } from "./github-quota.js";
import type { ResolvedRateLimiterOptions } from "./options.js";
import {
  type BucketRate,
  type BucketState,
  bucketRate,
  msUntilTokens,
  refill,
  TOKEN,
  waitForToken,
} from "./token-bucket.js";
import { WorkflowBuckets, type WorkflowEntry } from "./workflow-buckets.js";

/**
 * @internal The bucket arithmetic of a request: a token from the shared
 * global bucket and one from the workflow's own, held back further by the
 * blocks GitHub imposed and by the quota pacing.
 */
export class LimiterBuckets {
  readonly #globalRate: BucketRate;
  readonly #workflowRate: BucketRate;
  readonly #global: BucketState;
  /** The per-workflow buckets. */
  readonly workflows: WorkflowBuckets;
  readonly #blocks: GitHubBlocks;
  readonly #pacer: QuotaPacer;
  /** The bucket that set the last wait computed by {@link LimiterBuckets.waitFor}. */
  shortBucket: RateLimitBucket = "global";

  /**
   * @param options - the limiter's resolved options (bucket sizes, eviction, clock).
   * @param blocks - the blocks GitHub imposed.
   * @param pacer - the quota pacing.
   */
  constructor(options: ResolvedRateLimiterOptions, blocks: GitHubBlocks, pacer: QuotaPacer) {
    const { global, perWorkflow, now } = options;
    this.#globalRate = bucketRate(global.capacity, global.refillPerHour);
    this.#workflowRate = bucketRate(perWorkflow.capacity, perWorkflow.refillPerHour);
    this.#global = { credit: this.#globalRate.capacityUnits, updatedAt: now(), readyAt: 0 };
    this.workflows = new WorkflowBuckets({
      rate: this.#workflowRate,
      idleEvictionMs: options.idleEvictionMs,
      cleanupIntervalMs: options.cleanupIntervalMs,
      clock: options.clock,
      now,
      logger: options.logger,
    });
    this.#blocks = blocks;
    this.#pacer = pacer;
  }

  /**
   * The wait before `entry`'s workflow may send at `now`: the latest of the
   * two buckets' refill, the recorded block and the quota pacing. Sets
   * `shortBucket` to the bucket that decides it, so the hot path allocates nothing.
   */
  waitFor(entry: WorkflowEntry | undefined, now: number): number {
    const tokenWait = waitForToken(this.#global, this.#globalRate, now);
    const workflowWait = entry === undefined ? 0 : waitForToken(entry, this.#workflowRate, now);
    const blockedUntil = this.#blocks.until;
    let globalWait = blockedUntil > now ? Math.ceil(blockedUntil - now) : 0;
    if (tokenWait > globalWait) globalWait = tokenWait;
    const pacer = this.#pacer;
    if (pacer.active) {
      const paceWait = pacer.waitAt(now);
      if (paceWait > globalWait) globalWait = paceWait;
    }
    if (workflowWait > globalWait) {
      this.shortBucket = "workflow";
      return workflowWait;
    }
    this.shortBucket = "global";
    return globalWait;
  }

  /** Takes the tokens of an allowed request, making the workflow's bucket on first use. */
  take(workflowId: string, entry: WorkflowEntry | undefined, now: number): void {
    this.#global.credit -= TOKEN;
    const taken = entry ?? this.workflows.create(workflowId, now);
    taken.credit -= TOKEN;
    taken.lastActiveAt = now;
    if (this.#pacer.active) this.#pacer.taken(now);
  }

  /**
   * When a new waiter's turn would come if every waiter ahead takes its token
   * first: the global bucket must hand out one token per waiter ahead, the
   * workflow's one per waiter of the same workflow ahead. `Infinity` when the
   * waiters ahead would empty a bucket that never refills (they may yet give up).
   */
  projectedWait(
    entry: WorkflowEntry | undefined,
    now: number,
    own: number,
    ownBucket: RateLimitBucket,
    ahead: { all: number; sameWorkflow: number },
  ): { wait: number; bucket: RateLimitBucket } {
    const globalTokens = msUntilTokens(this.#global, this.#globalRate, now, ahead.all + 1);
    const workflowState = entry ?? {
      credit: this.#workflowRate.capacityUnits,
      updatedAt: now,
      readyAt: 0,
    };
    const workflowTokens = msUntilTokens(
      workflowState,
      this.#workflowRate,
      now,
      ahead.sameWorkflow + 1,
    );
    const globalWait = Math.max(own, globalTokens);
    return workflowTokens > globalWait
      ? { wait: workflowTokens, bucket: "workflow" }
      : {
          wait: globalWait,
          bucket: ownBucket === "workflow" && own >= globalTokens ? "workflow" : "global",
        };
  }

  /** Empties the global bucket at `now` (a primary limit with no time): it refills at its normal rate. */
  emptyGlobal(now: number): void {
    refill(this.#global, this.#globalRate, now);
    this.#global.credit = 0;
    this.#global.readyAt = 0;
  }

  /** Milliseconds until the global bucket has a token at `now`. */
  globalTokenWait(now: number): number {
    return waitForToken(this.#global, this.#globalRate, now);
  }

  /** Whole tokens in the global bucket at `now`. */
  globalTokens(now: number): number {
    return tokensAt(this.#global, this.#globalRate, now);
  }

  /** Whole tokens in a workflow's bucket at `now`; a workflow with no bucket has a full one. */
  workflowTokens(entry: WorkflowEntry | undefined, now: number): number {
    return entry === undefined
      ? this.#workflowRate.capacityUnits / TOKEN
      : tokensAt(entry, this.#workflowRate, now);
  }
}

function tokensAt(state: BucketState, rate: BucketRate, now: number): number {
  const elapsed = now > state.updatedAt ? now - state.updatedAt : 0;
  return Math.floor(Math.min(rate.capacityUnits, state.credit + elapsed * rate.unitsPerMs) / TOKEN);
}

import type { TimerHandle } from "@beauvoir/core";
import { type RateLimitBucket, RateLimitedError, RateLimiterShutDownError } from "./errors.js";
import {
  type RateLimiterOptions,
  type ResolvedRateLimiterOptions,
  resolveOptions,
} from "./options.js";
import {
  type BucketRate,
  type BucketState,
  bucketRate,
  isFullAt,
  refill,
  TOKEN,
  waitForToken,
} from "./token-bucket.js";

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
   * token first: the later of the short buckets' refill times and the end of a
   * recorded rate-limit block. Exact to the millisecond for whole-number options.
   */
  readonly retryAfterMs: number;
  /** The bucket that sets `retryAfterMs` (`"global"` on a tie, or during a block). */
  readonly bucket: RateLimitBucket;
}

/** What `tryConsume()` returns. */
export type ConsumeResult = ConsumeAllowed | ConsumeDenied;

/** Which GitHub limit was hit: the hourly quota or a burst ("secondary") limit. */
export type RateLimitKind = "primary" | "secondary";

/** Per-call options of `consume()`. */
export interface ConsumeOptions {
  /** Aborting stops the wait; `consume()` rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Longest the caller will wait. When the needed wait is longer, `consume()`
   * rejects at once with {@link RateLimitedError} instead of sleeping.
   * `0` turns `consume()` into a throwing `tryConsume()`.
   * @default Infinity
   */
  maxWaitMs?: number;
}

/** Whole tokens left, from `getRemainingTokens()`. */
export interface RemainingTokens {
  readonly global: number;
  readonly workflow: number;
}

interface WorkflowEntry extends BucketState {
  /** Last allowed request or backoff query, for idle eviction. */
  lastActiveAt: number;
  /** Backoffs handed out since the last success. */
  attempts: number;
}

interface Waiter {
  timer: TimerHandle;
  reject(reason: unknown): void;
}

const ALLOWED: ConsumeAllowed = Object.freeze({ allowed: true, bucket: null });

/** `2^60` times any sane base is past any ceiling; stop counting there. */
const MAX_EXPONENT = 60;

/**
 * A hierarchical token-bucket rate limiter for programs that call a rate-limited
 * API (GitHub's, first of all) from several workflows: every request needs a
 * token from a shared global bucket and from the workflow's own bucket, so one
 * busy workflow cannot starve the others and all of them together stay under
 * the account's budget. Rate limits the API reports are recorded to block
 * everyone until the API's reset time, and `getBackoffMs()` gives jittered
 * exponential backoff that respects them.
 *
 * Single process, in memory: buckets are not shared between processes and
 * start full after a restart.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter();
 * const verdict = limiter.tryConsume("triage");
 * if (!verdict.allowed) {
 *   console.log(`wait ${verdict.retryAfterMs} ms (${verdict.bucket} bucket)`);
 * }
 * ```
 */
export class RateLimiter {
  readonly #options: ResolvedRateLimiterOptions;
  readonly #now: () => number;
  readonly #globalRate: BucketRate;
  readonly #workflowRate: BucketRate;
  readonly #global: BucketState;
  readonly #workflows = new Map<string, WorkflowEntry>();
  readonly #waiters = new Set<Waiter>();
  /** End of the block set by a recorded rate limit, epoch milliseconds; 0 when none. */
  #blockedUntil = 0;
  #cleanupTimer: TimerHandle | undefined;
  #shutDown = false;
  /** The last workflow looked up: a workflow usually sends several requests in a row. */
  #lastWorkflowId: string | undefined;
  #lastEntry: WorkflowEntry | undefined;
  #lastDenied: ConsumeDenied = Object.freeze({
    allowed: false,
    retryAfterMs: -1,
    bucket: "global",
  });

  /**
   * @param options - bucket sizes, eviction, backoff, clock, random source, logger;
   *   see {@link RateLimiterOptions} for the defaults.
   * @throws TypeError or RangeError naming the option when an option is invalid.
   */
  constructor(options?: RateLimiterOptions) {
    this.#options = resolveOptions(options);
    this.#now = this.#options.now;
    const { global, perWorkflow } = this.#options;
    this.#globalRate = bucketRate(global.capacity, global.refillPerHour);
    this.#workflowRate = bucketRate(perWorkflow.capacity, perWorkflow.refillPerHour);
    this.#global = { credit: this.#globalRate.capacityUnits, updatedAt: this.#now(), readyAt: 0 };
  }

  /**
   * Takes one token from the global bucket and one from `workflowId`'s bucket,
   * or takes nothing at all. The workflow's bucket is made, full, on its first
   * allowed request.
   * @param workflowId - the workflow asking; any string.
   * @returns `{ allowed: true, bucket: null }`, or `{ allowed: false,
   *   retryAfterMs, bucket }` naming the bucket that is short.
   * @throws TypeError when `workflowId` is not a string.
   * @example
   * ```ts
   * const verdict = limiter.tryConsume("triage");
   * if (verdict.allowed) await callGitHub();
   * else setTimeout(retry, verdict.retryAfterMs);
   * ```
   */
  tryConsume(workflowId: string): ConsumeResult {
    if (typeof workflowId !== "string") throw new TypeError("workflowId must be a string");
    const now = this.#now();
    const globalTokenWait = waitForToken(this.#global, this.#globalRate, now);
    let entry = this.#lookUp(workflowId);
    const workflowWait = entry === undefined ? 0 : waitForToken(entry, this.#workflowRate, now);
    const blockWait = this.#blockedUntil > now ? Math.ceil(this.#blockedUntil - now) : 0;
    if (globalTokenWait === 0 && workflowWait === 0 && blockWait === 0) {
      this.#global.credit -= TOKEN;
      if (entry === undefined) entry = this.#createEntry(workflowId, now);
      entry.credit -= TOKEN;
      entry.lastActiveAt = now;
      return ALLOWED;
    }
    const globalWait = Math.max(globalTokenWait, blockWait);
    return workflowWait > globalWait
      ? this.#denied(workflowWait, "workflow")
      : this.#denied(globalWait, "global");
  }

  /**
   * Waits until a token is available from both buckets and takes it. Waiters
   * are not queued: each one retries when its computed wait ends, so under
   * contention a caller of `tryConsume()` can take a token a waiter was about to get.
   * @param workflowId - the workflow asking.
   * @param options - `signal` to stop waiting; `maxWaitMs` to fail fast instead of waiting long.
   * @returns a promise that resolves once the token is taken.
   * @throws {@link RateLimitedError} when the wait would exceed `maxWaitMs`.
   * @throws {@link RateLimiterShutDownError} when the limiter is or gets shut down.
   * @throws the signal's reason when `signal` aborts.
   * @example
   * ```ts
   * await limiter.consume("triage", { signal: AbortSignal.timeout(30_000) });
   * await callGitHub();
   * ```
   */
  async consume(workflowId: string, options: ConsumeOptions = {}): Promise<void> {
    const { signal, maxWaitMs = Number.POSITIVE_INFINITY } = options;
    if (typeof maxWaitMs !== "number" || Number.isNaN(maxWaitMs) || maxWaitMs < 0) {
      throw new RangeError(
        `maxWaitMs must be a non-negative number of milliseconds, got ${maxWaitMs}`,
      );
    }
    const deadline = this.#now() + maxWaitMs;
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      if (this.#shutDown) throw new RateLimiterShutDownError();
      const verdict = this.tryConsume(workflowId);
      if (verdict.allowed) return;
      if (this.#now() + verdict.retryAfterMs > deadline) {
        throw new RateLimitedError(verdict.retryAfterMs, verdict.bucket, workflowId);
      }
      await this.#wait(verdict.retryAfterMs, signal);
    }
  }

  /**
   * Records a rate limit the API reported, so nobody sends another request
   * before the API allows it (GitHub may ban integrations that keep sending).
   * Both kinds block the global bucket, because GitHub applies both to the whole
   * token, not to one workflow:
   *
   * - with `retryAfterSec` and/or `resetAtEpochSec`: blocked until the later of
   *   the two (at most `maxBlockMs` from now);
   * - `"primary"` with neither: the global bucket is emptied and refills at its
   *   normal rate;
   * - `"secondary"` with neither: blocked for `secondaryDefaultWaitMs` (60 s).
   *
   * A block never shortens an earlier, longer one.
   * @param workflowId - the workflow whose request was refused (for the log).
   * @param kind - `"primary"` (hourly quota used up) or `"secondary"` (burst limit).
   * @param retryAfterSec - the `retry-after` header, in seconds.
   * @param resetAtEpochSec - the `x-ratelimit-reset` header, in UTC epoch seconds.
   * @throws TypeError for an unknown `kind`; RangeError for a negative or non-numeric time.
   * @example
   * ```ts
   * limiter.recordRateLimit("triage", "primary", undefined, 1_700_000_000);
   * ```
   */
  recordRateLimit(
    workflowId: string,
    kind: RateLimitKind,
    retryAfterSec?: number,
    resetAtEpochSec?: number,
  ): void {
    if (kind !== "primary" && kind !== "secondary") {
      throw new TypeError(`kind must be "primary" or "secondary", got ${String(kind)}`);
    }
    assertSeconds(retryAfterSec, "retryAfterSec");
    assertSeconds(resetAtEpochSec, "resetAtEpochSec");
    const now = this.#now();
    let until = Number.NEGATIVE_INFINITY;
    if (retryAfterSec !== undefined) until = now + retryAfterSec * 1000;
    if (resetAtEpochSec !== undefined) until = Math.max(until, resetAtEpochSec * 1000);
    const told = retryAfterSec !== undefined || resetAtEpochSec !== undefined;
    if (!told && kind === "secondary") until = now + this.#options.secondaryDefaultWaitMs;
    if (!told && kind === "primary") {
      refill(this.#global, this.#globalRate, now);
      this.#global.credit = 0;
      this.#global.readyAt = 0;
    }
    until = Math.min(until, now + this.#options.maxBlockMs);
    if (until > this.#blockedUntil) this.#blockedUntil = until;
    this.#options.logger.warn("API rate limit recorded; holding requests back", {
      workflowId,
      kind,
      retryAfterSec,
      resetAtEpochSec,
      blockedForMs: Math.max(0, this.#blockedUntil - now),
    });
  }

  /**
   * Forgets the workflow's failed attempts, so its next backoff starts from
   * `backoff.baseMs` again.
   * @param workflowId - the workflow whose request succeeded.
   * @example
   * ```ts
   * const response = await callGitHub();
   * if (response.ok) limiter.recordSuccess("triage");
   * ```
   */
  recordSuccess(workflowId: string): void {
    const entry = this.#workflows.get(workflowId);
    if (entry !== undefined) entry.attempts = 0;
  }

  /**
   * How long to wait before retrying a failed request of `workflowId`:
   * `min(maxMs, baseMs * 2^attempts) * (0.75 + random * 0.5)`, rounded, and
   * never less than what is left of a recorded rate-limit block (the
   * `retry-after` floor). Each call counts as one attempt, so successive calls
   * double the wait until {@link RateLimiter.recordSuccess}.
   * @param workflowId - the workflow that will retry.
   * @returns milliseconds to wait.
   * @throws TypeError when `workflowId` is not a string.
   * @example
   * ```ts
   * await delay(limiter.getBackoffMs("triage"));
   * ```
   */
  getBackoffMs(workflowId: string): number {
    if (typeof workflowId !== "string") throw new TypeError("workflowId must be a string");
    const now = this.#now();
    const entry = this.#workflows.get(workflowId) ?? this.#createEntry(workflowId, now);
    entry.lastActiveAt = now;
    const { baseMs, maxMs } = this.#options.backoff;
    const exponential = Math.min(maxMs, baseMs * 2 ** entry.attempts);
    if (entry.attempts < MAX_EXPONENT) entry.attempts++;
    const jittered = Math.round(exponential * (0.75 + this.#options.random() * 0.5));
    return Math.max(jittered, Math.ceil(this.#blockedUntil - now));
  }

  /**
   * Forgets workflow buckets unused for `idleEvictionMs` that have refilled
   * completely, so forgetting them changes nothing but their backoff count.
   * Runs on its own every `cleanupIntervalMs`.
   * @returns how many buckets were forgotten.
   * @example
   * ```ts
   * const evicted = limiter.cleanup();
   * ```
   */
  cleanup(): number {
    const now = this.#now();
    const { idleEvictionMs } = this.#options;
    let evicted = 0;
    for (const [workflowId, entry] of this.#workflows) {
      if (now - entry.lastActiveAt >= idleEvictionMs && isFullAt(entry, this.#workflowRate, now)) {
        this.#workflows.delete(workflowId);
        evicted++;
        if (workflowId === this.#lastWorkflowId) {
          this.#lastWorkflowId = undefined;
          this.#lastEntry = undefined;
        }
      }
    }
    if (evicted > 0) {
      this.#options.logger.debug("Evicted idle workflow buckets", {
        evicted,
        remaining: this.#workflows.size,
      });
    }
    return evicted;
  }

  /**
   * Stops the cleanup timer and rejects every waiting `consume()` with
   * {@link RateLimiterShutDownError}. `tryConsume()` and the other methods keep
   * working; idle buckets are then only evicted by calling `cleanup()`.
   * Calling it again does nothing.
   * @example
   * ```ts
   * process.once("SIGTERM", () => limiter.shutdown());
   * ```
   */
  shutdown(): void {
    this.#shutDown = true;
    if (this.#cleanupTimer !== undefined) {
      this.#options.clock.clearTimeout(this.#cleanupTimer);
      this.#cleanupTimer = undefined;
    }
    const error = new RateLimiterShutDownError();
    for (const waiter of this.#waiters) {
      this.#options.clock.clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.#waiters.clear();
  }

  /**
   * Whole tokens left now, without taking any.
   * @param workflowId - whose bucket to read; a workflow never seen has a full one.
   * @returns the tokens in the global bucket and in the workflow's bucket.
   * @example
   * ```ts
   * const { global, workflow } = limiter.getRemainingTokens("triage");
   * ```
   */
  getRemainingTokens(workflowId?: string): RemainingTokens {
    const now = this.#now();
    const entry = workflowId === undefined ? undefined : this.#workflows.get(workflowId);
    return {
      global: tokensAt(this.#global, this.#globalRate, now),
      workflow:
        entry === undefined
          ? this.#workflowRate.capacityUnits / TOKEN
          : tokensAt(entry, this.#workflowRate, now),
    };
  }

  /** Epoch milliseconds at which the current rate-limit block ends, or `null` when none is active. */
  get blockedUntil(): number | null {
    return this.#blockedUntil > this.#now() ? this.#blockedUntil : null;
  }

  /** Number of workflow buckets held in memory. */
  get trackedWorkflows(): number {
    return this.#workflows.size;
  }

  #lookUp(workflowId: string): WorkflowEntry | undefined {
    if (workflowId === this.#lastWorkflowId) return this.#lastEntry;
    const entry = this.#workflows.get(workflowId);
    if (entry !== undefined) {
      this.#lastWorkflowId = workflowId;
      this.#lastEntry = entry;
    }
    return entry;
  }

  /** Refusals at the same millisecond share one frozen answer instead of allocating each. */
  #denied(retryAfterMs: number, bucket: RateLimitBucket): ConsumeDenied {
    const last = this.#lastDenied;
    if (last.retryAfterMs === retryAfterMs && last.bucket === bucket) return last;
    this.#lastDenied = Object.freeze({ allowed: false, retryAfterMs, bucket });
    return this.#lastDenied;
  }

  #createEntry(workflowId: string, now: number): WorkflowEntry {
    const entry: WorkflowEntry = {
      credit: this.#workflowRate.capacityUnits,
      updatedAt: now,
      readyAt: 0,
      lastActiveAt: now,
      attempts: 0,
    };
    this.#workflows.set(workflowId, entry);
    if (this.#cleanupTimer === undefined) this.#armCleanup();
    return entry;
  }

  /** The timer exists only while there are buckets to evict, and never holds the process open. */
  #armCleanup(): void {
    const { cleanupIntervalMs, clock } = this.#options;
    if (this.#shutDown || cleanupIntervalMs === Number.POSITIVE_INFINITY) return;
    this.#cleanupTimer = clock.setTimeout(() => {
      this.#cleanupTimer = undefined;
      this.cleanup();
      if (this.#workflows.size > 0) this.#armCleanup();
    }, cleanupIntervalMs);
    this.#cleanupTimer.unref?.();
  }

  #wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
    const { clock } = this.#options;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clock.clearTimeout(waiter.timer);
        this.#waiters.delete(waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        timer: clock.setTimeout(() => {
          this.#waiters.delete(waiter);
          signal?.removeEventListener("abort", onAbort);
          resolve();
        }, ms),
        reject: (reason) => {
          signal?.removeEventListener("abort", onAbort);
          reject(reason);
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

function tokensAt(state: BucketState, rate: BucketRate, now: number): number {
  const elapsed = now > state.updatedAt ? now - state.updatedAt : 0;
  return Math.floor(Math.min(rate.capacityUnits, state.credit + elapsed * rate.unitsPerMs) / TOKEN);
}

function assertSeconds(value: number | undefined, name: string): void {
  if (value === undefined) return;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0 || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a non-negative finite number of seconds, got ${value}`);
  }
}

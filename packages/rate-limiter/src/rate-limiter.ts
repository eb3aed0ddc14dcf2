import { nextBackoffMs } from "./backoff.js";
import type { RateLimitBlocksSnapshot, RateLimitKind } from "./blocks-snapshot.js";
import type {
  ConsumeOptions,
  ConsumeResult,
  RecordedRateLimit,
  RemainingTokens,
} from "./consume-result.js";
import { ALLOWED, DeniedVerdicts } from "./denied-verdicts.js";
import { RateLimitExhaustedError, RateLimitedError, RateLimiterShutDownError } from "./errors.js";
import type { GitHubBlocks } from "./github-blocks.js";
import { GitHubBookkeeping } from "./github-bookkeeping.js";
import { type BlocksChangeEvent, GitHubLimits, type RateLimiterEvents } from "./github-limits.js";
import type { GitHubQuota } from "./github-quota.js";
import { checkConsumeArguments, checkRateLimitArguments } from "./limiter-arguments.js";
import { LimiterBuckets } from "./limiter-buckets.js";
import { observedWaiter } from "./observed-waiter.js";
import {
  type RateLimiterOptions,
  type ResolvedRateLimiterOptions,
  resolveOptions,
} from "./options.js";
import { WaitQueue } from "./wait-queue.js";
import type { WorkflowBuckets } from "./workflow-buckets.js";

/**
 * A hierarchical token-bucket rate limiter for programs that call a rate-limited
 * API (GitHub's, first of all) from several workflows: every request needs a
 * token from a shared global bucket and from the workflow's own bucket, so one
 * busy workflow cannot starve the others and all of them together stay under
 * the account's budget. Rate limits the API reports are recorded to block
 * everyone until the API's reset time; the quota every response reports slows
 * requests down before the API refuses them; `consume()` waits in arrival
 * order; `getBackoffMs()` gives jittered exponential backoff that respects it all.
 *
 * Single process, in memory: token buckets are not shared between processes
 * and start full after a restart. The blocks GitHub imposed can be carried
 * over with `exportBlocks()` / `restoreBlocks()`.
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
  readonly #github: GitHubLimits;
  /** `#github`'s blocks, which every request reads, one hop closer. */
  readonly #blocks: GitHubBlocks;
  readonly #buckets: LimiterBuckets;
  readonly #workflows: WorkflowBuckets;
  readonly #queue: WaitQueue;
  readonly #bookkeeping: GitHubBookkeeping;
  readonly #denied = new DeniedVerdicts();
  #shutDown = false;

  /**
   * @param options - bucket sizes, eviction, backoff, GitHub quota pacing,
   *   clock, random source, logger; see {@link RateLimiterOptions} for the defaults.
   * @throws TypeError or RangeError naming the option when an option is invalid.
   */
  constructor(options?: RateLimiterOptions) {
    this.#options = resolveOptions(options);
    this.#now = this.#options.now;
    const { githubQuota } = this.#options;
    this.#github = new GitHubLimits({
      secondaryDefaultWaitMs: this.#options.secondaryDefaultWaitMs,
      maxBlockMs: this.#options.maxBlockMs,
      paceBelowFraction: githubQuota.paceBelowFraction,
      resources: githubQuota.resources,
      logger: this.#options.logger,
    });
    const { onBlocksChange } = this.#options;
    if (onBlocksChange !== undefined) this.#github.on(onBlocksChange);
    this.#blocks = this.#github.blocks;
    const buckets = new LimiterBuckets(this.#options, this.#blocks, this.#github.pacer);
    this.#buckets = buckets;
    this.#workflows = buckets.workflows;
    this.#queue = new WaitQueue({
      clock: this.#options.clock,
      now: this.#now,
      waitOf: (workflowId, now) => {
        const wait = buckets.waitFor(this.#workflows.lookUp(workflowId), now);
        return { wait, bucket: buckets.shortBucket };
      },
      take: (workflowId, now) => buckets.take(workflowId, this.#workflows.lookUp(workflowId), now),
    });
    this.#bookkeeping = new GitHubBookkeeping(this.#github, buckets, this.#queue, this.#now);
  }

  /**
   * Takes one token from the global bucket and one from `workflowId`'s bucket,
   * or takes nothing at all. The workflow's bucket is made, full, on its first
   * allowed request. Waiting `consume()` callers that may go are served first,
   * so polling cannot take the token a waiter is due.
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
    if (this.#queue.size > 0) this.#queue.drain(now);
    const entry = this.#workflows.lookUp(workflowId);
    const wait = this.#buckets.waitFor(entry, now);
    if (wait === 0) {
      this.#buckets.take(workflowId, entry, now);
      return ALLOWED;
    }
    return this.#denied.verdict(wait, this.#buckets.shortBucket);
  }

  /**
   * Waits until a token is available from both buckets and out of any block,
   * then takes it. Waiters are served first come, first served; one held back
   * only by its own workflow bucket lets the others pass and keeps its place.
   * @param workflowId - the workflow asking.
   * @param options - `signal` to stop waiting; `maxWaitMs` to fail fast instead of waiting long.
   * @returns a promise that resolves once the token is taken.
   * @throws {@link RateLimitedError} when the wait would exceed `maxWaitMs` (nothing taken).
   * @throws {@link RateLimitExhaustedError} when the bucket is empty and never refills.
   * @throws {@link RateLimiterShutDownError} when the limiter is or gets shut down.
   * @throws the signal's reason when `signal` aborts.
   * @throws TypeError / RangeError (as a rejection) for a bad argument.
   * @example
   * ```ts
   * await limiter.consume("triage", { signal: AbortSignal.timeout(30_000), maxWaitMs: 60_000 });
   * await callGitHub();
   * ```
   */
  consume(workflowId: string, options: ConsumeOptions = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { signal, maxWaitMs } = checkConsumeArguments(workflowId, options);
      if (signal?.aborted) throw signal.reason;
      if (this.#shutDown) throw new RateLimiterShutDownError();
      const now = this.#now();
      if (this.#queue.size > 0) this.#queue.drain(now);
      const entry = this.#workflows.lookUp(workflowId);
      const own = this.#buckets.waitFor(entry, now);
      const ownBucket = this.#buckets.shortBucket;
      if (own === Number.POSITIVE_INFINITY)
        throw new RateLimitExhaustedError(ownBucket, workflowId);
      const projected =
        this.#queue.size === 0
          ? { wait: own, bucket: ownBucket }
          : this.#buckets.projectedWait(
              entry,
              now,
              own,
              ownBucket,
              this.#queue.countAhead(workflowId),
            );
      if (projected.wait > maxWaitMs && projected.wait !== Number.POSITIVE_INFINITY) {
        throw new RateLimitedError(projected.wait, projected.bucket, workflowId);
      }
      if (own > maxWaitMs) throw new RateLimitedError(own, ownBucket, workflowId);
      this.#queue.enqueue(
        observedWaiter({
          workflowId,
          startedAt: now,
          maxWaitMs,
          expectedWaitMs: projected.wait,
          signal,
          resolve,
          reject,
          now: this.#now,
        }),
      );
    });
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
   * - `"secondary"` with neither: blocked for `secondaryDefaultWaitMs` (60 s),
   *   twice as long on each repeat (one recorded before the last block ended
   *   plus as long again, with no request let through in between), up to
   *   `maxBlockMs`.
   *
   * A block never shortens an earlier, longer one. Waiters that the block
   * pushes past their `maxWaitMs` are rejected at once.
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
    checkRateLimitArguments(kind, retryAfterSec, resetAtEpochSec);
    this.#bookkeeping.record(workflowId, { kind, retryAfterSec, resetAtEpochSec }, this.#now());
  }

  /**
   * Records the rate limit stated by whatever a request threw or returned: an
   * Octokit `RequestError`, a fetch `Response`, an axios-like error, any
   * `{ status, headers }`, or an error whose `cause` is one of those (read by
   * core's `readHttpFailure`). The rules are {@link parseGitHubRateLimit}'s;
   * the effect is {@link RateLimiter.recordRateLimit}'s, so a secondary limit
   * blocks every request for `retry-after` seconds, until `x-ratelimit-reset`
   * when none is left, else for a minute that doubles on repeats. The quota
   * headers are taken in as by {@link RateLimiter.observeResponse}. An HTTP
   * answer that is not a rate limit ends a streak of secondary limits.
   * Call it once per failed request: each call counts as a repeat.
   * @param value - what the request threw or returned.
   * @param workflowId - the workflow whose request it was, for the log. @default "unknown"
   * @returns the limit and how long requests are now held back, or `null`
   *   when `value` is not a rate-limit answer (nothing recorded).
   * @example
   * ```ts
   * try {
   *   await octokit.rest.issues.addLabels({ owner, repo, issue_number, labels });
   * } catch (error) {
   *   const limit = limiter.recordRateLimitFailure(error, "triage");
   *   if (limit === null) throw error;
   * }
   * ```
   */
  recordRateLimitFailure(value: unknown, workflowId = "unknown"): RecordedRateLimit | null {
    return this.#bookkeeping.recordFailure(value, workflowId);
  }

  /**
   * Takes in the quota GitHub reports on a response (`x-ratelimit-remaining`,
   * `x-ratelimit-reset`, `x-ratelimit-limit`, `x-ratelimit-resource`), so the
   * limiter slows down before GitHub says no: with none left, nothing goes
   * until the reset (a primary block, kept by `exportBlocks()`); with
   * `githubQuota.paceBelowFraction` of the limit or less left, the requests
   * left are spread evenly over the time until the reset. Between responses
   * the limiter counts its own requests down. A response whose status is not
   * 403/429 ends a streak of secondary limits. It never records a refusal:
   * give failures to {@link RateLimiter.recordRateLimitFailure}. Responses of
   * resources not in `githubQuota.resources` (default `core`) are ignored.
   * @param value - a response (fetch, Octokit's `{ status, headers }`, …), or anything.
   * @returns the quota read, or `null` when there is none to follow.
   * @example
   * ```ts
   * const response = await octokit.request("GET /repos/{owner}/{repo}", { owner, repo });
   * limiter.observeResponse(response);
   * ```
   */
  observeResponse(value: unknown): GitHubQuota | null {
    return this.#bookkeeping.observeResponse(value);
  }

  /**
   * The blocks GitHub imposed that are still running, as plain JSON with
   * absolute epoch times, to keep in a store and hand to
   * {@link RateLimiter.restoreBlocks} after a restart. Token counts are not in
   * it: a restarted limiter starts with full buckets.
   * @returns a {@link RateLimitBlocksSnapshot} (version 1).
   * @example
   * ```ts
   * limiter.on("blocksChange", ({ snapshot }) => void store.set(snapshot));
   * ```
   */
  exportBlocks(): RateLimitBlocksSnapshot {
    return this.#bookkeeping.exportBlocks();
  }

  /**
   * Adds the blocks of a snapshot from {@link RateLimiter.exportBlocks}:
   * those already over are dropped, the rest capped at `maxBlockMs` from now,
   * and none shortens a block already recorded. The snapshot is checked whole
   * first, so a bad one changes nothing.
   * @param snapshot - what `exportBlocks()` returned, read back from storage.
   * @throws {@link RateLimitSnapshotError} naming the field, for a malformed snapshot.
   * @example
   * ```ts
   * const saved = await store.get();
   * if (saved) limiter.restoreBlocks(saved);
   * ```
   */
  restoreBlocks(snapshot: unknown): void {
    this.#bookkeeping.restoreBlocks(snapshot);
  }

  /**
   * Subscribes to an event: `blocksChange`, whenever the blocks that
   * `exportBlocks()` returns change (a block set or lengthened, a streak grown
   * or ended, blocks restored), with the new snapshot. A block running out by
   * itself fires nothing. A listener that throws is logged and changes nothing.
   * @param event - `"blocksChange"`.
   * @param listener - receives `{ reason, at, snapshot }`.
   * @returns a function that unsubscribes.
   * @throws TypeError for an unknown event or a listener that is not a function.
   * @example
   * ```ts
   * const stop = limiter.on("blocksChange", ({ snapshot }) => persist(snapshot));
   * ```
   */
  on<Name extends keyof RateLimiterEvents>(
    event: Name,
    listener: (payload: RateLimiterEvents[Name]) => void,
  ): () => void {
    if (event !== "blocksChange") {
      throw new TypeError(`unknown event ${JSON.stringify(event)}; use "blocksChange"`);
    }
    if (typeof listener !== "function") throw new TypeError("listener must be a function");
    return this.#github.on(listener as (payload: BlocksChangeEvent) => void);
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
    const entry = this.#workflows.lookUp(workflowId);
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
    const entry = this.#workflows.lookUp(workflowId) ?? this.#workflows.create(workflowId, now);
    entry.lastActiveAt = now;
    const jittered = nextBackoffMs(entry, this.#options.backoff, this.#options.random);
    return Math.max(jittered, Math.ceil(this.#blocks.until - now));
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
    return this.#workflows.cleanup();
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
    this.#workflows.stop();
    this.#queue.rejectAll(new RateLimiterShutDownError());
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
    const entry = workflowId === undefined ? undefined : this.#workflows.lookUp(workflowId);
    return {
      global: this.#buckets.globalTokens(now),
      workflow: this.#buckets.workflowTokens(entry, now),
    };
  }

  /** Epoch milliseconds at which the current rate-limit block ends, or `null` when none is active. */
  get blockedUntil(): number | null {
    const until = this.#blocks.until;
    return until > this.#now() ? until : null;
  }

  /** Number of workflow buckets held in memory. */
  get trackedWorkflows(): number {
    return this.#workflows.size;
  }
}

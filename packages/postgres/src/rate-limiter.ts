import { type Defined, delay } from "@beauvoir/core";
import {
  type ConsumeOptions,
  type ConsumeResult,
  type GitHubRateLimit,
  type GitHubResponseLike,
  parseGitHubRateLimit,
  RATE_LIMITER_DEFAULTS,
  type RateLimitBucket,
  RateLimitedError,
  type RateLimitKind,
  readGitHubRateLimit,
  type TokenBucketOptions,
} from "@beauvoir/rate-limiter";
import { SYNCHRONOUS_COMMIT } from "./audit-trail.js";
import { positive } from "./connection-options.js";
import type { StatementRunner } from "./statement-runner.js";

/** Options of a {@link PostgresRateLimiter}. */
export interface PostgresRateLimiterOptions {
  /**
   * What the limits belong to: every replica using the same API token must use
   * the same scope, e.g. `github:installation-4242`. Never the token itself.
   */
  scope: string;
  /** The bucket every workflow draws from. @default { capacity: 500, refillPerHour: 500 } */
  global?: TokenBucketOptions | undefined;
  /** Each workflow's own bucket. @default { capacity: 100, refillPerHour: 100 } */
  perWorkflow?: TokenBucketOptions | undefined;
  /** Block after a secondary limit that gave no time. @default 60_000 */
  secondaryDefaultWaitMs?: number | undefined;
  /** Longest block a recorded limit can impose. @default 3_600_000 */
  maxBlockMs?: number | undefined;
}

/** A block GitHub imposed, as stored. */
export interface StoredRateLimitBlock {
  scope: string;
  kind: RateLimitKind;
  /** Until when (database clock). */
  blockedUntil: Date;
  recordedAt: Date;
  /** The instance that recorded it, when known. */
  recordedBy: string | null;
  workflowId: string | null;
}

interface ResolvedBucket {
  capacity: number;
  perSecond: number;
}

interface TakeRow {
  allowed: boolean;
  wait_ms: number | null;
  limiting_bucket: string | null;
}

/**
 * The token buckets of `@beauvoir/rate-limiter`, shared by every replica: each
 * request takes a token from the global bucket and from its workflow's bucket,
 * or takes nothing, in one statement on the database clock (refused requests
 * consume nothing). Token counts live in an UNLOGGED table: after a database
 * crash the buckets start full, as they do after a process restart with the
 * in-memory limiter. Blocks GitHub imposes (a primary limit's reset, a
 * secondary limit's `retry-after`) are stored durably and honoured by every
 * replica using the same scope.
 *
 * A lost reply can make a resent take count twice: the limiter then lets
 * through less, never more, than its buckets allow.
 */
export class PostgresRateLimiter {
  /** The scope the limits belong to. */
  readonly scope: string;
  readonly #runner: StatementRunner;
  readonly #schema: string;
  readonly #instanceId: string | null;
  readonly #global: ResolvedBucket;
  readonly #perWorkflow: ResolvedBucket;
  readonly #secondaryDefaultWaitMs: number;
  readonly #maxBlockMs: number;

  /**
   * @internal Made by the backend (or its factory), which passes these in.
   * @param runner - how statements are sent.
   * @param schema - the quoted schema.
   * @param instanceId - recorded with the blocks; `null` when none.
   * @param options - scope, buckets, waits.
   * @throws TypeError or RangeError naming a bad option.
   */
  constructor(
    runner: StatementRunner,
    schema: string,
    instanceId: string | null,
    options: PostgresRateLimiterOptions,
  ) {
    if (typeof options?.scope !== "string" || options.scope.length === 0) {
      throw new TypeError("scope must be a non-empty string naming the API token's limits");
    }
    this.scope = options.scope;
    this.#runner = runner;
    this.#schema = schema;
    this.#instanceId = instanceId;
    this.#global = resolveBucket(options.global, RATE_LIMITER_DEFAULTS.global, "global");
    this.#perWorkflow = resolveBucket(
      options.perWorkflow,
      RATE_LIMITER_DEFAULTS.perWorkflow,
      "perWorkflow",
    );
    this.#secondaryDefaultWaitMs = positive(
      options.secondaryDefaultWaitMs ?? RATE_LIMITER_DEFAULTS.secondaryDefaultWaitMs,
      "secondaryDefaultWaitMs",
    );
    this.#maxBlockMs = positive(
      options.maxBlockMs ?? RATE_LIMITER_DEFAULTS.maxBlockMs,
      "maxBlockMs",
    );
  }

  /**
   * Takes one token from the global bucket and one from the workflow's, or
   * nothing at all.
   * @param workflowId - the workflow asking.
   * @returns `{ allowed: true }`, or `{ allowed: false, retryAfterMs, bucket }`
   *   (`Infinity` for a bucket that does not refill).
   * @example
   * ```ts
   * const verdict = await limiter.tryConsume("triage");
   * if (!verdict.allowed) console.log(`wait ${verdict.retryAfterMs} ms`);
   * ```
   */
  async tryConsume(workflowId: string): Promise<ConsumeResult> {
    if (typeof workflowId !== "string") throw new TypeError("workflowId must be a string");
    const { rows } = await this.#runner.run<TakeRow>(
      "rateLimiter.take",
      `SELECT allowed, wait_ms, limiting_bucket
         FROM ${this.#schema}.rate_limit_take($1, $2::text[], $3::double precision[], $4::double precision[])`,
      [
        this.scope,
        ["global", `workflow:${workflowId}`],
        [this.#global.capacity, this.#perWorkflow.capacity],
        [this.#global.perSecond, this.#perWorkflow.perSecond],
      ],
    );
    const row = rows[0]!;
    if (row.allowed) return { allowed: true, bucket: null };
    const bucket: RateLimitBucket = row.limiting_bucket === "global" ? "global" : "workflow";
    const wait = row.wait_ms === null ? 0 : Number(row.wait_ms);
    return {
      allowed: false,
      retryAfterMs: Number.isFinite(wait) ? Math.max(1, Math.ceil(wait)) : Number.POSITIVE_INFINITY,
      bucket,
    };
  }

  /**
   * Waits for a token (and the end of any block) and takes it.
   * @param workflowId - the workflow asking.
   * @param options - `signal`, `maxWaitMs` (default `Infinity`).
   * @throws `RateLimitedError` (`@beauvoir/rate-limiter`) when the wait would exceed `maxWaitMs`; the signal's reason.
   */
  async consume(workflowId: string, options: ConsumeOptions = {}): Promise<void> {
    const { signal, maxWaitMs = Number.POSITIVE_INFINITY } = options;
    if (typeof maxWaitMs !== "number" || Number.isNaN(maxWaitMs) || maxWaitMs < 0) {
      throw new RangeError(`maxWaitMs must be a non-negative number, got ${maxWaitMs}`);
    }
    const { clock } = this.#runner.settings;
    const deadline = clock.now() + maxWaitMs;
    for (;;) {
      signal?.throwIfAborted();
      const verdict = await this.tryConsume(workflowId);
      if (verdict.allowed) return;
      if (clock.now() + verdict.retryAfterMs > deadline) {
        throw new RateLimitedError(verdict.retryAfterMs, verdict.bucket, workflowId);
      }
      await delay(verdict.retryAfterMs, { signal, clock });
    }
  }

  /**
   * Records a rate limit the API reported, for every replica of this scope
   * (same rules as `RateLimiter.recordRateLimit`): blocked until the later of
   * `retry-after` and the reset time, at most `maxBlockMs` ahead; a secondary
   * limit with neither blocks for `secondaryDefaultWaitMs`; a primary one with
   * neither empties the global bucket. A block never shortens a longer one.
   * @param workflowId - the workflow refused.
   * @param kind - `primary` or `secondary`.
   * @param retryAfterSec - `retry-after`, seconds.
   * @param resetAtEpochSec - `x-ratelimit-reset`, epoch seconds.
   */
  async recordRateLimit(
    workflowId: string,
    kind: RateLimitKind,
    retryAfterSec?: number,
    resetAtEpochSec?: number,
  ): Promise<void> {
    if (kind !== "primary" && kind !== "secondary") {
      throw new TypeError(`kind must be "primary" or "secondary", got ${String(kind)}`);
    }
    assertSeconds(retryAfterSec, "retryAfterSec");
    assertSeconds(resetAtEpochSec, "resetAtEpochSec");
    let retryAfterMs = retryAfterSec === undefined ? null : retryAfterSec * 1000;
    if (retryAfterMs === null && resetAtEpochSec === undefined) {
      if (kind === "primary") {
        await this.#emptyGlobalBucket();
        return;
      }
      retryAfterMs = this.#secondaryDefaultWaitMs;
    }
    await this.#runner.run(
      "rateLimiter.recordBlock",
      `INSERT INTO ${this.#schema}.rate_blocks AS b
         (scope, kind, blocked_until, recorded_at, recorded_by, workflow_id)
       SELECT $1, $2,
              LEAST(GREATEST(now() + $3::double precision * interval '1 millisecond',
                             to_timestamp($4::double precision)),
                    now() + $5::double precision * interval '1 millisecond'),
              now(), $6, $7
         FROM ${SYNCHRONOUS_COMMIT}
       ON CONFLICT (scope) DO UPDATE SET
         kind = CASE WHEN EXCLUDED.blocked_until > b.blocked_until THEN EXCLUDED.kind ELSE b.kind END,
         blocked_until = GREATEST(b.blocked_until, EXCLUDED.blocked_until),
         recorded_at = EXCLUDED.recorded_at, recorded_by = EXCLUDED.recorded_by,
         workflow_id = EXCLUDED.workflow_id`,
      [
        this.scope,
        kind,
        retryAfterMs,
        resetAtEpochSec ?? null,
        this.#maxBlockMs,
        this.#instanceId,
        workflowId,
      ],
    );
    this.#runner.settings.logger.warn("API rate limit recorded for every replica", {
      scope: this.scope,
      workflowId,
      kind,
      retryAfterSec,
      resetAtEpochSec,
    });
  }

  /**
   * Reads GitHub's rate-limit signals from a failed response (or an Octokit
   * error) and records them; does nothing for other failures.
   * @param workflowId - the workflow refused.
   * @param response - the response or error.
   * @returns the kind recorded, or `null`.
   */
  async recordGitHubRateLimit(
    workflowId: string,
    response: GitHubResponseLike,
  ): Promise<RateLimitKind | null> {
    const limit = parseGitHubRateLimit(response);
    if (limit === null) return null;
    await this.recordRateLimit(workflowId, limit.kind, limit.retryAfterSec, limit.resetAtEpochSec);
    return limit.kind;
  }

  /**
   * Records the rate limit a failure carries, for every replica of this scope:
   * a thrown Octokit error, a thrown or returned fetch `Response` (its body is
   * read for the secondary-limit text), or anything with `status` and
   * `headers`. Does nothing for other failures.
   * @param value - what the request threw or returned.
   * @param workflowId - the workflow refused. @default "unknown"
   * @returns the limit recorded, or `null`.
   */
  async recordRateLimitFailure(
    value: unknown,
    workflowId = "unknown",
  ): Promise<GitHubRateLimit | null> {
    const limit = await readGitHubRateLimit(value);
    if (limit === null) return null;
    await this.recordRateLimit(workflowId, limit.kind, limit.retryAfterSec, limit.resetAtEpochSec);
    return limit;
  }

  /** @returns when the current block of this scope ends (database clock), or `null` when there is none. */
  async blockedUntil(): Promise<Date | null> {
    const { rows } = await this.#runner.run<{ blocked_until: Date }>(
      "rateLimiter.blockedUntil",
      `SELECT blocked_until FROM ${this.#schema}.rate_blocks WHERE scope = $1 AND blocked_until > now()`,
      [this.scope],
    );
    return rows[0]?.blocked_until ?? null;
  }

  /** @returns every stored block of this scope, current or past. */
  async exportBlocks(): Promise<StoredRateLimitBlock[]> {
    const { rows } = await this.#runner.run<{
      scope: string;
      kind: RateLimitKind;
      blocked_until: Date;
      recorded_at: Date;
      recorded_by: string | null;
      workflow_id: string | null;
    }>(
      "rateLimiter.exportBlocks",
      `SELECT scope, kind, blocked_until, recorded_at, recorded_by, workflow_id
         FROM ${this.#schema}.rate_blocks WHERE scope = $1`,
      [this.scope],
    );
    return rows.map((row) => ({
      scope: row.scope,
      kind: row.kind,
      blockedUntil: row.blocked_until,
      recordedAt: row.recorded_at,
      recordedBy: row.recorded_by,
      workflowId: row.workflow_id,
    }));
  }

  async #emptyGlobalBucket(): Promise<void> {
    await this.#runner.run(
      "rateLimiter.emptyGlobal",
      `INSERT INTO ${this.#schema}.rate_buckets AS b (scope, bucket, tokens, updated_at)
       VALUES ($1, 'global', 0, clock_timestamp())
       ON CONFLICT (scope, bucket) DO UPDATE
         SET tokens = 0, updated_at = GREATEST(b.updated_at, clock_timestamp())`,
      [this.scope],
    );
  }
}

function resolveBucket(
  given: TokenBucketOptions | undefined,
  defaults: Defined<TokenBucketOptions>,
  name: string,
): ResolvedBucket {
  const capacity = given?.capacity ?? defaults.capacity;
  const refillPerHour = given?.refillPerHour ?? defaults.refillPerHour;
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new RangeError(`${name}.capacity must be a whole number of at least 1, got ${capacity}`);
  }
  if (typeof refillPerHour !== "number" || !Number.isFinite(refillPerHour) || refillPerHour < 0) {
    throw new RangeError(
      `${name}.refillPerHour must be a finite number of at least 0, got ${refillPerHour}`,
    );
  }
  return { capacity, perSecond: refillPerHour / 3600 };
}

function assertSeconds(value: number | undefined, name: string): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative number of seconds, got ${value}`);
  }
}

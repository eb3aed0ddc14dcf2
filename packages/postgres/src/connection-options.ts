import {
  assertDurationOption,
  type Clock,
  definedFields,
  type Logger,
  silentLogger,
  systemClock,
} from "@beauvoir/core";
import type { PoolLike } from "./queryable.js";
import { type RetryOptions, StatementRunner } from "./statement-runner.js";

/** How the package talks to the database; shared by the backend, `migrate` and the export. */
export interface ConnectionOptions {
  /**
   * Client-side limit on each wait for the database (a checkout from the pool,
   * a reply). A blackholed connection fails after this long and the statement
   * is resent on another connection.
   * @default 6_000
   */
  queryTimeoutMs?: number | undefined;
  /** Resending after transient failures; see {@link RetryOptions}. */
  retry?: RetryOptions | undefined;
  /** Receives resend warnings and background failures. @default silentLogger */
  logger?: Logger | undefined;
  /** Local time: only for waits, timers and local deadlines, never compared with the database's. @default systemClock */
  clock?: Clock | undefined;
  /**
   * Monotonic milliseconds, for the local deadlines of leases and locks: a
   * wall clock stepped back by NTP must not make a replica believe it still
   * holds a lease the database has already let go.
   * @default performance.now
   */
  monotonicNow?: (() => number) | undefined;
  /** Source of jitter. @default Math.random */
  random?: (() => number) | undefined;
}

/**
 * Defaults of {@link ConnectionOptions}.
 * @example
 * ```ts
 * createPostgresBackend({ pool, queryTimeoutMs: 2 * CONNECTION_DEFAULTS.queryTimeoutMs });
 * ```
 */
export const CONNECTION_DEFAULTS = Object.freeze({
  queryTimeoutMs: 6_000,
  retry: Object.freeze({ maxAttempts: 12, baseDelayMs: 25, maxDelayMs: 1_000, budgetMs: 30_000 }),
});

/** @internal Validates the options and builds the runner. */
export function createStatementRunner(
  pool: PoolLike,
  options: ConnectionOptions = {},
): StatementRunner {
  if (typeof pool !== "object" || pool === null || typeof pool.query !== "function") {
    throw new TypeError("pool must be a pg.Pool (an object with query() and connect())");
  }
  if (typeof pool.connect !== "function") {
    throw new TypeError("pool must have connect() (pass a pg.Pool, not a single client)");
  }
  const queryTimeoutMs = positive(
    options.queryTimeoutMs ?? CONNECTION_DEFAULTS.queryTimeoutMs,
    "queryTimeoutMs",
  );
  const retry = { ...CONNECTION_DEFAULTS.retry, ...definedFields(options.retry) };
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) {
    throw new RangeError(`retry.maxAttempts must be a positive integer, got ${retry.maxAttempts}`);
  }
  assertDurationOption(retry.baseDelayMs, "retry.baseDelayMs", { allowInfinity: false });
  assertDurationOption(retry.maxDelayMs, "retry.maxDelayMs", { allowInfinity: false });
  assertDurationOption(retry.budgetMs, "retry.budgetMs");
  const random = options.random ?? Math.random;
  if (typeof random !== "function") throw new TypeError("random must be a function");
  const monotonicNow = options.monotonicNow ?? (() => performance.now());
  if (typeof monotonicNow !== "function") throw new TypeError("monotonicNow must be a function");
  return new StatementRunner(pool, {
    queryTimeoutMs,
    retry,
    clock: options.clock ?? systemClock,
    monotonicNow,
    logger: options.logger ?? silentLogger,
    random,
  });
}

/** @internal A finite duration of at least 1 ms. */
export function positive(value: unknown, option: string): number {
  const ms = assertDurationOption(value, option, { allowInfinity: false });
  if (ms < 1) throw new RangeError(`${option} must be at least 1 ms, got ${ms}`);
  return ms;
}

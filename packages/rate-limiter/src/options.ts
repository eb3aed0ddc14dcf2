import {
  assertDurationOption,
  type Clock,
  type Defined,
  definedFields,
  type Logger,
  silentLogger,
  systemClock,
} from "@beauvoir/core";
import type { BlocksChangeEvent } from "./github-limits.js";

/** Size and speed of one token bucket. */
export interface TokenBucketOptions {
  /**
   * Most tokens the bucket holds: the largest burst it lets through. A whole
   * number, at least 1.
   */
  capacity?: number | undefined;
  /**
   * Tokens added per hour, continuously (not in steps). Any finite number from
   * 0; `0` makes a bucket that never refills (a fixed budget).
   */
  refillPerHour?: number | undefined;
}

/** How `observeResponse()` follows the quota GitHub reports on every response. */
export interface GitHubQuotaOptions {
  /**
   * Once `x-ratelimit-remaining` is at or below this share of
   * `x-ratelimit-limit`, the requests left are spread evenly over the time
   * left until `x-ratelimit-reset`. `0` paces only at 0 left (then nothing is
   * sent until the reset, whatever the fraction).
   * @default 0.1
   */
  paceBelowFraction?: number | undefined;
  /**
   * The `x-ratelimit-resource` values followed; a response without the header
   * counts as `"core"`. Other resources (`search`, `graphql`, …) have quotas of
   * their own that must not hold back the rest.
   * @default ["core"]
   */
  resources?: readonly string[] | undefined;
}

/** Shape of the exponential backoff returned by `getBackoffMs()`. */
export interface BackoffOptions {
  /** Backoff before the first retry, before jitter. @default 1_000 */
  baseMs?: number | undefined;
  /** Ceiling of the exponential part, before jitter (jitter can add up to 25 %). @default 60_000 */
  maxMs?: number | undefined;
}

/** Options of `new RateLimiter(options)`. */
export interface RateLimiterOptions {
  /** The bucket every workflow draws from. @default { capacity: 500, refillPerHour: 500 } */
  global?: TokenBucketOptions | undefined;
  /** Each workflow's own bucket, made on its first allowed request. @default { capacity: 100, refillPerHour: 100 } */
  perWorkflow?: TokenBucketOptions | undefined;
  /**
   * A workflow bucket unused for this long, and full again, is forgotten (with
   * its backoff count). `Infinity` keeps every bucket.
   * @default 3_600_000
   */
  idleEvictionMs?: number | undefined;
  /** How often idle buckets are evicted; `Infinity` turns the timer off (call `cleanup()` yourself). @default 60_000 */
  cleanupIntervalMs?: number | undefined;
  /** Exponential backoff of `getBackoffMs()`. @default { baseMs: 1_000, maxMs: 60_000 } */
  backoff?: BackoffOptions | undefined;
  /**
   * How long a secondary limit blocks when the response said neither
   * `retry-after` nor a reset time. GitHub asks for "at least one minute", and
   * for "an exponentially increasing amount of time" when it goes on: each
   * repeat waits twice as long as the last, up to `maxBlockMs`.
   * @default 60_000
   */
  secondaryDefaultWaitMs?: number | undefined;
  /** Following the quota headers of responses. @default { paceBelowFraction: 0.1, resources: ["core"] } */
  githubQuota?: GitHubQuotaOptions | undefined;
  /**
   * Longest block a recorded rate limit can impose, so a wrong clock or a bogus
   * header cannot stop the program for days. GitHub's primary window is one hour.
   * @default 3_600_000
   */
  maxBlockMs?: number | undefined;
  /**
   * Called whenever the blocks `exportBlocks()` returns change, before the
   * `blocksChange` listeners; the single-consumer form of that event (boot
   * persists the snapshot with it).
   */
  onBlocksChange?: ((event: BlocksChangeEvent) => void) | undefined | undefined;
  /** Source of time and timers. @default systemClock */
  clock?: Clock | undefined;
  /** Replaces `clock.now()` (the plan's form of the option); timers still come from `clock`. */
  now?: (() => number) | undefined;
  /** Random source in [0, 1) for the backoff jitter. @default Math.random */
  random?: (() => number) | undefined;
  /** Receives a warning for each recorded rate limit and each listener that threw. @default silentLogger */
  logger?: Pick<Logger, "warn" | "debug"> | undefined;
}

/** Defaults applied to every {@link RateLimiterOptions}; the design's F5 values. */
export const RATE_LIMITER_DEFAULTS = Object.freeze({
  global: Object.freeze({ capacity: 500, refillPerHour: 500 }),
  perWorkflow: Object.freeze({ capacity: 100, refillPerHour: 100 }),
  idleEvictionMs: 3_600_000,
  cleanupIntervalMs: 60_000,
  backoff: Object.freeze({ baseMs: 1_000, maxMs: 60_000 }),
  secondaryDefaultWaitMs: 60_000,
  maxBlockMs: 3_600_000,
  githubQuota: Object.freeze({
    paceBelowFraction: 0.1,
    resources: Object.freeze(["core"]) as readonly string[],
  }),
});

/** @internal Every option with its default applied and checked. */
export interface ResolvedRateLimiterOptions {
  readonly global: Defined<TokenBucketOptions>;
  readonly perWorkflow: Defined<TokenBucketOptions>;
  readonly idleEvictionMs: number;
  readonly cleanupIntervalMs: number;
  readonly backoff: Defined<BackoffOptions>;
  readonly secondaryDefaultWaitMs: number;
  readonly maxBlockMs: number;
  readonly githubQuota: {
    readonly paceBelowFraction: number;
    readonly resources: ReadonlySet<string>;
  };
  readonly onBlocksChange: ((event: BlocksChangeEvent) => void) | undefined;
  readonly clock: Clock;
  readonly now: () => number;
  readonly random: () => number;
  readonly logger: Pick<Logger, "warn" | "debug">;
}

/**
 * Capacities are stored multiplied by the milliseconds in an hour so that refill
 * stays in whole numbers; this keeps that product a safe integer.
 */
const MAX_CAPACITY = 2_000_000_000;

/** @internal Merges `options` with the defaults and checks every value. */
export function resolveOptions(
  options: RateLimiterOptions | undefined,
): ResolvedRateLimiterOptions {
  if (options === undefined) options = {};
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`options must be an object, got ${String(options)}`);
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock !== "object" || clock === null || typeof clock.now !== "function") {
    throw new TypeError("clock must be a Clock with now(), setTimeout() and clearTimeout()");
  }
  const now = options.now ?? (() => clock.now());
  assertFunction(now, "now");
  const random = options.random ?? Math.random;
  assertFunction(random, "random");
  const logger = options.logger ?? silentLogger;
  if (typeof logger !== "object" || logger === null) {
    throw new TypeError("logger must be an object with warn() and debug()");
  }
  const backoff = { ...RATE_LIMITER_DEFAULTS.backoff, ...definedFields(options.backoff) };
  assertFinite(backoff.baseMs, "backoff.baseMs");
  assertFinite(backoff.maxMs, "backoff.maxMs");
  if (backoff.maxMs < backoff.baseMs) {
    throw new RangeError(
      `backoff.maxMs must be >= backoff.baseMs, got ${backoff.maxMs} < ${backoff.baseMs}`,
    );
  }
  const cleanupIntervalMs = options.cleanupIntervalMs ?? RATE_LIMITER_DEFAULTS.cleanupIntervalMs;
  assertDurationOption(cleanupIntervalMs, "cleanupIntervalMs");
  if (cleanupIntervalMs === 0) {
    throw new RangeError("cleanupIntervalMs must be > 0 (use Infinity to turn the timer off)");
  }
  const secondaryDefaultWaitMs =
    options.secondaryDefaultWaitMs ?? RATE_LIMITER_DEFAULTS.secondaryDefaultWaitMs;
  assertFinite(secondaryDefaultWaitMs, "secondaryDefaultWaitMs");
  return Object.freeze({
    global: resolveBucket(options.global, RATE_LIMITER_DEFAULTS.global, "global"),
    perWorkflow: resolveBucket(
      options.perWorkflow,
      RATE_LIMITER_DEFAULTS.perWorkflow,
      "perWorkflow",
    ),
    idleEvictionMs: assertDurationOption(
      options.idleEvictionMs ?? RATE_LIMITER_DEFAULTS.idleEvictionMs,
      "idleEvictionMs",
    ),
    cleanupIntervalMs,
    backoff: Object.freeze(backoff),
    secondaryDefaultWaitMs,
    maxBlockMs: assertDurationOption(
      options.maxBlockMs ?? RATE_LIMITER_DEFAULTS.maxBlockMs,
      "maxBlockMs",
    ),
    githubQuota: resolveGitHubQuota(options.githubQuota),
    onBlocksChange: optionalFunction(options.onBlocksChange, "onBlocksChange"),
    clock,
    now,
    random,
    logger,
  });
}

function resolveGitHubQuota(
  given: GitHubQuotaOptions | undefined,
): ResolvedRateLimiterOptions["githubQuota"] {
  if (given !== undefined && (typeof given !== "object" || given === null)) {
    throw new TypeError(`githubQuota must be an object, got ${String(given)}`);
  }
  const defaults = RATE_LIMITER_DEFAULTS.githubQuota;
  const paceBelowFraction = given?.paceBelowFraction ?? defaults.paceBelowFraction;
  const resources = given?.resources ?? defaults.resources;
  if (
    typeof paceBelowFraction !== "number" ||
    !(paceBelowFraction >= 0 && paceBelowFraction <= 1)
  ) {
    throw new RangeError(
      `githubQuota.paceBelowFraction must be a number from 0 to 1, got ${String(paceBelowFraction)}`,
    );
  }
  if (!Array.isArray(resources) || !resources.every((name) => typeof name === "string")) {
    throw new TypeError("githubQuota.resources must be an array of resource names");
  }
  return Object.freeze({ paceBelowFraction, resources: new Set(resources) });
}

function resolveBucket(
  given: TokenBucketOptions | undefined,
  defaults: Defined<TokenBucketOptions>,
  name: string,
): Defined<TokenBucketOptions> {
  if (given !== undefined && (typeof given !== "object" || given === null)) {
    throw new TypeError(`${name} must be an object, got ${String(given)}`);
  }
  const bucket = { ...defaults, ...definedFields(given) };
  const { capacity, refillPerHour } = bucket;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
    throw new RangeError(
      `${name}.capacity must be a whole number from 1 to ${MAX_CAPACITY}, got ${capacity}`,
    );
  }
  if (
    typeof refillPerHour !== "number" ||
    !(refillPerHour >= 0) ||
    !Number.isFinite(refillPerHour)
  ) {
    throw new RangeError(
      `${name}.refillPerHour must be a finite number >= 0 (0: never refills), got ${refillPerHour}`,
    );
  }
  return Object.freeze(bucket);
}

function optionalFunction<T>(value: T | undefined, option: string): T | undefined {
  if (value !== undefined) assertFunction(value, option);
  return value;
}

function assertFunction(value: unknown, option: string): void {
  if (typeof value !== "function") throw new TypeError(`${option} must be a function`);
}

function assertFinite(value: unknown, option: string): number {
  if (assertDurationOption(value, option) === Number.POSITIVE_INFINITY) {
    throw new RangeError(`${option} must be finite, got Infinity`);
  }
  return value as number;
}

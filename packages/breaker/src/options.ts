import { type Clock, type Logger, silentLogger, systemClock } from "@beauvoir/core";
import type { CircuitState } from "./circuit-state.js";
import { classifyFailure } from "./classify-failure.js";
import { FAILURE_CLASSES, type FailureClass, isFailureClass } from "./failure-class.js";
import type { CircuitBreakerSnapshot } from "./snapshot.js";

/*
 * Compatibility contract (TASK-2.6b), for code written against the old
 * consecutive-failure breaker (the scheduler's `{ maxFailures, resetTimeMs,
 * halfOpenRetries }`, engine and cron consumers). Tested in
 * `compatibility.test.ts` with the old call patterns.
 *
 * 1. `execute(fn)` keeps its shape: `fn` may ignore the signal it is given; the
 *    promise resolves with what `fn` returns and rejects with what it throws,
 *    unchanged. A failure with no classification (a plain `Error`) is
 *    `transient`, so it counts, as every failure did before.
 * 2. `recordFailure()` without an argument records a `transient` failure.
 *    `recordSuccess()` and `getState()` keep their meaning.
 * 3. The old configuration shape is accepted and mapped: `maxFailures` →
 *    `failureThreshold`, `resetTimeMs` → `openDurationMs`, `halfOpenRetries` →
 *    `halfOpenProbeCount`. With the old shape a success also clears the count
 *    (`resetOnSuccess: true`), so N consecutive failures open the circuit and a
 *    success in between starts over, as before. The one difference: failures
 *    more than `rollingWindowMs` (1 h) apart no longer add up. Giving an old key
 *    and its new name together is a TypeError.
 * 4. States keep their names and flow: CLOSED → OPEN → HALF_OPEN → CLOSED, a
 *    failed probe goes back to OPEN. `getState()` moves OPEN to HALF_OPEN once
 *    the open time has passed, so `if (breaker.getState() === "OPEN")` guards
 *    in front of `execute()` keep working.
 * 5. An open circuit rejects before running `fn`. The rejection is now a
 *    `CircuitOpenError` with code `CIRCUIT_OPEN` and `retryAt`; callers that
 *    matched the old `CB_OPEN` code must match `CIRCUIT_OPEN`.
 * 6. New defaults (5 countable failures within 1 h, open 30 min, 2 probes)
 *    replace the old ones (3 consecutive, 5 min, 1 probe). For a dependency
 *    that fails on every call the circuit opens after 5 calls instead of 3;
 *    failures spread between successes now add up, which the old counter
 *    missed. Pass the old shape to keep the old numbers.
 * 7. The old breaker kept no persisted state, so nothing needs migrating;
 *    `toJSON()` / `initialState` are new and optional.
 */

/** Options shared by both configuration shapes. */
export interface CommonCircuitBreakerOptions {
  /**
   * How long a failure counts, in milliseconds: the circuit opens when
   * `failureThreshold` countable failures fall within this window.
   * @default 3_600_000 (1 hour)
   */
  rollingWindowMs?: number | undefined;
  /**
   * Failure classes that count toward the threshold. `expected` never counts
   * and is refused here.
   * @default ["transient", "external", "rate_limited"]
   */
  countableClasses?: readonly FailureClass[] | undefined;
  /**
   * Forget the counted failures on every success while CLOSED, which turns the
   * window into a consecutive-failure counter (the old breaker's behaviour).
   * @default false (true with the old configuration shape)
   */
  resetOnSuccess?: boolean | undefined;
  /** Called on every state change, before the `open` / `halfOpen` / `close` event. */
  onStateChange?: ((from: CircuitState, to: CircuitState) => void) | undefined;
  /** Source of time and of the `timeoutMs` timers. @default systemClock */
  clock?: Clock | undefined;
  /**
   * Source of time only (the plan's injectable `now()`); takes precedence over
   * `clock.now` when both are given. Timers still come from `clock`.
   * @default clock.now
   */
  now?: (() => number) | undefined;
  /** State saved by `toJSON()`, to resume an open circuit after a restart. */
  initialState?: CircuitBreakerSnapshot | undefined;
  /** Names the breaker in errors, stats and log lines. */
  name?: string | undefined;
  /** Maps what a call threw to a failure class, unless `execute()` is given its own. @default classifyFailure */
  classify?: ((error: unknown) => FailureClass) | undefined;
  /** Receives warnings about listeners and classifiers that threw. @default silentLogger */
  logger?: Pick<Logger, "warn"> | undefined;
}

/** Options of {@link CircuitBreaker}. */
export interface CircuitBreakerOptions extends CommonCircuitBreakerOptions {
  /** Countable failures within `rollingWindowMs` that open the circuit (at most 1,000,000). @default 5 */
  failureThreshold?: number | undefined;
  /** How long the circuit stays OPEN before letting probes through, in ms. @default 1_800_000 (30 minutes) */
  openDurationMs?: number | undefined;
  /**
   * Probes let through at a time while HALF_OPEN, and successes needed to close.
   * @default 2
   */
  halfOpenProbeCount?: number | undefined;
}

/**
 * The old breaker's configuration shape, still accepted (see the compatibility
 * contract): `maxFailures` consecutive failures open the circuit for
 * `resetTimeMs`, and `halfOpenRetries` successful probes close it.
 * @deprecated Use {@link CircuitBreakerOptions}.
 */
export interface LegacyCircuitBreakerOptions extends CommonCircuitBreakerOptions {
  /** Old name of `failureThreshold`. */
  maxFailures?: number | undefined;
  /** Old name of `openDurationMs`. */
  resetTimeMs?: number | undefined;
  /** Old name of `halfOpenProbeCount`. */
  halfOpenRetries?: number | undefined;
}

/** Defaults applied to every {@link CircuitBreakerOptions}. */
export const CIRCUIT_BREAKER_DEFAULTS = Object.freeze({
  failureThreshold: 5,
  rollingWindowMs: 3_600_000,
  openDurationMs: 1_800_000,
  halfOpenProbeCount: 2,
  countableClasses: Object.freeze(["transient", "external", "rate_limited"] as FailureClass[]),
  resetOnSuccess: false,
});

/** @internal Options after defaults and validation. */
export interface ResolvedOptions {
  readonly failureThreshold: number;
  readonly rollingWindowMs: number;
  readonly openDurationMs: number;
  readonly halfOpenProbeCount: number;
  readonly countableClasses: readonly FailureClass[];
  readonly resetOnSuccess: boolean;
  readonly name: string | undefined;
  readonly clock: Clock;
  readonly now: () => number;
  readonly classify: (error: unknown) => FailureClass;
  readonly logger: Pick<Logger, "warn">;
  readonly onStateChange: ((from: CircuitState, to: CircuitState) => void) | undefined;
}

const LEGACY_TO_CURRENT = [
  ["maxFailures", "failureThreshold"],
  ["resetTimeMs", "openDurationMs"],
  ["halfOpenRetries", "halfOpenProbeCount"],
] as const;

/**
 * @internal Applies defaults, maps the old shape, and checks every option.
 * @throws TypeError or RangeError naming the option.
 */
export function resolveOptions(
  input: CircuitBreakerOptions | LegacyCircuitBreakerOptions | undefined,
): ResolvedOptions {
  if (input !== undefined && (typeof input !== "object" || input === null)) {
    throw new TypeError("CircuitBreaker options must be an object");
  }
  const raw = (input ?? {}) as Record<string, unknown>;
  let legacy = false;
  const merged: Record<string, unknown> = { ...raw };
  for (const [oldName, newName] of LEGACY_TO_CURRENT) {
    if (raw[oldName] === undefined) continue;
    legacy = true;
    if (raw[newName] !== undefined) {
      throw new TypeError(`pass either ${oldName} (old name) or ${newName}, not both`);
    }
    merged[newName] = raw[oldName];
  }

  const clock = (raw.clock === undefined ? systemClock : raw.clock) as Clock;
  if (typeof clock !== "object" || clock === null || typeof clock.now !== "function") {
    throw new TypeError("clock must be a Clock with now(), setTimeout() and clearTimeout()");
  }
  if (raw.now !== undefined && typeof raw.now !== "function") {
    throw new TypeError("now must be a function returning epoch milliseconds");
  }
  const now =
    (raw.now as (() => number) | undefined) ??
    (clock === systemClock ? Date.now : () => clock.now());

  return Object.freeze({
    failureThreshold: wholeNumber(
      merged.failureThreshold,
      "failureThreshold",
      CIRCUIT_BREAKER_DEFAULTS.failureThreshold,
    ),
    rollingWindowMs: duration(
      merged.rollingWindowMs,
      "rollingWindowMs",
      CIRCUIT_BREAKER_DEFAULTS.rollingWindowMs,
      false,
    ),
    openDurationMs: duration(
      merged.openDurationMs,
      "openDurationMs",
      CIRCUIT_BREAKER_DEFAULTS.openDurationMs,
      true,
    ),
    halfOpenProbeCount: wholeNumber(
      merged.halfOpenProbeCount,
      "halfOpenProbeCount",
      CIRCUIT_BREAKER_DEFAULTS.halfOpenProbeCount,
    ),
    countableClasses: countable(merged.countableClasses),
    resetOnSuccess: flag(merged.resetOnSuccess, "resetOnSuccess", legacy),
    name: optionalName(merged.name),
    clock,
    now,
    classify: optionalFunction(merged.classify, "classify") ?? classifyFailure,
    logger: logger(merged.logger),
    onStateChange: optionalFunction(merged.onStateChange, "onStateChange"),
  }) as ResolvedOptions;
}

// The threshold test keeps one timestamp per failure up to the threshold.
const MAX_COUNT = 1_000_000;

function wholeNumber(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_COUNT) {
    throw new RangeError(
      `${option} must be a whole number from 1 to ${MAX_COUNT}, got ${String(value)}`,
    );
  }
  return value;
}

function duration(value: unknown, option: string, fallback: number, zeroAllowed: boolean): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" ||
    !Number.isFinite(value) ||
    value < 0 ||
    (value === 0 && !zeroAllowed)
  ) {
    const bound = zeroAllowed ? ">= 0" : "> 0";
    throw new RangeError(
      `${option} must be a finite number of milliseconds ${bound}, got ${String(value)}`,
    );
  }
  return value;
}

function countable(value: unknown): readonly FailureClass[] {
  if (value === undefined) return CIRCUIT_BREAKER_DEFAULTS.countableClasses;
  if (!Array.isArray(value)) {
    throw new TypeError(`countableClasses must be an array of failure classes`);
  }
  for (const entry of value) {
    if (!isFailureClass(entry)) {
      throw new RangeError(
        `countableClasses: ${JSON.stringify(entry)} is not one of ${FAILURE_CLASSES.join(", ")}`,
      );
    }
    if (entry === "expected") {
      throw new RangeError(
        `countableClasses cannot include "expected": expected failures never count`,
      );
    }
  }
  return Object.freeze([...new Set(value as FailureClass[])]);
}

function flag(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new TypeError(`${option} must be a boolean`);
  return value;
}

function optionalName(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") {
    throw new TypeError("name must be a non-empty string");
  }
  return value;
}

function optionalFunction<T>(value: unknown, option: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "function") throw new TypeError(`${option} must be a function`);
  return value as T;
}

function logger(value: unknown): Pick<Logger, "warn"> {
  if (value === undefined) return silentLogger;
  if (typeof value !== "object" || value === null || typeof (value as Logger).warn !== "function") {
    throw new TypeError("logger must have a warn(message, data) method");
  }
  return value as Pick<Logger, "warn">;
}

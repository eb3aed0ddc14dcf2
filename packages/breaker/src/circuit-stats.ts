import type { CircuitState } from "./circuit-state.js";
import { FAILURE_CLASSES, type FailureClass } from "./failure-class.js";
import { REJECTION_COUNTER, SUCCESS_COUNTER } from "./window-counters.js";

/** What {@link CircuitBreaker.getStats} reports. */
export interface CircuitStats {
  /** The breaker's `name` option. */
  readonly name: string | undefined;
  /** The current state. */
  readonly state: CircuitState;
  /**
   * Failures in the rolling window, by class, in every state. Counted in 60
   * time buckets: a failure leaves these totals between `rollingWindowMs` and
   * `rollingWindowMs * 61 / 60` after it happened.
   */
  readonly failures: Readonly<Record<FailureClass, number>>;
  /** Sum of `failures` over the `countableClasses`. */
  readonly countableFailures: number;
  /**
   * Countable failures that count toward `failureThreshold` right now, exactly:
   * those since the circuit last closed (or, with `resetOnSuccess`, since the
   * last success), within the window. Always 0 unless CLOSED.
   */
  readonly countedTowardThreshold: number;
  /** Successful calls and `recordSuccess()` calls in the rolling window. */
  readonly successes: number;
  /** Calls refused with `CircuitOpenError` in the rolling window. */
  readonly rejections: number;
  /** When the circuit last opened, epoch ms; null when CLOSED. */
  readonly openedAt: number | null;
  /** When the circuit half-opened, epoch ms; null unless HALF_OPEN. */
  readonly halfOpenAt: number | null;
  /** When an OPEN circuit will half-open, epoch ms; null unless OPEN. */
  readonly retryAt: number | null;
  /** Probe calls running now (HALF_OPEN). */
  readonly probesInFlight: number;
  /** Successful probes since the circuit half-opened. */
  readonly probeSuccesses: number;
  /** The configured threshold. */
  readonly failureThreshold: number;
  /** The configured window. */
  readonly rollingWindowMs: number;
}

/** @internal The part of {@link CircuitStats} read from the window counters. */
export type WindowTotals = Pick<
  CircuitStats,
  "failures" | "countableFailures" | "successes" | "rejections"
>;

/**
 * @internal Names the window counters' totals.
 * @param totals - per counter slot, from `WindowCounters.totals`.
 * @param countable - per failure class, in `FAILURE_CLASSES` order.
 */
export function windowTotals(
  totals: readonly number[],
  countable: readonly boolean[],
): WindowTotals {
  const failures = {} as Record<FailureClass, number>;
  let countableFailures = 0;
  FAILURE_CLASSES.forEach((failureClass, index) => {
    failures[failureClass] = totals[index]!;
    if (countable[index]) countableFailures += totals[index]!;
  });
  return {
    failures,
    countableFailures,
    successes: totals[SUCCESS_COUNTER]!,
    rejections: totals[REJECTION_COUNTER]!,
  };
}

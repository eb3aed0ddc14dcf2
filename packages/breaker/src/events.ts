import type { CircuitState } from "./circuit-state.js";
import type { FailureClass } from "./failure-class.js";

/** Why the circuit changed state. */
export type StateChangeReason =
  /** `failureThreshold` countable failures fell within the window (CLOSED → OPEN). */
  | "failure_threshold"
  /** A probe failed with a countable class (HALF_OPEN → OPEN). */
  | "probe_failed"
  /** `openDurationMs` passed (OPEN → HALF_OPEN), seen at the next use of the breaker. */
  | "open_duration_elapsed"
  /** `halfOpenProbeCount` probes succeeded (HALF_OPEN → CLOSED). */
  | "probes_succeeded"
  /** `reset()` was called. */
  | "reset";

/** Payload of the `open`, `halfOpen` and `close` events. */
export interface CircuitStateChangeEvent {
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: StateChangeReason;
  /** When the change happened, epoch ms. */
  readonly at: number;
  /** When an OPEN circuit will half-open; null for the other states. */
  readonly retryAt: number | null;
}

/** Payload of the `success` event. */
export interface CircuitSuccessEvent {
  /** `call`: an `execute()` call returned; `recorded`: `recordSuccess()` was called. */
  readonly reason: "call" | "recorded";
  /** The state when the success was seen. */
  readonly state: CircuitState;
  readonly at: number;
}

/** Payload of the `failure` event. */
export interface CircuitFailureEvent {
  /**
   * `error`: an `execute()` call threw; `timeout`: its `timeoutMs` ran out;
   * `recorded`: `recordFailure()` was called.
   */
  readonly reason: "error" | "timeout" | "recorded";
  readonly failureClass: FailureClass;
  /** Whether the class is one of `countableClasses`. */
  readonly counted: boolean;
  /** What the call threw (the `CircuitTimeoutError` for a timeout); undefined when recorded. */
  readonly error: unknown;
  /** The state when the failure was seen, before any change it causes. */
  readonly state: CircuitState;
  readonly at: number;
}

/** Payload of the `reject` event. */
export interface CircuitRejectEvent {
  /** `open`: the circuit is OPEN; `probes_busy`: HALF_OPEN with every probe slot taken. */
  readonly reason: "open" | "probes_busy";
  readonly state: "OPEN" | "HALF_OPEN";
  /** The `retryAt` of the `CircuitOpenError` the caller received. */
  readonly retryAt: number;
  readonly at: number;
}

/** Every event of a {@link CircuitBreaker} and its payload. */
export interface CircuitBreakerEvents {
  open: CircuitStateChangeEvent;
  halfOpen: CircuitStateChangeEvent;
  close: CircuitStateChangeEvent;
  success: CircuitSuccessEvent;
  failure: CircuitFailureEvent;
  reject: CircuitRejectEvent;
}

/** The name of a {@link CircuitBreaker} event. */
export type CircuitBreakerEventName = keyof CircuitBreakerEvents;

/** @internal */
export const EVENT_NAMES: ReadonlySet<string> = new Set<CircuitBreakerEventName>([
  "open",
  "halfOpen",
  "close",
  "success",
  "failure",
  "reject",
]);

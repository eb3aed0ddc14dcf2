import { type CircuitState, isCircuitState } from "./circuit-state.js";

/**
 * A breaker's state as plain JSON, from `toJSON()`, for `initialState` after a
 * restart. Timestamps are epoch milliseconds, so a snapshot stays meaningful in
 * another process on the same machine (or one with a synchronised clock).
 */
export interface CircuitBreakerSnapshot {
  /** Format version. */
  readonly version: 1;
  /** The state when the snapshot was taken. */
  readonly state: CircuitState;
  /** When the circuit last opened; null while it has not opened since it last closed. */
  readonly openedAt: number | null;
  /** When an OPEN circuit half-opens; null in the other states. */
  readonly retryAt: number | null;
  /**
   * Times of the countable failures still inside the rolling window, oldest
   * first; at most `failureThreshold` of them.
   */
  readonly failureTimestamps: readonly number[];
  /** When the snapshot was taken. */
  readonly savedAt: number;
}

/**
 * @internal Checks a snapshot read back from storage.
 * @throws TypeError naming the bad field.
 */
export function parseSnapshot(value: unknown, label = "initialState"): CircuitBreakerSnapshot {
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`${label} must be an object from CircuitBreaker.toJSON()`);
  }
  const snapshot = value as Record<string, unknown>;
  if (snapshot.version !== 1) {
    throw new TypeError(`${label}.version must be 1, got ${JSON.stringify(snapshot.version)}`);
  }
  if (!isCircuitState(snapshot.state)) {
    throw new TypeError(
      `${label}.state must be CLOSED, OPEN or HALF_OPEN, got ${JSON.stringify(snapshot.state)}`,
    );
  }
  const openedAt = timeOrNull(snapshot.openedAt, `${label}.openedAt`);
  const retryAt = timeOrNull(snapshot.retryAt, `${label}.retryAt`);
  if (snapshot.state === "OPEN" && retryAt === null) {
    throw new TypeError(`${label}.retryAt is required when state is OPEN`);
  }
  const timestamps = snapshot.failureTimestamps;
  if (!Array.isArray(timestamps) || !timestamps.every(isTime)) {
    throw new TypeError(`${label}.failureTimestamps must be an array of epoch milliseconds`);
  }
  if (!isTime(snapshot.savedAt)) {
    throw new TypeError(`${label}.savedAt must be epoch milliseconds`);
  }
  return {
    version: 1,
    state: snapshot.state,
    openedAt,
    retryAt,
    failureTimestamps: [...(timestamps as number[])].sort((a, b) => a - b),
    savedAt: snapshot.savedAt,
  };
}

function timeOrNull(value: unknown, field: string): number | null {
  if (value === null || value === undefined) return null;
  if (!isTime(value)) throw new TypeError(`${field} must be epoch milliseconds or null`);
  return value;
}

function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

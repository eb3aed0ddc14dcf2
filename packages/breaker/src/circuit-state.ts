/**
 * The three states of a circuit:
 * - `CLOSED`: calls run; countable failures are counted in the rolling window.
 * - `OPEN`: calls are refused with `CircuitOpenError` until `retryAt`.
 * - `HALF_OPEN`: up to `halfOpenProbeCount` probe calls run at a time; enough
 *   successes close the circuit, one countable failure opens it again.
 */
export type CircuitState = "CLOSED" | "OPEN" | "HALF_OPEN";

/**
 * Tells whether `value` is a {@link CircuitState}, e.g. when reading a saved state.
 * @param value - anything.
 * @returns true for `"CLOSED"`, `"OPEN"` and `"HALF_OPEN"`.
 * @example
 * ```ts
 * isCircuitState("OPEN"); // true
 * ```
 */
export function isCircuitState(value: unknown): value is CircuitState {
  return value === "CLOSED" || value === "OPEN" || value === "HALF_OPEN";
}

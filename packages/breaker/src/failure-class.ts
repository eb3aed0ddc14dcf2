/**
 * What kind of failure happened, which decides whether it may open the circuit.
 *
 * - `transient`: the service misbehaved and may recover (5xx, an unexplained 403).
 * - `permanent`: our request is wrong and will stay wrong (422); retrying is useless,
 *   but the service itself answered.
 * - `expected`: a normal outcome reported as an error (404 on a lookup); never counts.
 * - `external`: the network or a dependency failed (ECONNRESET, a timeout).
 * - `rate_limited`: the service asked us to slow down (429, rate-limit 403).
 */
export type FailureClass = "transient" | "permanent" | "expected" | "external" | "rate_limited";

/** Every {@link FailureClass}, in a stable order (the order of `getStats().failures`). */
export const FAILURE_CLASSES: readonly FailureClass[] = Object.freeze([
  "transient",
  "permanent",
  "expected",
  "external",
  "rate_limited",
]);

/**
 * Tells whether `value` names a {@link FailureClass}.
 * @param value - anything.
 * @returns true for one of the five class names.
 * @example
 * ```ts
 * isFailureClass("transient"); // true
 * isFailureClass("fatal"); // false
 * ```
 */
export function isFailureClass(value: unknown): value is FailureClass {
  return (
    value === "transient" ||
    value === "permanent" ||
    value === "expected" ||
    value === "external" ||
    value === "rate_limited"
  );
}

/** @internal Index of a class in {@link FAILURE_CLASSES}, for the per-class counters. */
export function failureClassIndex(failureClass: FailureClass): number {
  switch (failureClass) {
    case "transient":
      return 0;
    case "permanent":
      return 1;
    case "expected":
      return 2;
    case "external":
      return 3;
    default:
      return 4;
  }
}

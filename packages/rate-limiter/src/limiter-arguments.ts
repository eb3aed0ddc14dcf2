import type { RateLimitKind } from "./blocks-snapshot.js";
import type { ConsumeOptions } from "./consume-result.js";

/**
 * @internal Checks the arguments of `consume()`.
 * @returns the signal, and `maxWaitMs` with its default (`Infinity`).
 * @throws TypeError or RangeError naming the argument.
 */
export function checkConsumeArguments(
  workflowId: string,
  options: ConsumeOptions | undefined,
): { signal: AbortSignal | undefined; maxWaitMs: number } {
  const { signal, maxWaitMs = Number.POSITIVE_INFINITY } = options ?? {};
  if (typeof workflowId !== "string") throw new TypeError("workflowId must be a string");
  if (typeof maxWaitMs !== "number" || Number.isNaN(maxWaitMs) || maxWaitMs < 0) {
    throw new RangeError(
      `maxWaitMs must be a non-negative number of milliseconds, got ${maxWaitMs}`,
    );
  }
  if (
    signal !== undefined &&
    (typeof signal !== "object" || signal === null || typeof signal.addEventListener !== "function")
  ) {
    throw new TypeError("consume options.signal must be an AbortSignal");
  }
  return { signal, maxWaitMs };
}

/**
 * @internal Checks the arguments of `recordRateLimit()`.
 * @throws TypeError for an unknown `kind`; RangeError for a negative or non-numeric time.
 */
export function checkRateLimitArguments(
  kind: RateLimitKind,
  retryAfterSec: number | undefined,
  resetAtEpochSec: number | undefined,
): void {
  if (kind !== "primary" && kind !== "secondary") {
    throw new TypeError(`kind must be "primary" or "secondary", got ${String(kind)}`);
  }
  assertSeconds(retryAfterSec, "retryAfterSec");
  assertSeconds(resetAtEpochSec, "resetAtEpochSec");
}

function assertSeconds(value: number | undefined, name: string): void {
  if (value === undefined) return;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0 || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a non-negative finite number of seconds, got ${value}`);
  }
}

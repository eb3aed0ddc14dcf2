import { isCompensationStrategy } from "./compensation.js";
import type { CompensationStrategy, IdempotencyEntry } from "./entry.js";

/** What `settle()` writes for a key, whatever its current state. */
export interface Settlement {
  /** The terminal status. */
  status: "completed" | "failed";
  /** The action stored with the entry. @default the entry's, else the key's first segment */
  action?: string | undefined;
  /** The strategy stored with the entry. @default the entry's, else `getStrategy(action)` */
  strategy?: CompensationStrategy | undefined;
  /** The audit intent the settlement belongs to. @default the entry's, else 0 */
  intentSeq?: number | undefined;
  /** The side effect's result (status `completed` only); stored in its JSON-safe, redacted form. */
  result?: unknown | undefined;
  /** Why it failed (status `failed` only); redacted. */
  error?: string | undefined;
}

/**
 * Checks a settlement before anything is written.
 * @param settlement - the caller's value.
 * @returns it, typed.
 * @throws TypeError naming the field that is wrong.
 */
export function checkSettlement(settlement: unknown): Settlement {
  if (typeof settlement !== "object" || settlement === null) {
    throw new TypeError("settlement must be an object");
  }
  const value = settlement as Record<string, unknown>;
  if (value.status !== "completed" && value.status !== "failed") {
    throw new TypeError(
      `settlement.status must be "completed" or "failed" (got ${JSON.stringify(value.status)})`,
    );
  }
  if (value.action !== undefined && (typeof value.action !== "string" || value.action === "")) {
    throw new TypeError("settlement.action must be a non-empty string");
  }
  if (value.strategy !== undefined && !isCompensationStrategy(value.strategy)) {
    throw new TypeError(`settlement.strategy must be "safe_retry", "check_then_retry" or "skip"`);
  }
  if (
    value.intentSeq !== undefined &&
    (!Number.isSafeInteger(value.intentSeq) || (value.intentSeq as number) < 0)
  ) {
    throw new TypeError("settlement.intentSeq must be a non-negative integer");
  }
  if (value.error !== undefined && typeof value.error !== "string") {
    throw new TypeError("settlement.error must be a string");
  }
  if (value.status === "completed" && value.error !== undefined) {
    throw new TypeError("settlement.error is for status failed only");
  }
  if (value.status === "failed" && value.result !== undefined) {
    throw new TypeError("settlement.result is for status completed only");
  }
  return value as unknown as Settlement;
}

/**
 * An entry with its status and the fields that go with it: a completed entry
 * keeps a result (when there is one) and no error, a failed one an error and
 * no result.
 * @param base - the entry's other fields.
 * @param status - the status.
 * @param detail - the stored (already redacted) result or error.
 * @returns the entry, frozen.
 */
export function withStatus(
  base: IdempotencyEntry,
  status: IdempotencyEntry["status"],
  detail: { result?: unknown; error?: string | undefined } = {},
): IdempotencyEntry {
  const { error: _error, result: _result, ...rest } = base;
  const entry: IdempotencyEntry = { ...rest, status };
  if (status === "completed" && detail.result !== undefined) entry.result = detail.result;
  if (status === "failed" && detail.error !== undefined) entry.error = detail.error;
  return Object.freeze(entry);
}

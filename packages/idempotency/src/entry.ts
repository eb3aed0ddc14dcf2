import { isCompensationStrategy } from "./compensation.js";

/** Where a side effect stands: pending → completed | failed. `failed` is terminal. */
export type IdempotencyStatus = "pending" | "completed" | "failed";

/**
 * What to do with a pending entry found after a crash, when the audit trail
 * cannot settle it:
 * - `safe_retry`: run the side effect again (it is naturally idempotent);
 * - `check_then_retry`: ask the remote side whether it happened, run it only if not;
 * - `skip`: do not run it again; a human decides.
 */
export type CompensationStrategy = "safe_retry" | "check_then_retry" | "skip";

/** One key of the index, as stored. */
export interface IdempotencyEntry {
  /** The idempotency key (see `IdempotencyIndex.generateKey`). */
  key: string;
  /** Where the side effect stands. */
  status: IdempotencyStatus;
  /** The audit-trail `seq` of the intent record this attempt belongs to. */
  intentSeq: number;
  /** How to compensate if the process dies while the entry is pending. */
  strategy: CompensationStrategy;
  /** The action name (the key's first segment unless given). */
  action: string;
  /** When the key was first marked pending (epoch ms). */
  createdAt: number;
  /** When its status last changed (epoch ms). TTL eviction counts from here. */
  updatedAt: number;
  /** Why it failed (status `failed` only). */
  error?: string;
  /** What the side effect returned (status `completed` only, when given). */
  result?: unknown;
}

const STATUSES: ReadonlySet<unknown> = new Set(["pending", "completed", "failed"]);

/**
 * Checks the shape of an entry read back from disk (a snapshot or a journal line).
 * @param value - parsed JSON.
 * @returns true when `value` has every field of an {@link IdempotencyEntry} with the right type.
 */
export function isIdempotencyEntry(value: unknown): value is IdempotencyEntry {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const entry = value as Record<string, unknown>;
  return (
    typeof entry.key === "string" &&
    STATUSES.has(entry.status) &&
    Number.isSafeInteger(entry.intentSeq) &&
    (entry.intentSeq as number) >= 0 &&
    isCompensationStrategy(entry.strategy) &&
    typeof entry.action === "string" &&
    Number.isFinite(entry.createdAt) &&
    Number.isFinite(entry.updatedAt) &&
    (entry.error === undefined || typeof entry.error === "string")
  );
}

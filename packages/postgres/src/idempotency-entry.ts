import type { CompensationStrategy } from "@beauvoir/idempotency";

/** Where a key stands. `released` keys (never run, or reset) may be claimed again. */
export type KeyStatus = "pending" | "completed" | "failed" | "released";

/** One key as the database holds it. */
export interface IdempotencyKeyEntry {
  key: string;
  status: KeyStatus;
  action: string;
  strategy: CompensationStrategy;
  /** The instance that owns the current attempt. */
  ownerId: string;
  /** Whether that instance holds a live lease now (database clock). */
  ownerLive: boolean;
  /** The current attempt; only it may settle the key. */
  attemptId: string;
  /** The current attempt's fencing token (one sequence with the locks). */
  fence: number;
  /** The audit intent record of the current claim. */
  intentId: number;
  /** Claims and takeovers so far. */
  attempts: number;
  runId?: string;
  /** What the side effect returned (redacted), for `completed`. */
  result?: unknown;
  /** Why it failed or was released. */
  error?: string;
  createdAt: Date;
  updatedAt: Date;
  /** When a settled key may be claimed again; `null`: never (or not settled). */
  expiresAt: Date | null;
  /** A settled key past its TTL (database clock): the next claim takes it again. */
  expired: boolean;
}

/** @internal A key's columns as the index's statements return them (see `entryColumns`). */
export interface EntryRow {
  key: string;
  status: KeyStatus;
  action: string;
  strategy: CompensationStrategy;
  owner_id: string;
  attempt_id: string;
  fence: string;
  intent_id: string;
  attempts: number;
  run_id: string | null;
  result: string | null;
  error: string | null;
  created_at: Date;
  updated_at: Date;
  expires_at: Date | null;
  expired: boolean | null;
  owner_live: boolean;
}

/**
 * @internal Checks a key argument.
 * @param key - what the caller passed.
 * @returns the key.
 * @throws TypeError unless it is a non-empty string.
 */
export function requireKey(key: unknown): string {
  if (typeof key !== "string" || key.length === 0) {
    throw new TypeError("key must be a non-empty string");
  }
  return key;
}

/**
 * @internal Decodes a row into the entry callers see: bigint columns as
 * numbers, the stored result parsed, absent optional columns left out.
 * @param row - a row carrying the entry's columns.
 * @returns the entry.
 */
export function toEntry(row: EntryRow): IdempotencyKeyEntry {
  const entry: IdempotencyKeyEntry = {
    key: row.key,
    status: row.status,
    action: row.action,
    strategy: row.strategy,
    ownerId: row.owner_id,
    ownerLive: row.owner_live,
    attemptId: row.attempt_id,
    fence: Number(row.fence),
    intentId: Number(row.intent_id),
    attempts: row.attempts,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    expired: row.expired === true,
  };
  if (row.run_id !== null) entry.runId = row.run_id;
  if (row.result !== null) entry.result = JSON.parse(row.result);
  if (row.error !== null) entry.error = row.error;
  return entry;
}

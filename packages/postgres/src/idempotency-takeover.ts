import { randomUUID } from "node:crypto";
import { type EntryRow, type IdempotencyKeyEntry, toEntry } from "./idempotency-entry.js";
import type { IdempotencyStatements } from "./idempotency-statements.js";
import type { InstanceLease } from "./instance-lease.js";
import type { StatementRunner } from "./statement-runner.js";

/** A key this instance took over from one whose lease ended. */
export interface TakenOverKey {
  /** The key, now owned by this instance under a new attempt id and fence. */
  entry: IdempotencyKeyEntry;
  /** The attempt that was taken over; `null` when this was learnt from a resend. */
  previousAttemptId: string | null;
  /** Its owner; `null` as above. */
  previousOwnerId: string | null;
  /** The target and (redacted) params the intent recorded, for the reconcile hook. */
  target: string;
  params: Record<string, unknown>;
}

/** Options of {@link PostgresIdempotencyIndex.takeOver}. */
export interface TakeOverOptions {
  /** At most this many keys. @default 100 */
  limit?: number | undefined;
  /** Only these keys. */
  keys?: readonly string[] | undefined;
  /** Only owners whose lease ended at least this long ago. @default 0 */
  graceMs?: number | undefined;
  /**
   * This takeover's id. After a `DATABASE_UNAVAILABLE`, call again with the
   * same id: the keys the lost call took are handed out again, not stranded.
   * @default a random UUID
   */
  takeoverId?: string | undefined;
}

type TakeOverRow = EntryRow & {
  previous_attempt_id: string | null;
  previous_owner_id: string | null;
  target: string;
  params: string;
};

/**
 * @internal The bulk takeover behind {@link PostgresIdempotencyIndex.takeOver}:
 * checks the options, then moves the pending keys of ended leases to
 * `instance` in one statement, each under a new attempt id and fence.
 * @param runner - how the statement is sent.
 * @param sql - the index's statements.
 * @param instance - the lease that takes the keys over.
 * @param options - limit, keys, grace, takeover id.
 * @returns the keys taken over, with what their intent recorded.
 * @throws {@link LeaseLostError} when `instance` has no live lease.
 */
export async function takeOverKeys(
  runner: StatementRunner,
  sql: IdempotencyStatements,
  instance: InstanceLease,
  options: TakeOverOptions,
): Promise<TakenOverKey[]> {
  instance.assertLive();
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }
  const graceMs = options.graceMs ?? 0;
  if (typeof graceMs !== "number" || !(graceMs >= 0)) {
    throw new RangeError(`graceMs must be a non-negative number, got ${graceMs}`);
  }
  const { rows } = await runner.run<TakeOverRow>("idempotency.takeOver", sql.takeOver, [
    instance.id,
    limit,
    graceMs,
    options.keys === undefined ? null : [...options.keys],
    options.takeoverId ?? randomUUID(),
  ]);
  return rows.map((row) => ({
    entry: toEntry(row),
    previousAttemptId: row.previous_attempt_id,
    previousOwnerId: row.previous_owner_id,
    target: row.target,
    params: JSON.parse(row.params) as Record<string, unknown>,
  }));
}

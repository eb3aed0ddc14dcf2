import { randomUUID } from "node:crypto";
import { canonicalJson } from "@beauvoir/audit-trail";
import type { AuditContent } from "./audit-content.js";
import {
  type EntryRow,
  type IdempotencyKeyEntry,
  type KeyStatus,
  requireKey,
  toEntry,
} from "./idempotency-entry.js";
import type { IdempotencyStatements } from "./idempotency-statements.js";
import type { InstanceLease } from "./instance-lease.js";
import type { StatementRunner } from "./statement-runner.js";

/** What an operator call did. */
export interface OperatorOutcome {
  /** Whether this call changed the key (or an earlier send of it did). */
  changed: boolean;
  /** The status before, when this call changed it. */
  previousStatus?: KeyStatus;
  /** The key now; `null` when there is no such key. */
  entry: IdempotencyKeyEntry | null;
}

/** What an operator decision does to a key, its open intent and the audit history. */
interface OperatorChange {
  /** The statuses the key may have for the change to apply. */
  allowed: KeyStatus[];
  status: KeyStatus;
  keyResult: string | null;
  keyError: string | null;
  /** The error an open intent is closed with; `null`: closed without one. */
  closingError: string | null;
  /** The audit action recording the decision. */
  action: string;
  reason: string;
  outcome?: string;
}

/**
 * @internal The operator decisions behind {@link PostgresIdempotencyIndex.resetKey}
 * and {@link PostgresIdempotencyIndex.resolveKey}: each one statement that
 * changes the key, fences out its current attempt, closes its open intent and
 * records the decision in the audit history.
 */
export class IdempotencyOperator {
  readonly #runner: StatementRunner;
  readonly #sql: IdempotencyStatements;
  readonly #instance: InstanceLease;
  readonly #content: AuditContent;
  readonly #ttlMs: number | null;

  /**
   * @param runner - how statements are sent.
   * @param sql - the index's statements.
   * @param instance - the lease the decisions are recorded under.
   * @param content - redaction and serialization of audit columns.
   * @param ttlMs - how long a settled key deduplicates (`null`: forever).
   */
  constructor(
    runner: StatementRunner,
    sql: IdempotencyStatements,
    instance: InstanceLease,
    content: AuditContent,
    ttlMs: number | null,
  ) {
    this.#runner = runner;
    this.#sql = sql;
    this.#instance = instance;
    this.#content = content;
    this.#ttlMs = ttlMs;
  }

  /** See {@link PostgresIdempotencyIndex.resetKey}. */
  async resetKey(key: string, options: { reason?: string } = {}): Promise<OperatorOutcome> {
    const reason = options.reason ?? "reset by an operator";
    return this.#operate(key, {
      allowed: ["pending", "completed", "failed", "released"],
      status: "released",
      keyResult: null,
      keyError: `reset: ${reason}`,
      closingError: `reset by an operator before a result was recorded: ${reason}`,
      action: "beauvoir.reset_key",
      reason,
    });
  }

  /** See {@link PostgresIdempotencyIndex.resolveKey}. */
  async resolveKey(
    key: string,
    outcome: "done" | "not_done",
    options: { reason?: string; result?: unknown; anyStatus?: boolean } = {},
  ): Promise<OperatorOutcome> {
    if (outcome !== "done" && outcome !== "not_done") {
      throw new TypeError(`outcome must be "done" or "not_done"`);
    }
    const reason = options.reason ?? "resolved by an operator";
    const done = outcome === "done";
    const { result } = this.#content.result(done ? options.result : undefined, undefined);
    return this.#operate(key, {
      allowed: options.anyStatus ? ["pending", "completed", "failed", "released"] : ["pending"],
      status: done ? "completed" : "released",
      keyResult: result,
      keyError: done ? null : `resolved as not done: ${reason}`,
      closingError: done ? null : `resolved as not done by an operator: ${reason}`,
      action: "beauvoir.resolve_key",
      reason,
      outcome,
    });
  }

  async #operate(key: string, change: OperatorChange): Promise<OperatorOutcome> {
    requireKey(key);
    const params = this.#content.entry({
      action: change.action,
      target: key,
      params:
        change.outcome === undefined
          ? { reason: change.reason }
          : {
              outcome: change.outcome,
              reason: change.reason,
            },
    }).params;
    const error = (text: string | null) => (text === null ? null : this.#content.error(text));
    const { rows } = await this.#runner.run<
      EntryRow & { outcome: string; previous_status: KeyStatus | null }
    >("idempotency.operate", this.#sql.operate, [
      key,
      change.allowed,
      randomUUID(),
      change.status,
      change.keyResult,
      error(change.keyError),
      this.#ttlMs,
      this.#instance.id,
      error(change.closingError),
      change.action,
      params,
      canonicalJson({ status: change.status }),
    ]);
    const row = rows[0];
    if (row === undefined) return { changed: false, entry: null };
    const outcome: OperatorOutcome = { changed: row.outcome !== "unchanged", entry: toEntry(row) };
    if (row.previous_status !== null) outcome.previousStatus = row.previous_status;
    return outcome;
  }
}

import { randomUUID } from "node:crypto";
import {
  buildCompensationTable,
  type CompensationStrategy,
  isCompensationStrategy,
} from "@beauvoir/idempotency";
import type { AuditContent } from "./audit-content.js";
import { LeaseLostError } from "./errors.js";
import { IdempotencyBatches, type SettleRequest } from "./idempotency-batches.js";
import {
  type EntryRow,
  type IdempotencyKeyEntry,
  requireKey,
  toEntry,
} from "./idempotency-entry.js";
import { actionOfKey, type GenerateKey } from "./idempotency-key.js";
import { IdempotencyOperator, type OperatorOutcome } from "./idempotency-operator.js";
import { type IdempotencyStatements, idempotencyStatements } from "./idempotency-statements.js";
import type { ClaimInput, ClaimOutcome, SettleInput, SettleOutcome } from "./idempotency-step.js";
import { type TakenOverKey, type TakeOverOptions, takeOverKeys } from "./idempotency-takeover.js";
import type { InstanceLease } from "./instance-lease.js";
import { withLease } from "./lock-manager.js";
import type { StatementRunner } from "./statement-runner.js";

export type { IdempotencyKeyEntry, KeyStatus } from "./idempotency-entry.js";
export type { OperatorOutcome } from "./idempotency-operator.js";
export type {
  ClaimInput,
  ClaimOutcome,
  SettledWorkflowRun,
  SettleInput,
  SettleOutcome,
} from "./idempotency-step.js";
export type { TakenOverKey, TakeOverOptions } from "./idempotency-takeover.js";

/** Options of the {@link PostgresIdempotencyIndex}. */
export interface PostgresIdempotencyOptions {
  /** How long a settled key deduplicates; afterwards it may be claimed again. `Infinity`: forever. @default 7 days */
  ttlMs?: number | undefined;
  /** Strategy per action, merged over `@beauvoir/idempotency`'s defaults (others `skip`). */
  compensation?: Partial<Record<string, CompensationStrategy>> | undefined;
  /** The key rule. @default {@link createKeyGenerator} with the backend's redactor */
  generateKey?: GenerateKey | undefined;
}

const SEVEN_DAYS_MS = 7 * 24 * 60 * 60 * 1000;

type ClaimRow = EntryRow & { outcome: string };

/** A row of any batched statement: claims, settlements and reads share the entry's columns. */
type BatchRow = EntryRow & { outcome: string; result_id: string | null; advanced: boolean };

/**
 * The idempotency keys of every replica in one table: the storage half of the
 * durable step. A step is two statements and two commits: {@link claim} takes
 * the key and records the intent together; {@link settle} records the result
 * and settles the key together, fenced by the attempt id, so a replica whose
 * key was taken over changes nothing. Both commit synchronously, and both can
 * be resent with the same attempt id after a lost reply: the statement reads
 * its own outcome back.
 */
export class PostgresIdempotencyIndex {
  readonly #runner: StatementRunner;
  readonly #instance: InstanceLease;
  readonly #content: AuditContent;
  readonly #sql: IdempotencyStatements;
  readonly #batches: IdempotencyBatches<BatchRow>;
  readonly #ttlMs: number | null;
  readonly #compensation: Readonly<Record<string, CompensationStrategy>>;
  readonly #generateKey: GenerateKey;
  readonly #operator: IdempotencyOperator;

  /**
   * @internal Made by the backend (or its factory), which passes these in.
   * @param runner - how statements are sent.
   * @param schema - the quoted schema.
   * @param instance - the lease claims and takeovers belong to.
   * @param content - redaction and serialization of audit columns.
   * @param options - ttl, compensation table, key rule.
   */
  constructor(
    runner: StatementRunner,
    schema: string,
    instance: InstanceLease,
    content: AuditContent,
    options: PostgresIdempotencyOptions & { generateKey: GenerateKey },
  ) {
    this.#runner = runner;
    this.#instance = instance;
    this.#content = content;
    this.#sql = idempotencyStatements(schema);
    const ttlMs = options.ttlMs ?? SEVEN_DAYS_MS;
    if (typeof ttlMs !== "number" || Number.isNaN(ttlMs) || ttlMs < 0) {
      throw new RangeError(`idempotency.ttlMs must be a non-negative number, got ${ttlMs}`);
    }
    this.#ttlMs = Number.isFinite(ttlMs) ? ttlMs : null;
    this.#batches = new IdempotencyBatches(runner, this.#sql, instance, this.#ttlMs);
    this.#compensation = buildCompensationTable(options.compensation);
    if (typeof options.generateKey !== "function") {
      throw new TypeError("idempotency.generateKey must be a function");
    }
    this.#generateKey = options.generateKey;
    this.#operator = new IdempotencyOperator(runner, this.#sql, instance, content, this.#ttlMs);
  }

  /**
   * The key of a side effect; see {@link createKeyGenerator} for the default rule.
   * @throws TypeError for bad parts.
   */
  generateKey(action: string, scope: string, resource: string, params: unknown): string {
    return this.#generateKey(action, scope, resource, params);
  }

  /**
   * The compensation strategy of an action (`skip` when the table has none).
   * @param action - e.g. `add_issue_comment`.
   */
  getStrategy(action: string): CompensationStrategy {
    return this.#compensation[action] ?? "skip";
  }

  /** How long a settled key deduplicates, in milliseconds (`Infinity`: forever). */
  get ttlMs(): number {
    return this.#ttlMs ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Statement (A) of a durable step: takes the key for a new attempt and
   * records the intent, in one statement and one synchronous commit. A key
   * that is `released`, or settled longer ago than the TTL, is taken again.
   * @param input - key, target, params, optional attempt id and strategy.
   * @returns `claimed` (run the side effect), or what holds the key.
   * @throws {@link LeaseLostError} when this instance has no live lease.
   * @throws `AuditInvalidEntryError` (`@beauvoir/audit-trail`) for bad params; {@link DatabaseUnavailableError}.
   * @example
   * ```ts
   * const claim = await backend.idempotency.claim({ key, target: "acme/app#12", params });
   * if (claim.status === "claimed") {
   *   const comment = await postComment();
   *   await backend.idempotency.settle({ key, attemptId: claim.attemptId, status: "completed", result: comment });
   * }
   * ```
   */
  async claim(input: ClaimInput): Promise<ClaimOutcome> {
    const key = requireKey(input?.key);
    const action = input.action ?? actionOfKey(key);
    const strategy = input.strategy ?? this.getStrategy(action);
    if (!isCompensationStrategy(strategy)) {
      throw new TypeError(`strategy must be "safe_retry", "check_then_retry" or "skip"`);
    }
    const attemptId = input.attemptId ?? randomUUID();
    const intent = this.#content.entry({ action, target: input.target, params: input.params });
    const signal = withLease(this.#instance, input.signal);
    const supersede = input.supersede;
    const send = async (): Promise<{ notLive: boolean; row: ClaimRow | undefined }> => {
      if (supersede === undefined) {
        return this.#batches.claim(
          {
            key,
            action,
            strategy,
            attemptId,
            runId: input.runId ?? null,
            target: intent.target,
            params: intent.params,
          },
          signal,
        );
      }
      const { rows } = await this.#runner.run<ClaimRow>(
        "idempotency.reclaim",
        this.#sql.reclaim,
        [
          this.#instance.id,
          key,
          supersede.attemptId,
          attemptId,
          strategy,
          intent.target,
          intent.params,
          this.#content.error(supersede.error),
        ],
        { signal },
      );
      return { notLive: rows.some((row) => row.outcome === "not_live"), row: rows[0] };
    };
    for (;;) {
      input.signal?.throwIfAborted();
      this.#instance.assertLive();
      const { notLive, row } = await send().catch((error: unknown) => {
        this.#instance.assertLive();
        throw error;
      });
      if (notLive) throw new LeaseLostError(this.#instance.id, "expired");
      // No row: a concurrent claim committed after this statement's snapshot.
      if (row === undefined) continue;
      const entry = toEntry(row);
      if (
        row.outcome === "claimed" ||
        (entry.attemptId === attemptId && entry.status === "pending")
      ) {
        return {
          status: "claimed",
          key,
          attemptId,
          fence: entry.fence,
          intentId: entry.intentId,
          entry,
        };
      }
      if (entry.status === "pending") return { status: "pending", key, entry };
      if (entry.status !== "released" && !row.expired) return { status: entry.status, key, entry };
      // Claimable in this snapshot, yet not taken: claimed concurrently. Ask again.
    }
  }

  /**
   * Statement (B) of a durable step: records the result and settles the key, in
   * one statement and one synchronous commit, only if `attemptId` is still the
   * key's attempt. A replica whose key was taken over (or reset) gets
   * `superseded` and has changed nothing.
   * @param input - key, attempt, status, result or error.
   * @returns `settled` or `superseded`.
   * @throws {@link DatabaseUnavailableError} when the outcome could not be confirmed (settle again, same attemptId).
   */
  async settle(input: SettleInput): Promise<SettleOutcome> {
    const key = requireKey(input?.key);
    if (!["completed", "failed", "released"].includes(input.status)) {
      throw new TypeError(`status must be "completed", "failed" or "released"`);
    }
    const content = this.#content.result(
      input.status === "completed" ? input.result : undefined,
      input.error,
    );
    const run = input.workflow;
    const request: SettleRequest = {
      key,
      attemptId: input.attemptId,
      status: input.status,
      result: content.result,
      error: content.error,
      requestId: randomUUID(),
      run:
        run === undefined
          ? null
          : {
              runId: run.runId,
              fence: run.fence,
              state: JSON.stringify(run.state),
              status: run.state.status,
              nextStep: run.state.nextStep,
            },
    };
    for (;;) {
      const row = await this.#batches.settle(request, input.signal);
      if (row === undefined) return { status: "superseded", entry: null };
      const entry = toEntry(row);
      if (row.outcome === "settled") {
        return {
          status: "settled",
          entry,
          resultRecordId: Number(row.result_id),
          workflowAdvanced: row.advanced,
        };
      }
      if (entry.attemptId !== input.attemptId) return { status: "superseded", entry };
      if (entry.status !== "pending") {
        return { status: "settled", entry, workflowAdvanced: row.advanced };
      }
      // Still pending under this attempt in the snapshot, yet not updated: an
      // earlier send was committing concurrently. A fresh statement tells.
    }
  }

  /**
   * Takes over, in bulk, pending keys of instances whose lease has ended (or
   * that stopped, or are gone): each gets this instance as owner, a new attempt
   * id and a new fence, so the old owner's settle is superseded. Handle them by
   * their strategy (`safe_retry`: run again; `check_then_retry`: ask the remote
   * first; `skip`: fail as outcome unknown).
   * @param options - limit, keys, grace.
   * @returns the keys taken over, with what their intent recorded.
   * @throws {@link LeaseLostError} when this instance has no live lease.
   */
  async takeOver(options: TakeOverOptions = {}): Promise<TakenOverKey[]> {
    return takeOverKeys(this.#runner, this.#sql, this.#instance, options);
  }

  /**
   * @param key - the key.
   * @returns the key's entry, or `null` when it was never claimed.
   */
  async check(key: string): Promise<IdempotencyKeyEntry | null> {
    const row = await this.#batches.check(requireKey(key));
    return row === undefined ? null : toEntry(row);
  }

  /**
   * Pending keys, by key.
   * @param options - `ownerId` to list one instance's; `limit` (default 1_000).
   */
  async listPending(
    options: { ownerId?: string; limit?: number } = {},
  ): Promise<IdempotencyKeyEntry[]> {
    const { rows } = await this.#runner.run<EntryRow>(
      "idempotency.listPending",
      this.#sql.listPending,
      [options.ownerId ?? null, options.limit ?? 1_000],
    );
    return rows.map(toEntry);
  }

  /**
   * Operator: makes a key runnable again (`released`), whatever its status,
   * fencing out its current attempt. An open intent gets a result saying so,
   * and the reset itself is recorded in the audit history
   * (`beauvoir.reset_key`).
   * @param key - the key.
   * @param options - `reason`, recorded.
   * @returns whether it changed, and the key now.
   */
  async resetKey(key: string, options: { reason?: string } = {}): Promise<OperatorOutcome> {
    return this.#operator.resetKey(key, options);
  }

  /**
   * Operator: settles a pending key whose outcome a human established:
   * `done` completes it (with `result`), `not_done` releases it (runnable
   * again). Its intent gets the matching result; the decision is recorded
   * (`beauvoir.resolve_key`).
   * @param key - a pending key.
   * @param outcome - `done` or `not_done`.
   * @param options - `reason`; `result` for `done`; `anyStatus` to settle a
   *   key that is not pending too (a completed or failed one).
   * @returns whether it changed (`false` when the key is not pending, without `anyStatus`), and the key now.
   */
  async resolveKey(
    key: string,
    outcome: "done" | "not_done",
    options: { reason?: string; result?: unknown; anyStatus?: boolean } = {},
  ): Promise<OperatorOutcome> {
    return this.#operator.resolveKey(key, outcome, options);
  }
}

import { randomUUID } from "node:crypto";
import { canonicalJson } from "@beauvoir/audit-trail";
import {
  buildCompensationTable,
  type CompensationStrategy,
  isCompensationStrategy,
} from "@beauvoir/idempotency";
import type { AuditContent } from "./audit-content.js";
import { LeaseLostError } from "./errors.js";
import { IdempotencyBatches, type SettleRequest } from "./idempotency-batches.js";
import { actionOfKey, type GenerateKey } from "./idempotency-key.js";
import { type IdempotencyStatements, idempotencyStatements } from "./idempotency-statements.js";
import type { InstanceLease } from "./instance-lease.js";
import { withLease } from "./lock-manager.js";
import type { StatementRunner } from "./statement-runner.js";

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

/** What {@link PostgresIdempotencyIndex.claim} takes. */
export interface ClaimInput {
  /** The idempotency key. */
  key: string;
  /** The action. @default the key's text before the first `:` */
  action?: string | undefined;
  /** How a crash during the attempt is compensated. @default the compensation table's entry for the action */
  strategy?: CompensationStrategy | undefined;
  /** What the action is done to, for the intent record, e.g. `acme/app#12`. */
  target: string;
  /** The call's parameters, recorded (redacted) in the intent. */
  params: Record<string, unknown>;
  /** The attempt's id; pass the same one again to resolve a claim whose reply was lost. @default a random UUID */
  attemptId?: string | undefined;
  /** The workflow run the step belongs to. */
  runId?: string | undefined;
  /**
   * Re-runs a pending key this instance holds (after {@link PostgresIdempotencyIndex.takeOver},
   * or an attempt whose outcome was unknown): in the same statement, the held
   * attempt's intent is closed with `error` and the new attempt's intent is
   * recorded. Without it a pending key is never claimed.
   */
  supersede?: { attemptId: string; error: string } | undefined;
  /** Stops waiting (the claim may still have committed: claim again with the same attemptId). */
  signal?: AbortSignal | undefined;
}

/** What a claim found. */
export type ClaimOutcome =
  /** This call owns the key: run the side effect, then settle with `attemptId`. */
  | {
      status: "claimed";
      key: string;
      attemptId: string;
      fence: number;
      intentId: number;
      entry: IdempotencyKeyEntry;
    }
  /** Done before (within the TTL): `entry.result` is what it returned. */
  | { status: "completed"; key: string; entry: IdempotencyKeyEntry }
  /** Failed before, terminally: `entry.error` says why. */
  | { status: "failed"; key: string; entry: IdempotencyKeyEntry }
  /** Another attempt holds it; `entry.ownerLive` false means it waits for a takeover. */
  | { status: "pending"; key: string; entry: IdempotencyKeyEntry };

/** What {@link PostgresIdempotencyIndex.settle} takes. */
export interface SettleInput {
  key: string;
  /** The attempt that ran (from the claim or the takeover). */
  attemptId: string;
  /**
   * `completed`: the side effect happened; `failed`: it failed for good;
   * `released`: it certainly did not happen and the key may be claimed again.
   */
  status: "completed" | "failed" | "released";
  /** What it returned (redacted before it is stored); `undefined` for none. */
  result?: unknown | undefined;
  /** Why it failed or was released (an `Error` is stored as `name: message`, redacted). */
  error?: string | Error | undefined;
  /**
   * A workflow run to advance in the same statement: written only while this
   * instance owns it under `fence` (see `PostgresWorkflowRuns`).
   */
  workflow?: SettledWorkflowRun | undefined;
  /** Stops waiting (settle again with the same attemptId to learn the outcome). */
  signal?: AbortSignal | undefined;
}

/** The state a workflow run moves to with a step's settlement. */
export interface SettledWorkflowRun {
  runId: string;
  /** The fence of this instance's ownership of the run. */
  fence: number;
  /** The run's new state (stored as JSON text). */
  state: { status: "running" | "completed" | "failed"; nextStep: number };
}

/** What a settle did. */
export type SettleOutcome =
  /** Settled by this attempt (now, or by an earlier send whose reply was lost). */
  | {
      status: "settled";
      entry: IdempotencyKeyEntry;
      resultRecordId?: number;
      /** Whether the `workflow` run was advanced with it (false without one, or when not owned). */
      workflowAdvanced: boolean;
    }
  /** The attempt was taken over or reset: nothing was changed. */
  | { status: "superseded"; entry: IdempotencyKeyEntry | null };

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

/** What an operator call did. */
export interface OperatorOutcome {
  /** Whether this call changed the key (or an earlier send of it did). */
  changed: boolean;
  /** The status before, when this call changed it. */
  previousStatus?: KeyStatus;
  /** The key now; `null` when there is no such key. */
  entry: IdempotencyKeyEntry | null;
}

/** Options of the {@link PostgresIdempotencyIndex}. */
export interface PostgresIdempotencyOptions {
  /** How long a settled key deduplicates; afterwards it may be claimed again. `Infinity`: forever. @default 7 days */
  ttlMs?: number | undefined;
  /** Strategy per action, merged over `@beauvoir/idempotency`'s defaults (others `skip`). */
  compensation?: Partial<Record<string, CompensationStrategy>> | undefined;
  /** The key rule. @default {@link createKeyGenerator} with the backend's redactor */
  generateKey?: GenerateKey | undefined;
}

interface EntryRow {
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
    this.#instance.assertLive();
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`limit must be a positive integer, got ${limit}`);
    }
    const graceMs = options.graceMs ?? 0;
    if (typeof graceMs !== "number" || !(graceMs >= 0)) {
      throw new RangeError(`graceMs must be a non-negative number, got ${graceMs}`);
    }
    const { rows } = await this.#runner.run<
      EntryRow & {
        previous_attempt_id: string | null;
        previous_owner_id: string | null;
        target: string;
        params: string;
      }
    >("idempotency.takeOver", this.#sql.takeOver, [
      this.#instance.id,
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

  async #operate(
    key: string,
    change: {
      allowed: KeyStatus[];
      status: KeyStatus;
      keyResult: string | null;
      keyError: string | null;
      closingError: string | null;
      action: string;
      reason: string;
      outcome?: string;
    },
  ): Promise<OperatorOutcome> {
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

function requireKey(key: unknown): string {
  if (typeof key !== "string" || key.length === 0) {
    throw new TypeError("key must be a non-empty string");
  }
  return key;
}

function toEntry(row: EntryRow): IdempotencyKeyEntry {
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

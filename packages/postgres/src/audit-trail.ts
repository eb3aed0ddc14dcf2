import { randomUUID } from "node:crypto";
import {
  AuditInvalidEntryError,
  AuditUnknownIntentError,
  type DeniedEntry,
  type DryRunEntry,
  type IntentEntry,
} from "@beauvoir/audit-trail";
import type { AuditContent, AuditRecordContent } from "./audit-content.js";
import { DatabaseUnavailableError } from "./errors.js";
import { StatementBatcher } from "./statement-batcher.js";
import type { StatementRunner } from "./statement-runner.js";

/** One record a writer appends, in a batch of concurrent writers' records. */
interface AppendRequest {
  requestId: string;
  phase: "intent" | "denied" | "dry_run";
  content: AuditRecordContent;
  error: string | null;
  dryRun: boolean;
}

/**
 * The database's clock as ISO-8601 UTC with milliseconds, the format of the
 * file trail's `ts` (`Date.prototype.toISOString`).
 * @internal
 */
export const DATABASE_TIMESTAMP = `to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * A FROM item that makes the statement's own commit synchronous whatever the
 * session or server default is (`set_config(…, true)` lasts until the end of
 * the statement's transaction, which is when the commit reads it).
 * @internal
 */
export const SYNCHRONOUS_COMMIT = `(SELECT set_config('synchronous_commit', 'on', true)) AS synchronous_commit`;

/** What {@link PostgresAuditTrail.findResultByDedupeKey} answers. */
export interface RecordedResult {
  /** The id of the intent the result closes. */
  intentId: number;
  /** When the result was recorded (database clock), ISO-8601 as in the record. */
  ts: string;
  /** The recorded (redacted) return value, when there was one. */
  result?: unknown;
  /** The recorded failure, when there was one. */
  error?: string;
}

/** An intent that has no result yet. */
export interface OpenIntent {
  /** The intent record's id. */
  id: number;
  action: string;
  target: string;
  dedupeKey?: string;
}

/** An intent record with what it recorded. */
export interface IntentRecord extends OpenIntent {
  /** The (redacted) params as recorded. */
  params: Record<string, unknown>;
}

/**
 * The writing side of the one audit history all replicas share. Each call
 * inserts one record and resolves once that insert has committed
 * (synchronously); writers never wait for one another, and the records of
 * concurrent writers of one replica share one multi-row insert and commit. Records get their place
 * in the chain (`seq`, `prevHash`, `hash`) later, from the sealer, so the ids
 * this class returns are record ids, not seqs: pass them back to
 * `recordResult`. Every call is safe to resend: it carries a request id and a
 * resend finds the record it already wrote.
 */
export class PostgresAuditTrail {
  readonly #runner: StatementRunner;
  readonly #schema: string;
  readonly #writerId: string;
  readonly #content: AuditContent;
  readonly #appends: StatementBatcher<AppendRequest, number | undefined>;

  /**
   * @internal Made by the backend (or its factory), which passes these in.
   * @param runner - how statements are sent.
   * @param schema - the quoted schema.
   * @param writerId - the instance writing (stored in `writer_id`).
   * @param content - redaction and serialization.
   */
  constructor(runner: StatementRunner, schema: string, writerId: string, content: AuditContent) {
    this.#runner = runner;
    this.#schema = schema;
    this.#writerId = writerId;
    this.#content = content;
    this.#appends = new StatementBatcher({
      send: (requests, signal) => this.#sendAppends(requests, signal),
      isolate: (error) => !DatabaseUnavailableError.isInstance(error),
    });
  }

  /**
   * Records that an action is about to run.
   * @param entry - action, target, params (redacted before writing), optional dedupeKey.
   * @returns the record's id, to pass to {@link PostgresAuditTrail.recordResult}.
   * @throws `AuditInvalidEntryError` (`@beauvoir/audit-trail`) for a malformed entry; {@link DatabaseUnavailableError}.
   */
  async recordIntent(entry: IntentEntry): Promise<number> {
    return this.#insert("intent", this.#content.entry(entry), null, false);
  }

  /**
   * Records how an intent ended. The intent's action, target and dedupeKey are
   * copied onto the result, as in the file trail.
   * @param intentId - what `recordIntent` returned.
   * @param result - the action's return value (redacted); `undefined` for none.
   * @param error - the failure, if it failed (an `Error` is written as `name: message`, redacted).
   * @returns the result record's id.
   * @throws `AuditUnknownIntentError` (`@beauvoir/audit-trail`) when the id is not an intent, or it already has a result.
   */
  async recordResult(intentId: number, result: unknown, error?: string | Error): Promise<number> {
    if (!Number.isSafeInteger(intentId) || intentId < 1) {
      throw new AuditInvalidEntryError("intentSeq", "intent id must be a positive integer");
    }
    const content = this.#content.result(result, error);
    const requestId = randomUUID();
    const s = this.#schema;
    for (;;) {
      const { rows } = await this.#runner.run<{ id: string }>(
        "audit.recordResult",
        `WITH inserted AS (
           INSERT INTO ${s}.audit_records
             (request_id, writer_id, phase, intent_id, ts, action, target, params, dedupe_key, result, error, dry_run)
           SELECT $1, $2, 'result', i.id, ${DATABASE_TIMESTAMP}, i.action, i.target, '{}', i.dedupe_key, $4, $5, false
             FROM ${s}.audit_records i, ${SYNCHRONOUS_COMMIT}
            WHERE i.id = $3 AND i.phase = 'intent'
           ON CONFLICT DO NOTHING
           RETURNING id
         )
         SELECT id::text FROM inserted
         UNION ALL
         SELECT id::text FROM ${s}.audit_records WHERE request_id = $1 AND NOT EXISTS (SELECT 1 FROM inserted)`,
        [requestId, this.#writerId, intentId, content.result, content.error],
      );
      if (rows[0] !== undefined) return Number(rows[0].id);
      const reason = await this.#whyNoResult(intentId);
      if (reason !== "retry") throw new AuditUnknownIntentError(intentId, reason);
    }
  }

  /**
   * Records that policy refused an action (it did not run).
   * @param entry - action, target, params (redacted), optional reason (stored as `error`).
   * @returns the record's id.
   */
  async recordDenied(entry: DeniedEntry): Promise<number> {
    const content = this.#content.entry(entry);
    const reason = entry.reason === undefined ? null : this.#content.error(entry.reason);
    return this.#insert("denied", content, reason, false);
  }

  /**
   * Records a simulated action (`dryRun: true`).
   * @param entry - action, target, params (redacted).
   * @returns the record's id.
   */
  async recordDryRun(entry: DryRunEntry): Promise<number> {
    return this.#insert("dry_run", this.#content.entry(entry), null, true);
  }

  /**
   * The latest recorded result for a dedupe key: a second source of truth for
   * "did it happen" when an idempotency key is unknown.
   * @param dedupeKey - the key the intent was recorded with.
   * @returns the result, or `null` when no intent with that key has a result.
   */
  findResultByDedupeKey(dedupeKey: string): Promise<RecordedResult | null> {
    return this.#findResult(
      "audit.findResultByDedupeKey",
      "dedupe_key = $1 AND phase = 'result' ORDER BY id DESC LIMIT 1",
      this.#content.dedupeKey(dedupeKey),
    );
  }

  /**
   * The result of an intent, if it has one.
   * @param intentId - the intent's id.
   * @returns the result, or `null`.
   */
  findResultByIntent(intentId: number): Promise<RecordedResult | null> {
    return this.#findResult(
      "audit.findResultByIntent",
      "intent_id = $1 AND phase = 'result'",
      intentId,
    );
  }

  /**
   * Intents without a result, oldest first.
   * @param limit - at most this many. @default 1_000
   */
  async getPendingIntents(limit = 1_000): Promise<OpenIntent[]> {
    const s = this.#schema;
    const { rows } = await this.#runner.run<{
      id: string;
      action: string;
      target: string;
      dedupe_key: string | null;
    }>(
      "audit.getPendingIntents",
      `SELECT i.id::text, i.action, i.target, i.dedupe_key FROM ${s}.audit_records i
        WHERE i.phase = 'intent'
          AND NOT EXISTS (SELECT 1 FROM ${s}.audit_records r WHERE r.intent_id = i.id AND r.phase = 'result')
        ORDER BY i.id LIMIT $1`,
      [limit],
    );
    return rows.map((row) => {
      const intent: OpenIntent = { id: Number(row.id), action: row.action, target: row.target };
      if (row.dedupe_key !== null) intent.dedupeKey = row.dedupe_key;
      return intent;
    });
  }

  /**
   * Intents recorded outside a durable step (without a dedupe key) that have
   * no result and whose writer's lease has ended: nobody will close them but
   * a live replica (boot closes them as abandoned). A step's intent is never
   * among them: it is claimed and closed with its key, in one statement.
   * @param limit - at most this many. @default 1_000
   */
  async getAbandonedIntents(limit = 1_000): Promise<IntentRecord[]> {
    const s = this.#schema;
    const { rows } = await this.#runner.run<IntentRow>(
      "audit.getAbandonedIntents",
      `SELECT i.id::text, i.action, i.target, i.params, i.dedupe_key FROM ${s}.audit_records i
         LEFT JOIN ${s}.instances w ON w.id = i.writer_id
        WHERE i.phase = 'intent' AND i.dedupe_key IS NULL
          AND NOT EXISTS (SELECT 1 FROM ${s}.audit_records r WHERE r.intent_id = i.id AND r.phase = 'result')
          AND (w.id IS NULL OR w.stopped_at IS NOT NULL OR w.lease_expires_at <= now())
        ORDER BY i.id LIMIT $1`,
      [limit],
    );
    return rows.map(toIntentRecord);
  }

  /**
   * Intent records by id.
   * @param ids - record ids; those that are not intents are left out.
   */
  async findIntents(ids: readonly number[]): Promise<IntentRecord[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.#runner.run<IntentRow>(
      "audit.findIntents",
      `SELECT id::text, action, target, params, dedupe_key FROM ${this.#schema}.audit_records
        WHERE id = ANY ($1::bigint[]) AND phase = 'intent' ORDER BY id`,
      [[...ids]],
    );
    return rows.map(toIntentRecord);
  }

  /**
   * The seq the sealer gave a record.
   * @param id - a record id.
   * @returns its seq, or `null` while it is not sealed yet (or does not exist).
   */
  async sealedSeq(id: number): Promise<number | null> {
    const { rows } = await this.#runner.run<{ seq: string | null }>(
      "audit.sealedSeq",
      `SELECT seq::text FROM ${this.#schema}.audit_records WHERE id = $1`,
      [id],
    );
    const seq = rows[0]?.seq;
    return seq === undefined || seq === null ? null : Number(seq);
  }

  async #insert(
    phase: "intent" | "denied" | "dry_run",
    content: AuditRecordContent,
    error: string | null,
    dryRun: boolean,
  ): Promise<number> {
    const request: AppendRequest = { requestId: randomUUID(), phase, content, error, dryRun };
    for (;;) {
      const id = await this.#appends.submit(request);
      // None: an earlier send of this request was still committing when this
      // statement's snapshot was taken; the next one sees it.
      if (id !== undefined) return id;
    }
  }

  /** Inserts records of concurrent writers as one multi-row statement, one synchronous commit. */
  async #sendAppends(requests: readonly AppendRequest[], signal: AbortSignal) {
    const s = this.#schema;
    const column = <T>(pick: (request: AppendRequest) => T) => requests.map(pick);
    const { rows } = await this.#runner.run<{ id: string; request_id: string }>(
      "audit.record",
      `WITH input AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                              $7::text[], $8::boolean[])
           AS u (request_id, phase, action, target, params, dedupe_key, error, dry_run)
       ),
       inserted AS (
         INSERT INTO ${s}.audit_records
           (request_id, writer_id, phase, ts, action, target, params, dedupe_key, error, dry_run)
         SELECT u.request_id, $9, u.phase, ${DATABASE_TIMESTAMP}, u.action, u.target, u.params,
                u.dedupe_key, u.error, u.dry_run
           FROM input u, ${SYNCHRONOUS_COMMIT}
         ON CONFLICT (request_id) DO NOTHING
         RETURNING id, request_id
       )
       SELECT id::text, request_id::text FROM inserted
       UNION ALL
       SELECT r.id::text, r.request_id::text FROM input u JOIN ${s}.audit_records r ON r.request_id = u.request_id
        WHERE NOT EXISTS (SELECT 1 FROM inserted i WHERE i.request_id = u.request_id)`,
      [
        column((request) => request.requestId),
        column((request) => request.phase),
        column((request) => request.content.action),
        column((request) => request.content.target),
        column((request) => request.content.params),
        column((request) => request.content.dedupeKey),
        column((request) => request.error),
        column((request) => request.dryRun),
        this.#writerId,
      ],
      { signal },
    );
    const ids = new Map(rows.map((row) => [row.request_id, Number(row.id)]));
    return requests.map((request) => ids.get(request.requestId));
  }

  async #findResult(
    operation: string,
    where: string,
    value: unknown,
  ): Promise<RecordedResult | null> {
    const { rows } = await this.#runner.run<{
      intent_id: string;
      ts: string;
      result: string | null;
      error: string | null;
    }>(
      operation,
      `SELECT intent_id::text, ts, result, error FROM ${this.#schema}.audit_records WHERE ${where}`,
      [value],
    );
    const row = rows[0];
    if (row === undefined) return null;
    const recorded: RecordedResult = { intentId: Number(row.intent_id), ts: row.ts };
    if (row.result !== null) recorded.result = JSON.parse(row.result);
    if (row.error !== null) recorded.error = row.error;
    return recorded;
  }

  async #whyNoResult(intentId: number): Promise<"not_open" | "already_resolved" | "retry"> {
    const s = this.#schema;
    const { rows } = await this.#runner.run<{ phase: string; resolved: boolean }>(
      "audit.recordResult",
      `SELECT i.phase, EXISTS (SELECT 1 FROM ${s}.audit_records r WHERE r.intent_id = i.id AND r.phase = 'result') AS resolved
         FROM ${s}.audit_records i WHERE i.id = $1`,
      [intentId],
    );
    const row = rows[0];
    if (row === undefined || row.phase !== "intent") return "not_open";
    return row.resolved ? "already_resolved" : "retry";
  }
}

interface IntentRow {
  id: string;
  action: string;
  target: string;
  params: string;
  dedupe_key: string | null;
}

function toIntentRecord(row: IntentRow): IntentRecord {
  const intent: IntentRecord = {
    id: Number(row.id),
    action: row.action,
    target: row.target,
    params: JSON.parse(row.params) as Record<string, unknown>,
  };
  if (row.dedupe_key !== null) intent.dedupeKey = row.dedupe_key;
  return intent;
}

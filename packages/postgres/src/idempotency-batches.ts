import { DatabaseUnavailableError } from "./errors.js";
import type { IdempotencyStatements } from "./idempotency-statements.js";
import type { InstanceLease } from "./instance-lease.js";
import { StatementBatcher } from "./statement-batcher.js";
import type { StatementRunner } from "./statement-runner.js";

/** @internal One claim (statement A) in a batch. */
export interface ClaimRequest {
  key: string;
  action: string;
  strategy: string;
  attemptId: string;
  runId: string | null;
  target: string;
  params: string;
}

/** @internal One settlement (statement B) in a batch, with the workflow run it advances. */
export interface SettleRequest {
  key: string;
  attemptId: string;
  status: string;
  result: string | null;
  error: string | null;
  requestId: string;
  run: { runId: string; fence: number; state: string; status: string; nextStep: number } | null;
}

/** @internal A claim's answer: its key's row (none: claimed concurrently after the snapshot). */
export interface ClaimAnswer<Row> {
  /** This instance had no live lease: nothing was claimed. */
  notLive: boolean;
  row: Row | undefined;
}

interface KeyedRow {
  key: string | null;
  outcome?: string;
}

/**
 * @internal Statements (A) and (B) of durable steps and key reads, each
 * through a {@link StatementBatcher}: the claims (or settlements) of
 * concurrent steps of this replica go out as one multi-row statement with
 * one synchronous commit, each step answered with its own key's row. A key
 * is never twice in one batch, nor in two batches in flight. A batch the
 * database refused for a reason other than an unknown outcome (a bad row) is
 * sent again one member at a time; one whose outcome stays unknown
 * (`DATABASE_UNAVAILABLE`) fails every member, which resend with the same
 * attempt ids.
 */
export class IdempotencyBatches<Row extends KeyedRow> {
  readonly #claims: StatementBatcher<ClaimRequest, ClaimAnswer<Row>>;
  readonly #settlements: StatementBatcher<SettleRequest, Row | undefined>;
  readonly #reads: StatementBatcher<string, Row | undefined>;

  /**
   * @param runner - how statements are sent (and resent after a transient failure).
   * @param sql - the index's statements.
   * @param instance - the lease claims belong to.
   * @param ttlMs - how long a settled key deduplicates (`null`: forever).
   */
  constructor(
    runner: StatementRunner,
    sql: IdempotencyStatements,
    instance: InstanceLease,
    ttlMs: number | null,
  ) {
    const isolate = (error: unknown) => !DatabaseUnavailableError.isInstance(error);
    const byKey = (rows: Row[]) => new Map(rows.map((row) => [row.key, row]));
    this.#claims = new StatementBatcher({
      conflictKeys: (request) => [request.key],
      isolate,
      send: async (requests, signal) => {
        const { rows } = await runner.run<Row>(
          "idempotency.claim",
          sql.claim,
          [
            instance.id,
            requests.map((request) => request.key),
            requests.map((request) => request.action),
            requests.map((request) => request.strategy),
            requests.map((request) => request.attemptId),
            requests.map((request) => request.runId),
            requests.map((request) => request.target),
            requests.map((request) => request.params),
          ],
          { signal },
        );
        const notLive = rows.some((row) => row.outcome === "not_live");
        const found = byKey(rows);
        return requests.map((request) => ({ notLive, row: found.get(request.key) }));
      },
    });
    this.#settlements = new StatementBatcher({
      conflictKeys: (request) =>
        request.run === null ? [request.key] : [request.key, `run:${request.run.runId}`],
      isolate,
      send: async (requests, signal) => {
        const column = <T>(pick: (request: SettleRequest) => T) => requests.map(pick);
        const { rows } = await runner.run<Row>(
          "idempotency.settle",
          sql.settle,
          [
            column((request) => request.key),
            column((request) => request.attemptId),
            column((request) => request.status),
            column((request) => request.result),
            column((request) => request.error),
            column((request) => request.requestId),
            column((request) => request.run?.runId ?? null),
            column((request) => request.run?.fence ?? null),
            column((request) => request.run?.state ?? null),
            column((request) => request.run?.status ?? null),
            column((request) => request.run?.nextStep ?? null),
            ttlMs,
            instance.id,
          ],
          { signal },
        );
        const found = byKey(rows);
        return requests.map((request) => found.get(request.key));
      },
    });
    this.#reads = new StatementBatcher({
      send: async (keys, signal) => {
        const { rows } = await runner.run<Row>("idempotency.check", sql.check, [[...keys]], {
          signal,
        });
        const found = byKey(rows);
        return keys.map((key) => found.get(key));
      },
    });
  }

  /** Statement (A) for one key, in the next batch of claims. */
  claim(request: ClaimRequest, signal?: AbortSignal): Promise<ClaimAnswer<Row>> {
    return this.#claims.submit(request, signal);
  }

  /** Statement (B) for one key, in the next batch of settlements. */
  settle(request: SettleRequest, signal?: AbortSignal): Promise<Row | undefined> {
    return this.#settlements.submit(request, signal);
  }

  /** One key's row, read in the next batch of reads. */
  check(key: string): Promise<Row | undefined> {
    return this.#reads.submit(key);
  }
}

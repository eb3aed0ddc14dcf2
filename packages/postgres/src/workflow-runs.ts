import { randomUUID } from "node:crypto";
import type { WorkflowRunOwnership, WorkflowRunRecord, WorkflowRunStorePort } from "@beauvoir/boot";
import { SYNCHRONOUS_COMMIT } from "./audit-trail.js";
import { LeaseLostError } from "./errors.js";
import type { InstanceLease } from "./instance-lease.js";
import type { StatementRunner } from "./statement-runner.js";

interface CreatedRow {
  outcome: "created" | "existing" | "not_live";
  state: string | null;
}

interface OwnerRow {
  outcome: "taken" | "existing";
  fence: string;
  mine: boolean;
}

/**
 * The workflow runs of every replica in one table (`workflow_runs`), for
 * `@beauvoir/boot`'s workflow engine. Each run has an owner: the replica that
 * started it, or the one that took it over once the owner's lease ended (a
 * new fence each time). Only the owner writes it, fenced in SQL, so a replica
 * whose run was taken over changes nothing; a step's settlement advances the
 * run in the same statement (`PostgresIdempotencyIndex.settle` with
 * `workflow`). Every statement can be resent after a lost reply: it carries a
 * write id and reads its own outcome back.
 */
export class PostgresWorkflowRuns<State extends WorkflowRunRecord = WorkflowRunRecord>
  implements WorkflowRunStorePort<State>
{
  readonly #runner: StatementRunner;
  readonly #schema: string;
  readonly #instance: InstanceLease;

  /**
   * @internal Made by the backend, which passes these in.
   * @param runner - how statements are sent.
   * @param schema - the quoted schema.
   * @param instance - the lease runs are owned under.
   */
  constructor(runner: StatementRunner, schema: string, instance: InstanceLease) {
    this.#runner = runner;
    this.#schema = schema;
    this.#instance = instance;
  }

  /**
   * Stores a new run owned by this instance, unless one with its id exists.
   * @returns the stored run (the existing one, unchanged, if there was one).
   * @throws {@link LeaseLostError} without a live lease.
   */
  async create(state: State): Promise<State> {
    const s = this.#schema;
    const writeId = randomUUID();
    const text = serialize(state);
    for (;;) {
      this.#instance.assertLive();
      const { rows } = await this.#runner.run<CreatedRow>(
        "workflowRuns.create",
        `WITH me AS (
           SELECT id FROM ${s}.instances WHERE id = $1 AND stopped_at IS NULL AND lease_expires_at > now()
         ),
         created AS (
           INSERT INTO ${s}.workflow_runs
             (run_id, workflow, status, next_step, state, owner_id, fence, write_id, created_at, updated_at)
           SELECT $2, $3, $4, $5, $6, $1, nextval('${s}.fence_seq'), $7, now(), now()
             FROM me, ${SYNCHRONOUS_COMMIT}
           ON CONFLICT (run_id) DO NOTHING
           RETURNING state
         )
         SELECT 'created' AS outcome, state FROM created
         UNION ALL
         SELECT 'existing', state FROM ${s}.workflow_runs
          WHERE run_id = $2 AND NOT EXISTS (SELECT 1 FROM created)
         UNION ALL
         SELECT 'not_live', NULL WHERE NOT EXISTS (SELECT 1 FROM me)`,
        [
          this.#instance.id,
          state.runId,
          state.workflow,
          state.status,
          state.nextStep,
          text,
          writeId,
        ],
      );
      if (rows.some((row) => row.outcome === "not_live")) {
        throw new LeaseLostError(this.#instance.id, "expired");
      }
      const row = rows[0];
      // No row: a concurrent create committed after this statement's snapshot.
      if (row?.state) return JSON.parse(row.state) as State;
    }
  }

  /** @returns the run, or `null` for an unknown one. */
  async get(runId: string): Promise<State | null> {
    const { rows } = await this.#runner.run<{ state: string }>(
      "workflowRuns.get",
      `SELECT state FROM ${this.#schema}.workflow_runs WHERE run_id = $1`,
      [runId],
    );
    return rows[0] === undefined ? null : (JSON.parse(rows[0].state) as State);
  }

  /** @returns the ids of runs still running, oldest first (whoever owns them). */
  async listUnfinished(): Promise<string[]> {
    const { rows } = await this.#runner.run<{ run_id: string }>(
      "workflowRuns.listUnfinished",
      `SELECT run_id FROM ${this.#schema}.workflow_runs WHERE status = 'running'
        ORDER BY created_at, run_id`,
      [],
    );
    return rows.map((row) => row.run_id);
  }

  /**
   * Takes a running run for this instance: its own (its current fence), or
   * one whose owner's lease ended (a new fence, in one statement).
   * @returns the ownership, or `null` when a live replica owns it, it is not
   *   running, or this instance has no live lease.
   */
  async acquire(runId: string): Promise<WorkflowRunOwnership | null> {
    const s = this.#schema;
    const { rows } = await this.#runner.run<OwnerRow>(
      "workflowRuns.acquire",
      `WITH me AS (
         SELECT id FROM ${s}.instances WHERE id = $1 AND stopped_at IS NULL AND lease_expires_at > now()
       ),
       taken AS (
         UPDATE ${s}.workflow_runs r
            SET owner_id = $1, fence = nextval('${s}.fence_seq'), updated_at = now()
           FROM ${SYNCHRONOUS_COMMIT}
          WHERE r.run_id = $2 AND r.status = 'running' AND r.owner_id <> $1
            AND EXISTS (SELECT 1 FROM me)
            AND NOT EXISTS (SELECT 1 FROM ${s}.instances o
                             WHERE o.id = r.owner_id AND o.stopped_at IS NULL AND o.lease_expires_at > now())
         RETURNING r.fence
       )
       SELECT 'taken' AS outcome, fence::text, true AS mine FROM taken
       UNION ALL
       SELECT 'existing', r.fence::text,
              r.owner_id = $1 AND r.status = 'running' AND EXISTS (SELECT 1 FROM me)
         FROM ${s}.workflow_runs r
        WHERE r.run_id = $2 AND NOT EXISTS (SELECT 1 FROM taken)`,
      [this.#instance.id, runId],
    );
    const row = rows[0];
    if (row === undefined || !row.mine) return null;
    if (row.outcome === "taken") {
      this.#runner.settings.logger.warn("Took over a workflow run whose replica's lease ended", {
        runId,
        fence: Number(row.fence),
      });
    }
    return { runId, fence: Number(row.fence) };
  }

  /**
   * Writes the run while this instance owns it under `ownership.fence`.
   * @returns false when it was taken over (nothing written).
   */
  async save(state: State, ownership: WorkflowRunOwnership): Promise<boolean> {
    const s = this.#schema;
    const writeId = randomUUID();
    const { rows } = await this.#runner.run<{ saved: boolean }>(
      "workflowRuns.save",
      `WITH saved AS (
         UPDATE ${s}.workflow_runs r
            SET status = $4, next_step = $5, state = $6, write_id = $7, updated_at = now()
           FROM ${SYNCHRONOUS_COMMIT}
          WHERE r.run_id = $2 AND r.owner_id = $1 AND r.fence = $3::bigint
         RETURNING r.run_id
       )
       SELECT true AS saved FROM saved
       UNION ALL
       SELECT r.write_id = $7 FROM ${s}.workflow_runs r
        WHERE r.run_id = $2 AND NOT EXISTS (SELECT 1 FROM saved)`,
      [
        this.#instance.id,
        state.runId,
        ownership.fence,
        state.status,
        state.nextStep,
        serialize(state),
        writeId,
      ],
    );
    return rows[0]?.saved === true;
  }
}

function serialize(state: WorkflowRunRecord): string {
  try {
    return JSON.stringify(state);
  } catch (error) {
    throw new TypeError(
      `workflow run state cannot be written as JSON: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

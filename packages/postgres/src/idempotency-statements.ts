import { DATABASE_TIMESTAMP, SYNCHRONOUS_COMMIT } from "./audit-trail.js";

/** @internal The SQL of the idempotency index, for one schema. */
export interface IdempotencyStatements {
  claim: string;
  reclaim: string;
  settle: string;
  takeOver: string;
  check: string;
  listPending: string;
  operate: string;
}

/** Columns of an entry read from alias `k` (the table, or a CTE returning `k.*`). */
function entryColumns(s: string): string {
  return `k.key, k.status, k.action, k.strategy, k.owner_id, k.attempt_id, k.fence::text AS fence,
    k.intent_id::text AS intent_id, k.attempts, k.run_id, k.result, k.error,
    k.created_at, k.updated_at, k.expires_at,
    (k.status IN ('completed', 'failed') AND k.expires_at <= now()) AS expired,
    EXISTS (SELECT 1 FROM ${s}.instances o
             WHERE o.id = k.owner_id AND o.stopped_at IS NULL AND o.lease_expires_at > now()) AS owner_live`;
}

/**
 * @internal Builds the statements. Each is one statement (one implicit
 * transaction, one commit) and answers with what it did or, when it did
 * nothing, with the row as its snapshot saw it, so a resend after a lost reply
 * learns its own outcome.
 */
export function idempotencyStatements(s: string): IdempotencyStatements {
  const entry = entryColumns(s);
  const live = `SELECT id FROM ${s}.instances
                 WHERE id = $1 AND stopped_at IS NULL AND lease_expires_at > now()`;
  return {
    // One row per claim, in arrays: $1 instance, $2 keys, $3 actions, $4 strategies, $5 attempts,
    // $6 runs, $7 targets, $8 params. Rows are locked in key order, so two batches
    // touching the same keys wait for each other instead of deadlocking.
    claim: `WITH me AS (${live}),
      input AS (
        SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::uuid[], $6::text[], $7::text[], $8::text[])
          AS u (key, action, strategy, attempt_id, run_id, target, params)
      ),
      fresh AS (
        SELECT u.*, nextval('${s}.audit_record_id_seq') AS intent_id, nextval('${s}.fence_seq') AS fence
          FROM input u, me, ${SYNCHRONOUS_COMMIT}
      ),
      claimed AS (
        INSERT INTO ${s}.idempotency_keys AS k
          (key, status, action, strategy, owner_id, attempt_id, fence, intent_id, attempts, run_id,
           created_at, updated_at)
        SELECT f.key, 'pending', f.action, f.strategy, $1, f.attempt_id, f.fence, f.intent_id, 1, f.run_id,
               now(), now()
          FROM fresh f ORDER BY f.key
        ON CONFLICT (key) DO UPDATE SET
          status = 'pending', action = EXCLUDED.action, strategy = EXCLUDED.strategy,
          owner_id = EXCLUDED.owner_id, attempt_id = EXCLUDED.attempt_id, fence = EXCLUDED.fence,
          intent_id = EXCLUDED.intent_id, attempts = k.attempts + 1, takeover_id = NULL,
          run_id = EXCLUDED.run_id, result = NULL, error = NULL, updated_at = now(), expires_at = NULL
          WHERE k.status = 'released' OR (k.status IN ('completed', 'failed') AND k.expires_at <= now())
        RETURNING k.*
      ),
      intent AS (
        INSERT INTO ${s}.audit_records
          (id, request_id, writer_id, phase, ts, action, target, params, dedupe_key, dry_run, attempt_id)
        SELECT c.intent_id, c.attempt_id, $1, 'intent', ${DATABASE_TIMESTAMP}, c.action, f.target, f.params,
               c.key, false, c.attempt_id
          FROM claimed c JOIN fresh f ON f.key = c.key
      )
      SELECT 'claimed' AS outcome, ${entry} FROM claimed k
      UNION ALL
      SELECT 'existing', ${entry} FROM input u JOIN ${s}.idempotency_keys k ON k.key = u.key
       WHERE NOT EXISTS (SELECT 1 FROM claimed c WHERE c.key = u.key)
      UNION ALL
      SELECT 'not_live', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             NULL, NULL, NULL, NULL, NULL
       WHERE NOT EXISTS (SELECT 1 FROM me)`,

    // $1 instance, $2 key, $3 held attempt, $4 new attempt, $5 strategy, $6 target, $7 params,
    // $8 the held intent's closing error
    reclaim: `WITH me AS (${live}),
      held AS (
        SELECT k.key, k.intent_id FROM ${s}.idempotency_keys k
         WHERE k.key = $2 AND k.attempt_id = $3 AND k.owner_id = $1 AND k.status = 'pending'
           AND EXISTS (SELECT 1 FROM me)
         FOR UPDATE
      ),
      fresh AS (
        SELECT nextval('${s}.audit_record_id_seq') AS intent_id, nextval('${s}.fence_seq') AS fence
          FROM held, ${SYNCHRONOUS_COMMIT}
      ),
      closed AS (
        INSERT INTO ${s}.audit_records
          (request_id, writer_id, phase, intent_id, ts, action, target, params, dedupe_key, error,
           dry_run, attempt_id)
        SELECT gen_random_uuid(), $1, 'result', i.id, ${DATABASE_TIMESTAMP}, i.action, i.target, '{}',
               i.dedupe_key, $8, false, $3
          FROM held h JOIN ${s}.audit_records i ON i.id = h.intent_id
      ),
      claimed AS (
        UPDATE ${s}.idempotency_keys k
           SET attempt_id = $4, fence = f.fence, intent_id = f.intent_id, strategy = $5,
               attempts = k.attempts + 1, takeover_id = NULL, updated_at = now()
          FROM fresh f
         WHERE k.key = $2
        RETURNING k.*
      ),
      intent AS (
        INSERT INTO ${s}.audit_records
          (id, request_id, writer_id, phase, ts, action, target, params, dedupe_key, dry_run, attempt_id)
        SELECT c.intent_id, $4, $1, 'intent', ${DATABASE_TIMESTAMP}, c.action, $6, $7, c.key, false, $4
          FROM claimed c
      )
      SELECT 'claimed' AS outcome, ${entry} FROM claimed k
      UNION ALL
      SELECT 'existing', ${entry} FROM ${s}.idempotency_keys k
       WHERE k.key = $2 AND NOT EXISTS (SELECT 1 FROM claimed)
      UNION ALL
      SELECT 'not_live', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             NULL, NULL, NULL, NULL, NULL
       WHERE NOT EXISTS (SELECT 1 FROM me)`,

    // One row per settlement, in arrays: $1 keys, $2 attempts, $3 statuses, $4 results, $5 errors,
    // $6 requests; the workflow run each advances with it: $7 run ids (null: none), $8 run fences,
    // $9 run states, $10 run statuses, $11 runs' next steps; then $12 ttl ms (null: never),
    // $13 writer.
    settle: `WITH input AS (
        SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[],
                             $7::text[], $8::bigint[], $9::text[], $10::text[], $11::integer[])
          AS u (s_key, s_attempt, s_status, s_result, s_error, s_request, s_run, s_run_fence,
                s_run_state, s_run_status, s_next_step)
      ),
      settled AS (
        UPDATE ${s}.idempotency_keys k
           SET status = u.s_status, result = u.s_result, error = u.s_error, updated_at = now(),
               expires_at = CASE WHEN u.s_status = 'released' THEN NULL
                                 ELSE now() + $12::double precision * interval '1 millisecond' END
          FROM input u, ${SYNCHRONOUS_COMMIT}
         WHERE k.key = u.s_key AND k.attempt_id = u.s_attempt AND k.status = 'pending'
        RETURNING k.*, u.*
      ),
      recorded AS (
        INSERT INTO ${s}.audit_records
          (request_id, writer_id, phase, intent_id, ts, action, target, params, dedupe_key, result,
           error, dry_run, attempt_id)
        SELECT k.s_request, $13, 'result', i.id, ${DATABASE_TIMESTAMP}, i.action, i.target, '{}',
               i.dedupe_key, k.s_result, k.s_error, false, k.s_attempt
          FROM settled k JOIN ${s}.audit_records i ON i.id = k.intent_id
        RETURNING id, intent_id
      ),
      advanced AS (
        UPDATE ${s}.workflow_runs r
           SET state = k.s_run_state, status = k.s_run_status, next_step = k.s_next_step,
               write_id = k.s_request, updated_at = now()
          FROM settled k
         WHERE k.s_run IS NOT NULL AND r.run_id = k.s_run AND r.owner_id = $13
           AND r.fence = k.s_run_fence AND r.status = 'running'
        RETURNING r.run_id
      )
      SELECT 'settled' AS outcome,
             (SELECT d.id::text FROM recorded d WHERE d.intent_id = k.intent_id) AS result_id,
             EXISTS (SELECT 1 FROM advanced a WHERE a.run_id = k.s_run) AS advanced, ${entry}
        FROM settled k
      UNION ALL
      SELECT 'existing', NULL,
             EXISTS (SELECT 1 FROM ${s}.workflow_runs r WHERE r.run_id = u.s_run AND r.write_id = u.s_request),
             ${entry}
        FROM input u JOIN ${s}.idempotency_keys k ON k.key = u.s_key
       WHERE NOT EXISTS (SELECT 1 FROM settled d WHERE d.key = u.s_key)`,

    // $1 instance, $2 limit, $3 grace ms, $4 keys (null: any), $5 takeover id
    takeOver: `WITH me AS (${live}),
      victims AS (
        SELECT k.key, k.attempt_id AS previous_attempt_id, k.owner_id AS previous_owner_id
          FROM ${s}.idempotency_keys k LEFT JOIN ${s}.instances o ON o.id = k.owner_id
         WHERE k.status = 'pending' AND k.owner_id <> $1
           AND (o.id IS NULL OR o.stopped_at IS NOT NULL
                OR o.lease_expires_at <= now() - $3::double precision * interval '1 millisecond')
           AND EXISTS (SELECT 1 FROM me)
           AND ($4::text[] IS NULL OR k.key = ANY ($4::text[]))
         ORDER BY k.key LIMIT $2
         FOR UPDATE OF k SKIP LOCKED
      ),
      taken AS (
        UPDATE ${s}.idempotency_keys k
           SET owner_id = $1, attempt_id = gen_random_uuid(), fence = nextval('${s}.fence_seq'),
               attempts = k.attempts + 1, takeover_id = $5, updated_at = now()
          FROM victims v, ${SYNCHRONOUS_COMMIT}
         WHERE k.key = v.key
        RETURNING k.*, v.previous_attempt_id, v.previous_owner_id
      ),
      earlier AS (
        SELECT k.*, NULL::uuid AS previous_attempt_id, NULL::uuid AS previous_owner_id
          FROM ${s}.idempotency_keys k
         WHERE k.takeover_id = $5 AND k.owner_id = $1 AND k.status = 'pending'
           AND k.key NOT IN (SELECT key FROM taken)
      )
      SELECT ${entry}, k.previous_attempt_id, k.previous_owner_id, i.target, i.params
        FROM (SELECT * FROM taken UNION ALL SELECT * FROM earlier) k
        JOIN ${s}.audit_records i ON i.id = k.intent_id
       ORDER BY k.key`,

    // $1 keys
    check: `SELECT ${entry} FROM ${s}.idempotency_keys k WHERE k.key = ANY ($1::text[])`,

    // $1 owner (null: any), $2 limit
    listPending: `SELECT ${entry} FROM ${s}.idempotency_keys k
       WHERE k.status = 'pending' AND ($1::uuid IS NULL OR k.owner_id = $1::uuid)
       ORDER BY k.key LIMIT $2`,

    // $1 key, $2 allowed statuses, $3 request, $4 new status, $5 result, $6 key error,
    // $7 ttl ms, $8 writer, $9 closing error, $10 operator action, $11 operator params,
    // $12 operator result
    operate: `WITH current AS (
        SELECT k.key, k.status, k.intent_id, k.attempt_id FROM ${s}.idempotency_keys k
         WHERE k.key = $1 AND k.status = ANY ($2::text[])
           AND NOT EXISTS (SELECT 1 FROM ${s}.audit_records WHERE request_id = $3)
         FOR UPDATE
      ),
      changed AS (
        UPDATE ${s}.idempotency_keys k
           SET status = $4, attempt_id = gen_random_uuid(), fence = nextval('${s}.fence_seq'),
               takeover_id = NULL, result = $5, error = $6, updated_at = now(),
               expires_at = CASE WHEN $4 = 'released' THEN NULL
                                 ELSE now() + $7::double precision * interval '1 millisecond' END
          FROM current c, ${SYNCHRONOUS_COMMIT}
         WHERE k.key = c.key
        RETURNING k.*, c.status AS previous_status, c.attempt_id AS previous_attempt_id
      ),
      closed AS (
        INSERT INTO ${s}.audit_records
          (request_id, writer_id, phase, intent_id, ts, action, target, params, dedupe_key, result,
           error, dry_run, attempt_id)
        SELECT gen_random_uuid(), $8, 'result', i.id, ${DATABASE_TIMESTAMP}, i.action, i.target, '{}',
               i.dedupe_key, $5, $9, false, c.previous_attempt_id
          FROM changed c JOIN ${s}.audit_records i ON i.id = c.intent_id
         WHERE c.previous_status = 'pending'
      ),
      operator_ids AS (SELECT nextval('${s}.audit_record_id_seq') AS id FROM changed),
      operator_intent AS (
        INSERT INTO ${s}.audit_records
          (id, request_id, writer_id, phase, ts, action, target, params, dedupe_key, dry_run)
        SELECT o.id, $3, $8, 'intent', ${DATABASE_TIMESTAMP}, $10, $1, $11, $1, false FROM operator_ids o
        RETURNING id
      ),
      operator_result AS (
        INSERT INTO ${s}.audit_records
          (request_id, writer_id, phase, intent_id, ts, action, target, params, dedupe_key, result, dry_run)
        SELECT gen_random_uuid(), $8, 'result', oi.id, ${DATABASE_TIMESTAMP}, $10, $1, '{}', $1, $12, false
          FROM operator_intent oi
      )
      SELECT 'changed' AS outcome, k.previous_status, ${entry} FROM changed k
      UNION ALL
      SELECT CASE WHEN EXISTS (SELECT 1 FROM ${s}.audit_records WHERE request_id = $3)
                  THEN 'changed_before' ELSE 'unchanged' END, NULL, ${entry}
        FROM ${s}.idempotency_keys k
       WHERE k.key = $1 AND NOT EXISTS (SELECT 1 FROM changed)`,
  };
}

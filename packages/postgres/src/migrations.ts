/**
 * One step of the schema's history. Steps only ever add: a new table, column
 * (nullable or with a default), index or function. `compatibleFrom` says which
 * older package versions can still run on a database that has this step: a step
 * that only adds leaves it unchanged, one that old code would misuse raises it.
 */
export interface Migration {
  /** 1, 2, 3, … with no gaps. */
  readonly version: number;
  /** What the step does, for `schema_migrations` and the CLI. */
  readonly name: string;
  /** The oldest schema version whose code may run on a database at this version. */
  readonly compatibleFrom: number;
  /** The statements, for a schema whose quoted name is `schema`. */
  statements(schema: string): string[];
}

const initialSchema: Migration = {
  version: 1,
  name: "instances, locks, fences, idempotency keys, audit records and checkpoints, rate limits, stores",
  compatibleFrom: 1,
  statements: (s) => [
    `CREATE SEQUENCE ${s}.fence_seq AS bigint`,
    `CREATE TABLE ${s}.instances (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      host text NOT NULL,
      pid integer NOT NULL,
      started_at timestamptz NOT NULL,
      heartbeat_at timestamptz NOT NULL,
      lease_expires_at timestamptz NOT NULL,
      stopped_at timestamptz
    )`,
    `CREATE TABLE ${s}.locks (
      name text PRIMARY KEY,
      holder_id uuid NOT NULL,
      instance_id uuid NOT NULL,
      fence bigint NOT NULL,
      acquired_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL
    )`,
    `CREATE TABLE ${s}.fence_marks (
      resource text PRIMARY KEY,
      fence bigint NOT NULL,
      updated_at timestamptz NOT NULL
    )`,
    `CREATE SEQUENCE ${s}.audit_record_id_seq AS bigint`,
    // Text columns, not jsonb: jsonb reorders keys and drops duplicates, and the
    // sealer hashes these bytes.
    `CREATE TABLE ${s}.audit_records (
      id bigint PRIMARY KEY DEFAULT nextval('${s}.audit_record_id_seq'),
      request_id uuid NOT NULL UNIQUE,
      writer_id uuid NOT NULL,
      phase text NOT NULL CHECK (phase IN ('intent', 'result', 'denied', 'dry_run')),
      intent_id bigint REFERENCES ${s}.audit_records (id),
      ts text NOT NULL,
      action text NOT NULL,
      target text NOT NULL,
      params text NOT NULL,
      dedupe_key text,
      result text,
      error text,
      dry_run boolean NOT NULL,
      attempt_id uuid,
      seq bigint UNIQUE,
      hash text,
      line text,
      CHECK ((phase = 'result') = (intent_id IS NOT NULL)),
      CHECK ((seq IS NULL) = (line IS NULL) AND (seq IS NULL) = (hash IS NULL))
    )`,
    `ALTER SEQUENCE ${s}.audit_record_id_seq OWNED BY ${s}.audit_records.id`,
    `CREATE UNIQUE INDEX audit_records_one_result_per_intent ON ${s}.audit_records (intent_id) WHERE phase = 'result'`,
    `CREATE INDEX audit_records_unsealed ON ${s}.audit_records (id) WHERE seq IS NULL`,
    `CREATE INDEX audit_records_by_dedupe_key ON ${s}.audit_records (dedupe_key, id) WHERE dedupe_key IS NOT NULL`,
    `CREATE TABLE ${s}.audit_head (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      seq bigint NOT NULL,
      last_hash text NOT NULL,
      sealer_fence bigint NOT NULL,
      tree_frontier text NOT NULL DEFAULT '[]',
      checkpoint_size bigint NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL
    )`,
    `INSERT INTO ${s}.audit_head (seq, last_hash, sealer_fence, updated_at) VALUES (0, 'genesis', 0, now())`,
    `CREATE TABLE ${s}.audit_checkpoints (
      tree_size bigint PRIMARY KEY,
      root_hash text NOT NULL,
      note text NOT NULL,
      created_at timestamptz NOT NULL
    )`,
    `CREATE TABLE ${s}.idempotency_keys (
      key text PRIMARY KEY,
      status text NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'released')),
      action text NOT NULL,
      strategy text NOT NULL CHECK (strategy IN ('safe_retry', 'check_then_retry', 'skip')),
      owner_id uuid NOT NULL,
      attempt_id uuid NOT NULL,
      fence bigint NOT NULL,
      intent_id bigint NOT NULL REFERENCES ${s}.audit_records (id),
      attempts integer NOT NULL,
      takeover_id uuid,
      run_id text,
      result text,
      error text,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      expires_at timestamptz
    )`,
    `CREATE INDEX idempotency_keys_pending_by_owner ON ${s}.idempotency_keys (owner_id) WHERE status = 'pending'`,
    // Token counts may vanish with a database crash (buckets then start full,
    // as after a process restart with the in-memory limiter); blocks may not.
    `CREATE UNLOGGED TABLE ${s}.rate_buckets (
      scope text NOT NULL,
      bucket text NOT NULL,
      tokens double precision NOT NULL,
      updated_at timestamptz NOT NULL,
      PRIMARY KEY (scope, bucket)
    )`,
    `CREATE TABLE ${s}.rate_blocks (
      scope text PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('primary', 'secondary')),
      blocked_until timestamptz NOT NULL,
      recorded_at timestamptz NOT NULL,
      recorded_by uuid,
      workflow_id text
    )`,
    `CREATE FUNCTION ${s}.rate_limit_take(
      p_scope text, p_buckets text[], p_capacity double precision[], p_per_second double precision[]
    ) RETURNS TABLE (allowed boolean, wait_ms double precision, limiting_bucket text, blocked_until timestamptz)
    LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
      v_now timestamptz;
      v_block timestamptz;
      v_wait double precision := 0;
      v_bucket text := NULL;
      v_short boolean := false;
      r record;
    BEGIN
      PERFORM set_config('synchronous_commit', 'on', true);
      INSERT INTO ${s}.rate_buckets (scope, bucket, tokens, updated_at)
        SELECT p_scope, u.bucket, u.capacity, clock_timestamp()
        FROM unnest(p_buckets, p_capacity) AS u (bucket, capacity)
        ON CONFLICT DO NOTHING;
      PERFORM 1 FROM ${s}.rate_buckets b
        WHERE b.scope = p_scope AND b.bucket = ANY (p_buckets)
        ORDER BY b.bucket FOR UPDATE;
      -- Read the clock only once the rows are locked: the previous holder
      -- committed before, so time never runs backwards for a bucket.
      v_now := clock_timestamp();
      SELECT rb.blocked_until INTO v_block FROM ${s}.rate_blocks rb
        WHERE rb.scope = p_scope AND rb.blocked_until > v_now;
      FOR r IN
        SELECT u.bucket, u.capacity, u.per_second,
          LEAST(u.capacity, b.tokens + u.per_second
            * GREATEST(0, EXTRACT(EPOCH FROM (v_now - b.updated_at)))) AS available
        FROM unnest(p_buckets, p_capacity, p_per_second) AS u (bucket, capacity, per_second)
        JOIN ${s}.rate_buckets b ON b.scope = p_scope AND b.bucket = u.bucket
      LOOP
        IF r.available < 1 THEN
          v_short := true;
          IF r.per_second <= 0 THEN
            v_wait := 'Infinity';
            v_bucket := r.bucket;
          ELSIF (1 - r.available) / r.per_second * 1000 > v_wait THEN
            v_wait := (1 - r.available) / r.per_second * 1000;
            v_bucket := r.bucket;
          END IF;
        END IF;
      END LOOP;
      IF v_block IS NOT NULL AND EXTRACT(EPOCH FROM (v_block - v_now)) * 1000 >= v_wait THEN
        v_wait := EXTRACT(EPOCH FROM (v_block - v_now)) * 1000;
        v_bucket := p_buckets[1];
      END IF;
      IF v_short OR v_block IS NOT NULL THEN
        RETURN QUERY SELECT false, v_wait, v_bucket, v_block;
        RETURN;
      END IF;
      UPDATE ${s}.rate_buckets b
        SET tokens = LEAST(u.capacity, b.tokens + u.per_second
              * GREATEST(0, EXTRACT(EPOCH FROM (v_now - b.updated_at)))) - 1,
            updated_at = GREATEST(b.updated_at, v_now)
        FROM unnest(p_buckets, p_capacity, p_per_second) AS u (bucket, capacity, per_second)
        WHERE b.scope = p_scope AND b.bucket = u.bucket;
      RETURN QUERY SELECT true, 0::double precision, NULL::text, NULL::timestamptz;
    END
    $$`,
    `CREATE TABLE ${s}.store_documents (
      name text PRIMARY KEY,
      value text NOT NULL,
      write_epoch bigint NOT NULL,
      write_id uuid NOT NULL,
      fence bigint,
      updated_at timestamptz NOT NULL,
      updated_by uuid
    )`,
  ],
};

const workflowRuns: Migration = {
  version: 2,
  name: "workflow runs owned by a replica; intents recorded outside a step",
  // Only adds: code written for version 1 runs unchanged on it.
  compatibleFrom: 1,
  statements: (s) => [
    `CREATE TABLE ${s}.workflow_runs (
      run_id text PRIMARY KEY,
      workflow text NOT NULL,
      status text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
      next_step integer NOT NULL,
      state text NOT NULL,
      owner_id uuid NOT NULL,
      fence bigint NOT NULL,
      write_id uuid NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    )`,
    `CREATE INDEX workflow_runs_running ON ${s}.workflow_runs (created_at, run_id) WHERE status = 'running'`,
    // Intents outside a step (no dedupe key) are the only ones that can be
    // left open without a pending key: boot closes those of stopped replicas.
    `CREATE INDEX audit_records_loose_intents ON ${s}.audit_records (id) WHERE phase = 'intent' AND dedupe_key IS NULL`,
  ],
};

/**
 * Every migration this version of the package knows, oldest first.
 * @example
 * ```ts
 * const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
 * ```
 */
export const MIGRATIONS: readonly Migration[] = Object.freeze([initialSchema, workflowRuns]);

/** The schema version this package is written for: the last migration's. */
export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]!.version;

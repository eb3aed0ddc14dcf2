import { type ConnectionOptions, createStatementRunner, positive } from "./connection-options.js";
import { SchemaVersionError } from "./errors.js";
import { MIGRATIONS, type Migration } from "./migrations.js";
import type { PoolLike, Queryable } from "./queryable.js";
import { quoteSchemaName } from "./schema-name.js";
import { readSchemaState } from "./schema-version.js";

/** Options of {@link migrate}. */
export interface MigrateOptions extends ConnectionOptions {
  /** The caller's pool (`pg.Pool`). */
  pool: PoolLike;
  /** The schema (PostgreSQL namespace) holding Beauvoir's tables; created if missing. @default "beauvoir" */
  schema?: string | undefined;
  /** How long to wait for another `migrate` of the same schema to finish. @default 60_000 */
  lockWaitMs?: number | undefined;
  /** Limit on each migration statement. @default 300_000 */
  statementTimeoutMs?: number | undefined;
  /** @internal The migrations to apply, for tests of future versions. */
  migrations?: readonly Migration[] | undefined;
}

/** What {@link migrate} did. */
export interface MigrateReport {
  /** The schema migrated. */
  schema: string;
  /** Its version before; `null` when it had no Beauvoir tables. */
  fromVersion: number | null;
  /** Its version now. */
  toVersion: number;
  /** The migrations this call applied (none when another call got there first). */
  applied: { version: number; name: string }[];
}

/** Two-key advisory lock space: "Beau" in ASCII, then the schema name's hash. */
const ADVISORY_LOCK_SPACE = 0x42656175;

/**
 * Brings the schema up to this package's version. Everything runs in one
 * transaction under `pg_advisory_xact_lock` (held until commit, so it works
 * through a pooler in transaction mode), so concurrent calls apply each
 * migration once and the losers find nothing left to do. A database newer than
 * the code is left alone; one newer and incompatible is refused.
 * @param options - pool, schema, waits.
 * @returns which migrations were applied.
 * @throws {@link SchemaVersionError} (`SCHEMA_TOO_NEW`) when the database is newer and incompatible.
 * @throws {@link DatabaseUnavailableError} when the database cannot be reached.
 * @example
 * ```ts
 * const report = await migrate({ pool, schema: "beauvoir" });
 * console.log(`schema at version ${report.toVersion}, applied ${report.applied.length}`);
 * ```
 */
export async function migrate(options: MigrateOptions): Promise<MigrateReport> {
  const schema = options.schema ?? "beauvoir";
  const quoted = quoteSchemaName(schema);
  const lockWaitMs = positive(options.lockWaitMs ?? 60_000, "lockWaitMs");
  const statementTimeoutMs = positive(options.statementTimeoutMs ?? 300_000, "statementTimeoutMs");
  const migrations = options.migrations ?? MIGRATIONS;
  const target = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
  const runner = createStatementRunner(options.pool, {
    ...options,
    queryTimeoutMs: Math.max(lockWaitMs, statementTimeoutMs) + 5_000,
  });
  return runner.transaction("migrate", async (transaction) => {
    const run = (text: string, values: unknown[] = []) => transaction.query({ text, values });
    await run(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.ceil(lockWaitMs)}ms`]);
    await run(`SELECT set_config('statement_timeout', $1, true)`, [
      `${Math.ceil(statementTimeoutMs)}ms`,
    ]);
    await run("SELECT pg_advisory_xact_lock($1, hashtext($2))", [ADVISORY_LOCK_SPACE, schema]);
    await run(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await run(`CREATE TABLE IF NOT EXISTS ${quoted}.schema_version (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      version integer NOT NULL,
      compatible_from integer NOT NULL,
      updated_at timestamptz NOT NULL
    )`);
    await run(`CREATE TABLE IF NOT EXISTS ${quoted}.schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL
    )`);
    const state = await readSchemaState(transaction, schema, statementTimeoutMs);
    const from = state.version;
    if (from !== null && from > target) {
      if ((state.compatibleFrom ?? from) > target) {
        throw new SchemaVersionError("too_new", schema, from, target, "migrate never downgrades");
      }
      return { schema, fromVersion: from, toVersion: from, applied: [] };
    }
    const pending = migrations.filter((migration) => migration.version > (from ?? 0));
    for (const migration of pending) await apply(transaction, quoted, migration);
    const last = pending[pending.length - 1];
    if (last !== undefined) {
      const compatibleFrom = Math.max(...pending.map((migration) => migration.compatibleFrom));
      await run(
        `INSERT INTO ${quoted}.schema_version (singleton, version, compatible_from, updated_at)
         VALUES (true, $1, $2, now())
         ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version,
           compatible_from = GREATEST(${quoted}.schema_version.compatible_from, EXCLUDED.compatible_from),
           updated_at = now()`,
        [last.version, compatibleFrom],
      );
    }
    return {
      schema,
      fromVersion: from,
      toVersion: last?.version ?? from ?? target,
      applied: pending.map(({ version, name }) => ({ version, name })),
    };
  });
}

async function apply(transaction: Queryable, quoted: string, migration: Migration): Promise<void> {
  for (const text of migration.statements(quoted)) await transaction.query({ text });
  await transaction.query({
    text: `INSERT INTO ${quoted}.schema_migrations (version, name, applied_at) VALUES ($1, $2, now())`,
    values: [migration.version, migration.name],
  });
}

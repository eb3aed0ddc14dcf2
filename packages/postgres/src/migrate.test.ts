import pg from "pg";
import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../test/support/test-database.js";
import { createPostgresBackend } from "./backend.js";
import { SchemaVersionError } from "./errors.js";
import { migrate } from "./migrate.js";
import { MIGRATIONS, type Migration, SCHEMA_VERSION } from "./migrations.js";
import { assertSchemaUsable, readSchemaState } from "./schema-version.js";

const db = useTestDatabase();

/** A later version of the package, for what an older one must do on its schema. */
function futureMigration(compatibleFrom: number): Migration {
  return {
    version: SCHEMA_VERSION + 1,
    name: "a column for a feature from the future",
    compatibleFrom,
    statements: (s) => [`ALTER TABLE ${s}.instances ADD COLUMN region text`],
  };
}

async function startOn(schema: string) {
  const backend = db.backend({ schema });
  await backend.start();
  await backend.stop();
}

describe("verify only by default", () => {
  it("refuses to start on a schema that has no Beauvoir tables, and writes nothing", async () => {
    const error = await startOn("never_migrated").catch((caught: unknown) => caught);
    expect(SchemaVersionError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "SCHEMA_MISSING", foundVersion: null, problem: "missing" });
    const { rows } = await db.admin.query(
      "SELECT 1 FROM pg_namespace WHERE nspname = 'never_migrated'",
    );
    expect(rows).toEqual([]);
  });

  it("refuses a schema older than the code (SCHEMA_OUTDATED) and tells to migrate", async () => {
    await migrate({ pool: db.admin, schema: "older" });
    const state = await readSchemaState(db.admin, "older", 5_000);
    // The same database, as a package one version ahead sees it.
    expect(() => assertSchemaUsable(state, "older", SCHEMA_VERSION + 1)).toThrow(
      expect.objectContaining({ code: "SCHEMA_OUTDATED", foundVersion: SCHEMA_VERSION }),
    );
    expect(() => assertSchemaUsable(state, "older")).not.toThrow();
  });

  it("runs on a newer schema whose migrations kept this version compatible", async () => {
    await migrate({
      pool: db.admin,
      schema: "newer_ok",
      migrations: [...MIGRATIONS, futureMigration(1)],
    });
    await expect(startOn("newer_ok")).resolves.toBeUndefined();
  });

  it("refuses a newer schema marked incompatible with this version (SCHEMA_TOO_NEW)", async () => {
    await migrate({
      pool: db.admin,
      schema: "newer_breaking",
      migrations: [...MIGRATIONS, futureMigration(SCHEMA_VERSION + 1)],
    });
    await expect(startOn("newer_breaking")).rejects.toMatchObject({
      code: "SCHEMA_TOO_NEW",
      foundVersion: SCHEMA_VERSION + 1,
      expectedVersion: SCHEMA_VERSION,
    });
    // migrate() of the older package never downgrades it either.
    await expect(migrate({ pool: db.admin, schema: "newer_breaking" })).rejects.toMatchObject({
      code: "SCHEMA_TOO_NEW",
    });
  });
});

describe("migrate", () => {
  it("creates the schema, then starts; a second call applies nothing", async () => {
    const first = await migrate({ pool: db.admin, schema: "fresh" });
    expect(first).toMatchObject({
      schema: "fresh",
      fromVersion: null,
      toVersion: SCHEMA_VERSION,
      applied: MIGRATIONS.map(({ version, name }) => ({ version, name })),
    });
    await expect(startOn("fresh")).resolves.toBeUndefined();
    expect(await migrate({ pool: db.admin, schema: "fresh" })).toMatchObject({
      fromVersion: SCHEMA_VERSION,
      applied: [],
    });
  });

  it("upgrades an older schema in place, keeping its rows", async () => {
    await migrate({ pool: db.admin, schema: "upgrade", migrations: MIGRATIONS });
    await db.admin.query(
      `INSERT INTO upgrade.instances VALUES (gen_random_uuid(), 'kept', 'h', 1, now(), now(), now(), NULL)`,
    );
    const report = await migrate({
      pool: db.admin,
      schema: "upgrade",
      migrations: [...MIGRATIONS, futureMigration(1)],
    });
    expect(report).toMatchObject({
      fromVersion: SCHEMA_VERSION,
      toVersion: SCHEMA_VERSION + 1,
      applied: [{ version: SCHEMA_VERSION + 1 }],
    });
    const { rows } = await db.admin.query("SELECT name, region FROM upgrade.instances");
    expect(rows).toEqual([{ name: "kept", region: null }]);
  });

  it("is safe to run from many replicas at once: each migration is applied exactly once", async () => {
    const pools = Array.from({ length: 6 }, () => db.pool({ max: 1 }));
    const reports = await Promise.all(pools.map((pool) => migrate({ pool, schema: "raced" })));
    expect(reports.filter((report) => report.applied.length > 0)).toHaveLength(1);
    expect(new Set(reports.map((report) => report.toVersion))).toEqual(new Set([SCHEMA_VERSION]));
    const { rows } = await db.admin.query(
      "SELECT version FROM raced.schema_migrations ORDER BY version",
    );
    expect(rows).toEqual(MIGRATIONS.map(({ version }) => ({ version })));
  });

  it("upgrades a version 1 schema to the workflow runs of version 2, keeping its keys", async () => {
    await migrate({ pool: db.admin, schema: "from_one", migrations: MIGRATIONS.slice(0, 1) });
    const old = db.backend({ schema: "from_one" });
    // Version 1's code may not run on it yet: a backend of this version refuses it.
    await expect(old.start()).rejects.toMatchObject({ code: "SCHEMA_OUTDATED" });
    const report = await migrate({ pool: db.admin, schema: "from_one" });
    expect(report).toMatchObject({ fromVersion: 1, toVersion: 2, applied: [{ version: 2 }] });
    const { rows } = await db.admin.query("SELECT count(*)::int AS n FROM from_one.workflow_runs");
    expect(rows).toEqual([{ n: 0 }]);
    await startOn("from_one");
  });

  it("rolls a failed migration back entirely", async () => {
    const broken: Migration = {
      version: SCHEMA_VERSION + 1,
      name: "fails half way",
      compatibleFrom: 1,
      statements: (s) => [`CREATE TABLE ${s}.half (id int)`, "SELECT * FROM no_such_table"],
    };
    await expect(
      migrate({ pool: db.admin, schema: "rolled_back", migrations: [...MIGRATIONS, broken] }),
    ).rejects.toMatchObject({ code: "42P01" });
    const { rows } = await db.admin.query(
      "SELECT 1 FROM pg_namespace WHERE nspname = 'rolled_back'",
    );
    expect(rows).toEqual([]);
  });

  it("names the bad option before connecting", async () => {
    const pool = new pg.Pool({ connectionString: "postgres://nobody@127.0.0.1:1/none" });
    await expect(migrate({ pool, schema: "Bad-Name" })).rejects.toThrow(TypeError);
    await expect(migrate({ pool, lockWaitMs: -1 })).rejects.toThrow(/lockWaitMs/);
    await pool.end();
    expect(() => createPostgresBackend({ pool, schema: "x;drop" })).toThrow(/schema/);
  });
});

import { SchemaVersionError } from "./errors.js";
import { SCHEMA_VERSION } from "./migrations.js";
import type { Queryable } from "./queryable.js";

/** What the database says about its schema. */
export interface SchemaState {
  /** The last migration applied; `null` when the schema has no Beauvoir tables. */
  version: number | null;
  /** The oldest package schema version that may run on it; `null` with `version`. */
  compatibleFrom: number | null;
}

/** @internal Reads the schema's version row; a missing schema or table reads as `null`. */
export async function readSchemaState(
  queryable: Queryable,
  schema: string,
  timeoutMs: number,
): Promise<SchemaState> {
  const { rows } = await queryable.query<{ present: boolean }>({
    text: "SELECT to_regclass($1) IS NOT NULL AS present",
    values: [`"${schema}".schema_version`],
    query_timeout: timeoutMs,
  });
  if (!rows[0]?.present) return { version: null, compatibleFrom: null };
  const version = await queryable.query<{ version: number; compatible_from: number }>({
    text: `SELECT version, compatible_from FROM "${schema}".schema_version`,
    query_timeout: timeoutMs,
  });
  const row = version.rows[0];
  if (row === undefined) return { version: null, compatibleFrom: null };
  return { version: row.version, compatibleFrom: row.compatible_from };
}

/**
 * Decides whether code written for `expected` may run on a database in `state`:
 * the same version, or a newer one whose migrations kept `expected` compatible.
 * @throws {@link SchemaVersionError} otherwise.
 */
export function assertSchemaUsable(
  state: SchemaState,
  schema: string,
  expected: number = SCHEMA_VERSION,
): void {
  if (state.version === null) throw new SchemaVersionError("missing", schema, null, expected);
  if (state.version < expected) {
    throw new SchemaVersionError("outdated", schema, state.version, expected);
  }
  if (state.version > expected && (state.compatibleFrom ?? state.version) > expected) {
    throw new SchemaVersionError(
      "too_new",
      schema,
      state.version,
      expected,
      `its migrations need code for version ${state.compatibleFrom} or later`,
    );
  }
}

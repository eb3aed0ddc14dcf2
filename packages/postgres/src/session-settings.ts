import { assertDurationOption, definedFields } from "@beauvoir/core";
import { SessionSettingsError } from "./errors.js";
import type { Queryable } from "./queryable.js";

/** Options of {@link postgresSessionSettings}. */
export interface SessionSettingsOptions {
  /** Server-side limit on one statement (`statement_timeout`). @default 5_000 */
  statementTimeoutMs?: number | undefined;
  /** Server-side limit on one lock wait (`lock_timeout`). @default 2_000 */
  lockTimeoutMs?: number | undefined;
  /** Server-side limit on a transaction left idle (`idle_in_transaction_session_timeout`). @default 10_000 */
  idleInTransactionSessionTimeoutMs?: number | undefined;
  /**
   * Client-side limit on waiting for one reply (node-postgres `query_timeout`):
   * what ends a wait on a blackholed connection. Keep it above
   * `statementTimeoutMs`, so the server cancels first when it can.
   * @default 6_000
   */
  queryTimeoutMs?: number | undefined;
  /** Client-side limit on opening a connection (`connectionTimeoutMillis`). @default 5_000 */
  connectionTimeoutMs?: number | undefined;
}

/** The node-postgres pool fields {@link postgresSessionSettings} returns. */
export interface PostgresSessionSettings {
  statement_timeout: number;
  lock_timeout: number;
  idle_in_transaction_session_timeout: number;
  query_timeout: number;
  connectionTimeoutMillis: number;
  keepAlive: true;
}

/**
 * Defaults of {@link SessionSettingsOptions}.
 * @example
 * ```ts
 * postgresSessionSettings({ statementTimeoutMs: 2 * SESSION_SETTINGS_DEFAULTS.statementTimeoutMs });
 * ```
 */
export const SESSION_SETTINGS_DEFAULTS = Object.freeze({
  statementTimeoutMs: 5_000,
  lockTimeoutMs: 2_000,
  idleInTransactionSessionTimeoutMs: 10_000,
  queryTimeoutMs: 6_000,
  connectionTimeoutMs: 5_000,
});

/**
 * The `pg.Pool` settings that bound every wait of a session: the server-side
 * timeouts are sent as startup parameters of each connection (no `SET`, so a
 * pooler in transaction mode never carries them over to another client), and
 * the client-side ones end waits on a connection that went silent.
 * @param options - the limits; see {@link SessionSettingsOptions} for defaults.
 * @returns fields to spread into `new pg.Pool({ ... })`.
 * @throws RangeError naming an option that is not a positive, finite number of milliseconds.
 * @example
 * ```ts
 * import pg from "pg";
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, ...postgresSessionSettings() });
 * ```
 */
export function postgresSessionSettings(
  options: SessionSettingsOptions = {},
): PostgresSessionSettings {
  const resolved = { ...SESSION_SETTINGS_DEFAULTS, ...definedFields(options) };
  for (const [name, value] of Object.entries(resolved)) {
    assertDurationOption(value, name, { allowInfinity: false });
    if (value < 1) throw new RangeError(`${name} must be at least 1 ms, got ${value}`);
  }
  return {
    statement_timeout: Math.ceil(resolved.statementTimeoutMs),
    lock_timeout: Math.ceil(resolved.lockTimeoutMs),
    idle_in_transaction_session_timeout: Math.ceil(resolved.idleInTransactionSessionTimeoutMs),
    query_timeout: Math.ceil(resolved.queryTimeoutMs),
    connectionTimeoutMillis: Math.ceil(resolved.connectionTimeoutMs),
    keepAlive: true,
  };
}

const CHECKED_SETTINGS = [
  "statement_timeout",
  "lock_timeout",
  "idle_in_transaction_session_timeout",
] as const;

/**
 * Checks that a session of the pool has the three server-side timeouts set
 * (however they were set: startup parameters, `ALTER ROLE … SET`, the server's
 * configuration).
 * @param queryable - the pool.
 * @param timeoutMs - client-side limit on the check.
 * @throws {@link SessionSettingsError} naming the settings that are `0`.
 */
export async function verifySessionSettings(
  queryable: Queryable,
  timeoutMs: number,
): Promise<void> {
  const { rows } = await queryable.query<Record<(typeof CHECKED_SETTINGS)[number], string>>({
    text: `SELECT ${CHECKED_SETTINGS.map((name) => `current_setting('${name}') AS ${name}`).join(", ")}`,
    query_timeout: timeoutMs,
  });
  const row = rows[0];
  const unset = CHECKED_SETTINGS.filter((name) => row === undefined || row[name] === "0");
  if (unset.length > 0) throw new SessionSettingsError(unset);
}

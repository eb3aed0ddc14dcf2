import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../test/support/test-database.js";
import { SessionSettingsError } from "./errors.js";
import { postgresSessionSettings, verifySessionSettings } from "./session-settings.js";

const db = useTestDatabase();

describe("postgresSessionSettings", () => {
  it("bounds every wait by default, the client's beyond the server's", () => {
    const settings = postgresSessionSettings();
    expect(settings).toEqual({
      statement_timeout: 5_000,
      lock_timeout: 2_000,
      idle_in_transaction_session_timeout: 10_000,
      query_timeout: 6_000,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    expect(settings.query_timeout).toBeGreaterThan(settings.statement_timeout);
  });

  it("keeps the default of a limit given as undefined", () => {
    expect(
      postgresSessionSettings({
        statementTimeoutMs: undefined,
        lockTimeoutMs: undefined,
        queryTimeoutMs: undefined,
      }),
    ).toEqual(postgresSessionSettings());
  });

  it("refuses a limit that would disable the timeout", () => {
    expect(() => postgresSessionSettings({ statementTimeoutMs: 0 })).toThrow(/statementTimeoutMs/);
    expect(() => postgresSessionSettings({ lockTimeoutMs: Number.NaN })).toThrow(/lockTimeoutMs/);
    expect(() => postgresSessionSettings({ queryTimeoutMs: Infinity })).toThrow(/queryTimeoutMs/);
  });

  it("are sent as startup parameters: the server applies them to each session", async () => {
    const pool = db.pool({ settings: { statementTimeoutMs: 1_234, lockTimeoutMs: 567 } });
    const { rows } = await pool.query(
      "SELECT current_setting('statement_timeout') AS statement, current_setting('lock_timeout') AS lock",
    );
    expect(rows[0]).toEqual({ statement: "1234ms", lock: "567ms" });
    await expect(pool.query("SELECT pg_sleep(3)")).rejects.toMatchObject({ code: "57014" });
  });
});

describe("verifySessionSettings", () => {
  it("passes a pool made with the settings", async () => {
    await expect(verifySessionSettings(db.pool(), 5_000)).resolves.toBeUndefined();
  });

  it("names the timeouts a bare pool lacks, and the backend refuses to start on it", async () => {
    const error = await verifySessionSettings(db.pool({ bare: true }), 5_000).catch(
      (caught: unknown) => caught,
    );
    expect(SessionSettingsError.isInstance(error)).toBe(true);
    expect((error as SessionSettingsError).unset).toEqual([
      "statement_timeout",
      "lock_timeout",
      "idle_in_transaction_session_timeout",
    ]);
    const backend = db.backend({ poolOptions: { bare: true } });
    await expect(backend.start()).rejects.toMatchObject({ code: "SESSION_TIMEOUTS_UNSET" });
    const { rows } = await db.admin.query("SELECT count(*)::int AS n FROM beauvoir.instances");
    expect(rows[0].n).toBe(0);
  });

  it("accepts timeouts set on the database (or role) instead of the pool", async () => {
    const url = await db.createEmptyDatabase();
    const name = new URL(url).pathname.slice(1);
    await db.admin.query(`ALTER DATABASE "${name}" SET statement_timeout = '5s'`);
    await db.admin.query(`ALTER DATABASE "${name}" SET lock_timeout = '2s'`);
    await db.admin.query(
      `ALTER DATABASE "${name}" SET idle_in_transaction_session_timeout = '10s'`,
    );
    await expect(
      verifySessionSettings(db.pool({ url, bare: true }), 5_000),
    ).resolves.toBeUndefined();
  });

  it("can be switched off", async () => {
    const bare = db.backend({ poolOptions: { bare: true }, requireSessionTimeouts: false });
    await expect(bare.start()).resolves.toBeUndefined();
    await bare.stop();
  });
});

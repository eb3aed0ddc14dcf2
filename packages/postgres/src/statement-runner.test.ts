import { silentLogger, systemClock } from "@beauvoir/core";
import { describe, expect, it, vi } from "vitest";
import { createStatementRunner } from "./connection-options.js";
import { DatabaseUnavailableError } from "./errors.js";
import type { PoolClientLike, PoolLike, QueryConfigLike } from "./queryable.js";
import { QueryTimeoutError } from "./transient-failure.js";

type Answer = (config: QueryConfigLike) => Promise<unknown>;

/** A pool whose answers the test scripts, one per query. */
function scriptedPool(
  answers: Answer[],
  client?: PoolClientLike,
): PoolLike & { sent: QueryConfigLike[] } {
  const sent: QueryConfigLike[] = [];
  return {
    sent,
    query: ((config: QueryConfigLike) => {
      sent.push(config);
      const answer = answers.shift() ?? (() => Promise.resolve({ rows: [], rowCount: 0 }));
      return answer(config);
    }) as PoolLike["query"],
    connect: async () => client ?? ({} as PoolClientLike),
  };
}

const never = () => new Promise<never>(() => {});
const ok =
  (rows: unknown[] = []) =>
  () =>
    Promise.resolve({ rows, rowCount: rows.length });
const fail = (error: unknown) => () => Promise.reject(error);
const lost = () => fail(new Error("Connection terminated unexpectedly"));

const options = {
  queryTimeoutMs: 30,
  retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2, budgetMs: 10_000 },
  clock: systemClock,
  logger: silentLogger,
};

describe("StatementRunner", () => {
  it("ends a wait on a silent connection with its own timeout, and passes it to the driver", async () => {
    const pool = scriptedPool([never]);
    const runner = createStatementRunner(pool, options);
    await expect(runner.send("SELECT 1", [])).rejects.toBeInstanceOf(QueryTimeoutError);
    expect(pool.sent[0]).toMatchObject({ text: "SELECT 1", query_timeout: 30 });
  });

  it("resends after transient failures and answers with the first reply", async () => {
    const pool = scriptedPool([lost(), never, ok([{ n: 1 }])]);
    const runner = createStatementRunner(pool, options);
    const result = await runner.run("test.op", "SELECT 1", [7]);
    expect(result.rows).toEqual([{ n: 1 }]);
    expect(pool.sent.map((sent) => sent.values)).toEqual([[7], [7], [7]]);
  });

  it("gives up with DATABASE_UNAVAILABLE after maxAttempts, keeping the last cause", async () => {
    const pool = scriptedPool([lost(), lost(), lost(), lost(), ok()]);
    const warn = vi.fn();
    const runner = createStatementRunner(pool, { ...options, logger: { ...silentLogger, warn } });
    const error = await runner.run("idempotency.settle", "SELECT 1", []).catch((caught) => caught);
    expect(DatabaseUnavailableError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ operation: "idempotency.settle", attempts: 4 });
    expect((error as Error).cause).toEqual(new Error("Connection terminated unexpectedly"));
    expect(warn).toHaveBeenCalledTimes(3);
  });

  it("stops resending once the budget is spent", async () => {
    const pool = scriptedPool([lost(), lost(), lost()]);
    const runner = createStatementRunner(pool, {
      ...options,
      retry: { maxAttempts: 100, baseDelayMs: 50, maxDelayMs: 50, budgetMs: 10 },
    });
    await expect(runner.run("op", "SELECT 1", [])).rejects.toMatchObject({
      code: "DATABASE_UNAVAILABLE",
      attempts: 1,
    });
  });

  it("does not resend what the database refused", async () => {
    const refusal = Object.assign(new Error("duplicate key"), { code: "23505" });
    const pool = scriptedPool([fail(refusal), ok()]);
    const runner = createStatementRunner(pool, options);
    await expect(runner.run("op", "INSERT", [])).rejects.toBe(refusal);
    expect(pool.sent).toHaveLength(1);
  });

  it("stops waiting when the signal aborts, with its reason", async () => {
    const runner = createStatementRunner(scriptedPool([never]), {
      ...options,
      queryTimeoutMs: 10_000,
    });
    const controller = new AbortController();
    const pending = runner.run("op", "SELECT 1", [], { signal: controller.signal });
    controller.abort(new Error("step cancelled"));
    await expect(pending).rejects.toThrow("step cancelled");
    await expect(runner.send("SELECT 1", [], { signal: controller.signal })).rejects.toThrow(
      "step cancelled",
    );
  });

  it("runs a transaction again after a lost COMMIT reply, closing the broken connection", async () => {
    const released: unknown[] = [];
    const answers: Answer[] = [ok(), ok([{ step: 1 }]), lost(), ok(), ok([{ step: 2 }]), ok()];
    const client: PoolClientLike = {
      query: ((config: QueryConfigLike) => answers.shift()!(config)) as PoolClientLike["query"],
      release: (error) => released.push(error),
      on: () => undefined,
      removeListener: () => undefined,
    };
    const runner = createStatementRunner(scriptedPool([], client), options);
    const seen: unknown[] = [];
    const result = await runner.transaction("op", async (transaction) => {
      const { rows } = await transaction.query({ text: "SELECT step" });
      seen.push(rows[0]);
      return rows[0];
    });
    expect(result).toEqual({ step: 2 });
    expect(seen).toEqual([{ step: 1 }, { step: 2 }]);
    expect(released[0]).toBeInstanceOf(Error);
    expect(released[1]).toBeUndefined();
  });

  it("returns a connection that arrives after the checkout timed out", async () => {
    let arrive: (client: PoolClientLike) => void = () => {};
    const release = vi.fn();
    const pool: PoolLike = {
      query: (() => Promise.resolve({ rows: [], rowCount: 0 })) as PoolLike["query"],
      connect: () => new Promise((resolve) => (arrive = resolve)),
    };
    const runner = createStatementRunner(pool, options);
    await expect(runner.checkout()).rejects.toBeInstanceOf(QueryTimeoutError);
    arrive({ query: pool.query, release });
    await vi.waitFor(() => expect(release).toHaveBeenCalledTimes(1));
  });

  it("names a bad option", () => {
    const pool = scriptedPool([]);
    expect(() => createStatementRunner(pool, { queryTimeoutMs: 0 })).toThrow(/queryTimeoutMs/);
    expect(() => createStatementRunner(pool, { retry: { maxAttempts: 0 } })).toThrow(/maxAttempts/);
    expect(() => createStatementRunner(pool, { retry: { baseDelayMs: -1 } })).toThrow(
      /baseDelayMs/,
    );
    expect(() => createStatementRunner(pool, { random: 1 as never })).toThrow(/random/);
    expect(() => createStatementRunner({} as PoolLike)).toThrow(/pool/);
    expect(() => createStatementRunner({ query: pool.query } as PoolLike)).toThrow(/connect/);
  });
});

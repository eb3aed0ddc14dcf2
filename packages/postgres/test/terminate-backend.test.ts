import { expect, it } from "vitest";
import type { PostgresBackend } from "../src/backend.js";
import { RemoteEffects, runStep, shuffled, takeOverAndReconcile } from "./support/durable-steps.js";
import { expectHistoryInvariants } from "./support/history-invariants.js";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Three replicas work through one set of keys (every replica tries every key,
 * in its own order) while a killer terminates their sessions, heartbeats
 * included, at random moments. Nothing may run twice, nothing may be lost, and
 * the shared history must verify.
 */
it("keeps every invariant while pg_terminate_backend hits the replicas' sessions", async () => {
  const replicas: PostgresBackend[] = [];
  for (let index = 0; index < 3; index++) {
    const backend = db.backend({
      instance: { ttlMs: 4_000, heartbeatIntervalMs: 400, safetyMarginMs: 800 },
      sealer: { idleIntervalMs: 10 },
      poolOptions: { max: 5, applicationName: `replica-${index}` },
    });
    await backend.start();
    replicas.push(backend);
  }
  const keys = Array.from(
    { length: 60 },
    (_, index) => `add_issue_comment:acme/app/issue-${index}:${"0".repeat(15)}${index % 10}`,
  );
  const remote = new RemoteEffects();
  const giveUp = AbortSignal.timeout(45_000);

  let running = true;
  let kills = 0;
  const killer = (async () => {
    while (running) {
      await sleep(15 + Math.random() * 60);
      const { rows } = await db.admin.query(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
          WHERE application_name LIKE 'replica-%' ORDER BY random() LIMIT 1`,
      );
      if (rows[0]?.killed) kills++;
    }
  })();

  const outcomes = await Promise.all(
    replicas.flatMap((backend) => {
      // Each replica tries every key once, in its own order, three at a time.
      const order = shuffled(keys);
      return [0, 1, 2].map(async (worker) => {
        const done: string[] = [];
        for (const key of order.filter((_, index) => index % 3 === worker)) {
          if ((await runStep(backend, key, remote, giveUp)) === "ran") done.push(key);
        }
        return done;
      });
    }),
  );
  running = false;
  await killer;

  // A replica that lost its lease left keys pending: the live ones take them over.
  const live = replicas.filter((backend) => !backend.signal.aborted);
  expect(live.length).toBeGreaterThan(0);
  for (const backend of live) await takeOverAndReconcile(backend, remote, giveUp);

  expect(kills).toBeGreaterThan(5);
  for (const key of keys) expect(remote.counts.get(key)).toBe(1);
  expect(outcomes.flat().length).toBeLessThanOrEqual(keys.length);
  const { rows } = await db.admin.query(
    "SELECT status, count(*)::int AS n FROM beauvoir.idempotency_keys GROUP BY status",
  );
  expect(rows).toEqual([{ status: "completed", n: keys.length }]);
  const records = await expectHistoryInvariants(db.admin, live[0]!);
  expect(records).toBeGreaterThanOrEqual(2 * keys.length);
});

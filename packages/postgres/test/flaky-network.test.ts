import { expect, it } from "vitest";
import type { PostgresBackend } from "../src/backend.js";
import { withAddress } from "./support/database-url.js";
import { RemoteEffects, runStep, shuffled, takeOverAndReconcile } from "./support/durable-steps.js";
import { expectHistoryInvariants } from "./support/history-invariants.js";
import { TcpProxy } from "./support/tcp-proxy.js";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Two replicas behind a proxy that adds latency and resets every connection
 * now and then (a flapping load balancer), a third one direct: every statement
 * may be cut off before or after it reached the server.
 */
it("keeps every invariant through added latency and connection resets", async () => {
  const proxy = await TcpProxy.start(Number(new URL(db.url).port));
  proxy.latencyMs = 15;
  const replicas: PostgresBackend[] = [];
  for (let index = 0; index < 3; index++) {
    const backend = db.backend({
      instance: { ttlMs: 3_000, heartbeatIntervalMs: 300, safetyMarginMs: 700 },
      sealer: { idleIntervalMs: 20 },
      queryTimeoutMs: 1_500,
      poolOptions:
        index < 2
          ? {
              url: withAddress(db.url, "127.0.0.1", proxy.port),
              max: 4,
              settings: { queryTimeoutMs: 1_500 },
            }
          : { max: 4 },
    });
    await backend.start();
    replicas.push(backend);
  }
  let resets = 0;
  let flapping = true;
  const flapper = (async () => {
    for (let wait = 100; flapping; wait = 250 + Math.random() * 200) {
      await sleep(wait);
      if (!flapping) break;
      proxy.resetAll();
      resets++;
    }
  })();
  const keys = Array.from(
    { length: 60 },
    (_, index) => `add_labels:acme/app/issue-${index}:${String(index).padStart(16, "0")}`,
  );
  const remote = new RemoteEffects();
  const giveUp = AbortSignal.timeout(60_000);
  try {
    await Promise.all(
      replicas.flatMap((backend) => {
        const order = shuffled(keys);
        return [0, 1].map(async (worker) => {
          for (const key of order.filter((_, index) => index % 2 === worker)) {
            await runStep(backend, key, remote, giveUp);
          }
        });
      }),
    );
  } finally {
    flapping = false;
    await flapper;
  }
  expect(resets).toBeGreaterThan(0);
  // A replica whose heartbeat could not get through in time gave its lease up
  // (the safe way to fail); the direct one takes over what it left.
  const direct = replicas[2]!;
  expect(direct.signal.aborted).toBe(false);
  await expect
    .poll(
      async () => {
        await takeOverAndReconcile(direct, remote, giveUp);
        return (await direct.idempotency.listPending()).length;
      },
      { timeout: 20_000, interval: 200 },
    )
    .toBe(0);
  for (const key of keys) expect(remote.counts.get(key)).toBe(1);
  const { rows } = await db.admin.query(
    "SELECT status, count(*)::int AS n FROM beauvoir.idempotency_keys GROUP BY status",
  );
  expect(rows).toEqual([{ status: "completed", n: keys.length }]);
  await expectHistoryInvariants(db.admin, replicas[2]!);
  await proxy.close();
});

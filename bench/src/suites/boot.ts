import { mkdtemp, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { boot, defaultInitializers } from "@beauvoir/boot";
import { type FileHandleLike, type FileSystem, nodeFileSystem } from "@beauvoir/core";
import { type BenchRow, compare, measured, medianMs } from "../harness.js";

const CONCURRENCY = 32;
const AUDIT_BYTES = 10 * 1024 * 1024;
const INDEX_ENTRIES = 10_000;

/** Wraps an fs so that every fsync (file or directory) is counted, or skipped. */
function countingFileSystem(options: { skipSync?: boolean } = {}) {
  const counter = { syncs: 0 };
  const wrapHandle = (handle: FileHandleLike): FileHandleLike => ({
    write: (...args) => handle.write(...args),
    sync: async () => {
      counter.syncs++;
      if (!options.skipSync) await handle.sync();
    },
    truncate: (length) => handle.truncate(length),
    stat: () => handle.stat(),
    readFile: () => handle.readFile(),
    close: () => handle.close(),
  });
  const fs: FileSystem = {
    ...nodeFileSystem,
    open: async (path, flags, mode) => wrapHandle(await nodeFileSystem.open(path, flags, mode)),
    fsyncDirectory: async (path) => {
      counter.syncs++;
      if (!options.skipSync) await nodeFileSystem.fsyncDirectory(path);
    },
  };
  return { fs, counter };
}

/**
 * Durable steps per second (no-op side effect) beside the raw write+fsync
 * baseline, sequential and with 32 concurrent steps; fsyncs per step; and
 * boot time on a data directory holding a 10 MiB audit file and 10 000
 * idempotency entries.
 */
export default async function bootSuite(): Promise<BenchRow[]> {
  const root = await mkdtemp(join(tmpdir(), "beauvoir-bench-boot-"));
  const rows: BenchRow[] = [];
  try {
    const { fs, counter } = countingFileSystem();
    // The limiter's defaults (100 steps per hour per workflow) would stop the bench at once.
    const unlimited = { capacity: 1_000_000, refillPerHour: 1_000_000_000 };
    const app = await boot({
      dataDir: join(root, "steps"),
      fs,
      log: { level: "silent" },
      rateLimiter: { global: unlimited, perWorkflow: unlimited },
    });
    const baseline = await open(join(root, "baseline.log"), "a");
    const line = Buffer.from(
      `${JSON.stringify({ seq: 1, phase: "intent", action: "noop", pad: "x".repeat(200) })}\n`,
    );
    let sequence = 0;
    const step = () =>
      app.executor.execute({
        action: "create_branch",
        scope: "bench/repo",
        resource: `branch-${sequence++}`,
        params: {},
        run: async () => null,
      });
    const rawWrite = async () => {
      await baseline.write(line);
      await baseline.sync();
    };

    for (const concurrency of [1, CONCURRENCY]) {
      rows.push(
        await compare({
          suite: "boot",
          case:
            concurrency === 1
              ? "durable step, sequential"
              : `durable step, ${CONCURRENCY} concurrent`,
          concurrency,
          rounds: 3,
          roundMs: 1_000,
          ours: { label: "@beauvoir/boot executor", op: step },
          peer: { label: "raw write+fsync", op: rawWrite },
          note: "one step = 2 audit records + 2 index transitions, each durable",
        }),
      );
      const before = { syncs: counter.syncs, steps: sequence };
      for (let batch = 0; batch < 8; batch++) {
        await Promise.all(Array.from({ length: concurrency }, step));
      }
      const perStep = (counter.syncs - before.syncs) / (sequence - before.steps);
      rows.push(
        measured({
          suite: "boot",
          case: `fsyncs per durable step (${concurrency === 1 ? "sequential" : `${CONCURRENCY} concurrent`})`,
          unit: "fsyncs",
          ours: { label: "@beauvoir/boot executor", value: perStep },
        }),
      );
    }
    await baseline.close();
    await app.shutdown();

    // Boot time on a large data directory, prepared without fsync to save time.
    // The audit file is kept in one piece (no rotation) so that boot reads all of it.
    const bigDir = join(root, "big");
    const auditTrail = { maxSizeBytes: 1024 * 1024 * 1024 };
    const setup = countingFileSystem({ skipSync: true });
    const filler = await boot({
      dataDir: bigDir,
      fs: setup.fs,
      auditTrail,
      log: { level: "silent" },
    });
    const audit = filler.services.auditTrail;
    const index = filler.services.idempotencyIndex;
    if (!audit || !index) throw new Error("bench setup: audit trail or index missing");
    const auditFile = join(bigDir, "audit", "audit.jsonl");
    const padding = "p".repeat(300);
    let entries = 0;
    let auditBytes = 0;
    while (auditBytes < AUDIT_BYTES || entries < INDEX_ENTRIES) {
      const key = index.generateKey("create_branch", "bench/repo", `b-${entries}`, { entries });
      const intentSeq = await audit.recordIntent({
        action: "create_branch",
        target: "bench/repo",
        params: { padding },
        dedupeKey: key,
      });
      await audit.recordResult(intentSeq, { ok: true });
      if (entries < INDEX_ENTRIES) {
        await index.markPending(key, intentSeq, { strategy: "safe_retry" });
        await index.markCompleted(key, { ok: true });
      }
      entries++;
      if (entries % 500 === 0) auditBytes = (await stat(auditFile)).size;
    }
    await filler.shutdown();
    // Where the time goes: the two initializers that read the big files, timed inside boot.
    const phases = { auditTrail: [] as number[], idempotencyIndex: [] as number[] };
    const timed = {
      auditTrail: async (context: Parameters<typeof defaultInitializers.auditTrail>[0]) => {
        const started = performance.now();
        const built = await defaultInitializers.auditTrail(context);
        phases.auditTrail.push(performance.now() - started);
        return built;
      },
      idempotencyIndex: async (
        context: Parameters<typeof defaultInitializers.idempotencyIndex>[0],
      ) => {
        const started = performance.now();
        const built = await defaultInitializers.idempotencyIndex(context);
        phases.idempotencyIndex.push(performance.now() - started);
        return built;
      },
    };
    const bootMs = await medianMs(async () => {
      const booted = await boot({
        dataDir: bigDir,
        auditTrail,
        initializers: timed,
        log: { level: "silent" },
      });
      await booted.shutdown();
    }, 5);
    rows.push(
      measured({
        suite: "boot",
        case: `boot with a ${(auditBytes / 1024 / 1024).toFixed(1)} MiB audit file and ${INDEX_ENTRIES} index entries`,
        unit: "ms",
        ours: { label: "@beauvoir/boot", value: bootMs },
        target: { atMost: 150 },
        note: "median of 5 boots, shutdown between; the plan's own target is 2 000 ms",
      }),
    );
    const middle = (values: number[]) =>
      [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
    for (const [phase, label] of [
      ["auditTrail", "of which: audit trail initialize (recovery of the 10 MiB file)"],
      ["idempotencyIndex", "of which: idempotency index initialize (10 000 entries)"],
    ] as const) {
      rows.push(
        measured({
          suite: "boot",
          case: label,
          unit: "ms",
          ours: {
            label: `@beauvoir/${phase === "auditTrail" ? "audit-trail" : "idempotency"}`,
            value: middle(phases[phase]),
          },
        }),
      );
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return rows;
}

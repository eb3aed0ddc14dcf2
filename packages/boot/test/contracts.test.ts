// The contract suites every backend runs (see @beauvoir/contract-tests), here
// against the file backend: the same suites run against PostgreSQL in
// packages/postgres/test/contracts.test.ts.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditTrail } from "@beauvoir/audit-trail";
import {
  auditContract,
  type ContractClaim,
  executorContract,
  idempotencyContract,
  limiterContract,
  locksContract,
  storeContract,
} from "@beauvoir/contract-tests";
import { IdempotencyIndex } from "@beauvoir/idempotency";
import { LockManager } from "@beauvoir/locks";
import { RateLimiter } from "@beauvoir/rate-limiter";
import { SecretRedactor } from "@beauvoir/redactor";
import { ResilientStoreFactory } from "@beauvoir/resilient-store";
import { afterAll } from "vitest";
import { type BootResult, boot } from "../src/index.js";

const directories: string[] = [];
const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await Promise.all(
    directories.map((directory) => rm(directory, { recursive: true, force: true })),
  );
});

async function directory(label: string): Promise<string> {
  const made = await mkdtemp(join(tmpdir(), `beauvoir-contract-${label}-`));
  directories.push(made);
  return made;
}

const unlimited = { capacity: 1_000_000, refillPerHour: 1_000_000_000 };

storeContract("files", async () => {
  const factory = new ResilientStoreFactory({ baseDir: await directory("store") });
  return { capabilities: { compareAndSet: false }, open: (name) => factory.create(name) };
});

locksContract("files", async () => {
  const lockDir = await directory("locks");
  return {
    capabilities: { fences: false, leases: false },
    open: async () => {
      const manager = new LockManager({ lockDir });
      cleanups.push(() => manager.releaseAll());
      return {
        acquire: (name, options = {}) =>
          manager.acquire(name, options.waitMs === undefined ? {} : { waitMs: options.waitMs }),
        releaseAll: () => manager.releaseAll(),
      };
    },
  };
});

idempotencyContract("files", async (options = {}) => {
  const dir = await directory("index");
  const redactor = new SecretRedactor();
  const audit = new AuditTrail({ path: join(dir, "audit.jsonl"), redactor });
  await audit.initialize();
  const index = new IdempotencyIndex({
    dir: join(dir, "index"),
    redactor,
    auditQuery: audit,
    ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
  });
  await index.initialize();
  cleanups.push(async () => {
    await index.close();
    await audit.close();
  });
  const intents = new Map<string, number>();
  return {
    capabilities: { attemptIds: false },
    ttlMs: index.ttlMs,
    generateKey: (...call) => index.generateKey(...call),
    async claim(key, step): Promise<ContractClaim> {
      const intentSeq = await audit.recordIntent({ ...step, dedupeKey: key });
      const claim = await index.markPending(key, intentSeq, { action: step.action });
      if (!claim.claimed) {
        await audit.recordResult(intentSeq, undefined, `NOT_CLAIMED: the key was ${claim.reason}`);
        const status = (await index.check(key))?.status ?? "pending";
        return { claimed: false, status };
      }
      intents.set(key, intentSeq);
      return { claimed: true };
    },
    async settle(key, _claim, outcome) {
      const intentSeq = intents.get(key) as number;
      if (outcome.status === "released") {
        await index.reset(key);
        await audit.recordResult(intentSeq, undefined, outcome.error);
      } else if (outcome.status === "failed") {
        await audit.recordResult(intentSeq, undefined, outcome.error);
        await index.markFailed(key, outcome.error);
      } else {
        await audit.recordResult(intentSeq, outcome.result);
        await index.markCompleted(key, outcome.result);
      }
    },
    async check(key) {
      const entry = await index.check(key);
      if (entry === null) return null;
      return {
        status: entry.status,
        ...(entry.result === undefined ? {} : { result: entry.result }),
        ...(entry.error === undefined ? {} : { error: entry.error }),
      };
    },
    async reset(key) {
      await index.reset(key);
    },
    async evictExpired() {
      await index.evict();
    },
  };
});

auditContract("files", async () => {
  const path = join(await directory("audit"), "audit.jsonl");
  const audit = new AuditTrail({ path, redactor: new SecretRedactor() });
  await audit.initialize();
  cleanups.push(() => audit.close());
  return {
    capabilities: { seqAtWrite: true },
    recordIntent: (input) => audit.recordIntent(input),
    recordResult: (intent, result, error) => audit.recordResult(intent, result, error),
    recordDenied: (input) => audit.recordDenied(input),
    recordDryRun: (input) => audit.recordDryRun(input),
    findResultByDedupeKey: (key) => audit.findResultByDedupeKey(key),
    findResultByIntentSeq: (intent) => audit.findResultByIntentSeq(intent),
    exportHistory: async () => path,
  };
});

limiterContract("files", async () => ({
  capabilities: { shared: false },
  open: async ({ global, perWorkflow }) => {
    const limiter = new RateLimiter({ global, perWorkflow });
    cleanups.push(() => limiter.shutdown());
    return limiter;
  },
}));

executorContract("files", async () => {
  const dataDir = await directory("executor");
  return {
    capabilities: { attemptIds: false },
    start: async (options = {}) => {
      const app: BootResult = await boot({
        dataDir,
        log: { level: "silent" },
        rateLimiter: { global: unlimited, perWorkflow: unlimited },
        ...(options.reconcilers === undefined ? {} : { reconcilers: options.reconcilers }),
      });
      let gone = false;
      cleanups.push(() => (gone ? undefined : app.shutdown({ timeoutMs: 100 })));
      return {
        executor: app.executor,
        reconciliation: app.reconciliation,
        // As a SIGKILL leaves it: open intents, pending keys, lock files whose
        // holder is gone (here: released, as a dead pid's are treated).
        crash: async () => {
          gone = true;
          await app.services.idempotencyIndex?.close();
          await app.services.auditTrail?.close();
          await app.services.lockManager?.releaseAll();
        },
        shutdown: async () => {
          gone = true;
          await app.shutdown();
        },
      };
    },
    exportHistory: async () => join(dataDir, "audit", "audit.jsonl"),
  };
});

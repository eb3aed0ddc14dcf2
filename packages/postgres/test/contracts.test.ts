// The contract suites every backend runs (see @beauvoir/contract-tests), here
// against PostgreSQL: the same suites run against the file backend in
// packages/boot/test/contracts.test.ts. Suites that need an empty history
// get a schema of their own.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  auditContract,
  type ContractClaim,
  executorContract,
  idempotencyContract,
  limiterContract,
  locksContract,
  storeContract,
} from "@beauvoir/contract-tests";
import { afterAll } from "vitest";
import { exportAuditHistory } from "../src/audit-export.js";
import type { PostgresBackend, PostgresBackendOptions } from "../src/backend.js";
import type { ClaimOutcome, IdempotencyKeyEntry } from "../src/idempotency-index.js";
import { migrate } from "../src/migrate.js";
import { bootReplica, expireLease } from "./support/boot-replica.js";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase();
const directories: string[] = [];
afterAll(async () => {
  await Promise.all(
    directories.map((directory) => rm(directory, { recursive: true, force: true })),
  );
});

let schemas = 0;
/** A schema of its own, migrated: an empty history. */
async function freshSchema(): Promise<string> {
  const schema = `contract_${++schemas}`;
  await migrate({ pool: db.admin, schema });
  return schema;
}

async function started(options: Partial<PostgresBackendOptions> = {}): Promise<PostgresBackend> {
  const backend = db.backend({ poolOptions: { max: 6 }, ...options });
  await backend.start();
  return backend;
}

/** Seals what was written and exports the history of `schema` to a new file. */
async function exported(backend: PostgresBackend, schema: string): Promise<string> {
  await backend.sealer.sealPending();
  const directory = await mkdtemp(join(tmpdir(), "beauvoir-pg-contract-"));
  directories.push(directory);
  const path = join(directory, "audit.jsonl");
  await exportAuditHistory({ pool: db.admin, schema, path });
  return path;
}

function contractEntry(entry: IdempotencyKeyEntry | null) {
  if (entry === null || entry.status === "released" || entry.expired) return null;
  return {
    status: entry.status,
    ...(entry.result === undefined ? {} : { result: entry.result }),
    ...(entry.error === undefined ? {} : { error: entry.error }),
  };
}

function contractClaim(claim: ClaimOutcome): ContractClaim {
  if (claim.status === "claimed") {
    return { claimed: true, attemptId: claim.attemptId, fence: claim.fence };
  }
  return { claimed: false, status: claim.status };
}

storeContract("postgres", async () => {
  const backend = await started();
  return { capabilities: { compareAndSet: true }, open: (name) => backend.stores.create(name) };
});

locksContract("postgres", async () => ({
  capabilities: { fences: true, leases: true },
  open: async () => {
    const backend = await started();
    return {
      acquire: (name, options = {}) => backend.locks.acquire(name, options),
      releaseAll: () => backend.locks.releaseAll(),
    };
  },
}));

idempotencyContract("postgres", async (options = {}) => {
  const backend = await started(
    options.ttlMs === undefined ? {} : { idempotency: { ttlMs: options.ttlMs } },
  );
  const index = backend.idempotency;
  return {
    capabilities: { attemptIds: true },
    ttlMs: index.ttlMs,
    generateKey: (...call) => index.generateKey(...call),
    claim: async (key, step) => contractClaim(await index.claim({ key, ...step })),
    async settle(key, claim, outcome) {
      await index.settle({ key, attemptId: claim.attemptId as string, ...outcome });
    },
    check: async (key) => contractEntry(await index.check(key)),
    async reset(key) {
      await index.resetKey(key);
    },
    // Expiry is on the database clock, read with every key.
    async evictExpired() {},
  };
});

auditContract("postgres", async () => {
  const schema = await freshSchema();
  const backend = await started({ schema, hmacKey: "contract-audit-key" });
  const audit = backend.audit;
  return {
    capabilities: { seqAtWrite: false },
    hmacKey: "contract-audit-key",
    recordIntent: (input) => audit.recordIntent(input),
    recordResult: (intent, result, error) => audit.recordResult(intent, result, error),
    recordDenied: (input) => audit.recordDenied(input),
    recordDryRun: (input) => audit.recordDryRun(input),
    async findResultByDedupeKey(key) {
      const found = await audit.findResultByDedupeKey(key);
      return found === null ? null : { ...found, intentSeq: found.intentId };
    },
    findResultByIntentSeq: (intent) => audit.findResultByIntent(intent),
    exportHistory: () => exported(backend, schema),
  };
});

limiterContract("postgres", async () => ({
  capabilities: { shared: true },
  // Each limiter from another replica of the same database.
  open: async (options) => (await started()).createRateLimiter(options),
}));

executorContract("postgres", async () => {
  const schema = await freshSchema();
  return {
    capabilities: { attemptIds: true },
    start: async (options = {}) => {
      const replica = await bootReplica(db, {
        backend: { schema },
        ...(options.reconcilers === undefined ? {} : { reconcilers: options.reconcilers }),
      });
      return {
        executor: replica.app.executor,
        reconciliation: replica.app.reconciliation,
        // As a SIGKILL leaves it once its lease ran out: pending keys, open intents.
        crash: () => expireLease(db, replica.backend, schema),
        shutdown: async () => {
          await replica.app.shutdown();
        },
      };
    },
    // Sealed by a replica of its own: the ones the test started may be gone.
    exportHistory: async () => exported(await started({ schema }), schema),
  };
});

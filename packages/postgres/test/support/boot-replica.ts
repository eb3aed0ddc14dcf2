import { type BackendBootResult, type BootConfig, boot, type ReconcileHook } from "@beauvoir/boot";
import type { PostgresBackend, PostgresBackendOptions } from "../../src/backend.js";
import type { TestDatabase, TestPoolOptions } from "./test-database.js";

/** Buckets no test run drains. */
export const UNLIMITED = { capacity: 1_000_000, refillPerHour: 1_000_000_000 };

/** One replica: boot on the PostgreSQL backend, and the backend itself for the test's checks. */
export interface BootedReplica {
  app: BackendBootResult;
  backend: PostgresBackend;
}

/**
 * Boots a replica of a bot on the test database (short leases, silent logs,
 * limits no test reaches), as `boot({ backend: createPostgresBackend(…) })`.
 */
export async function bootReplica(
  db: TestDatabase,
  options: {
    backend?: Partial<PostgresBackendOptions> & { poolOptions?: TestPoolOptions };
    reconcilers?: Record<string, ReconcileHook>;
    boot?: Omit<BootConfig, "backend">;
  } = {},
): Promise<BootedReplica> {
  const backend = db.backend(options.backend);
  const app = await boot({
    backend,
    log: { level: "silent" },
    rateLimiter: { global: UNLIMITED, perWorkflow: UNLIMITED },
    retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
    ...(options.reconcilers === undefined ? {} : { reconcilers: options.reconcilers }),
    ...options.boot,
  });
  return { app, backend };
}

/**
 * Makes a replica look dead to the others at once, as a killed process
 * would after its lease ran out: its lease ends in the database; its own
 * heartbeat then learns the lease is gone and aborts its signal.
 */
export async function expireLease(
  db: TestDatabase,
  backend: PostgresBackend,
  schema = "beauvoir",
): Promise<void> {
  await db.admin.query(
    `UPDATE ${schema}.instances SET lease_expires_at = now() - interval '1 second' WHERE id = $1`,
    [backend.instance.id],
  );
}

import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, inject } from "vitest";
import {
  createPostgresBackend,
  type PostgresBackend,
  type PostgresBackendOptions,
} from "../../src/backend.js";
import {
  postgresSessionSettings,
  type SessionSettingsOptions,
} from "../../src/session-settings.js";
import { withDatabase } from "./database-url.js";

/** Options of {@link TestDatabase.pool}. */
export interface TestPoolOptions {
  max?: number;
  /** `application_name`, so a test can find (and terminate) this pool's sessions. */
  applicationName?: string;
  /** Connect here instead (a proxy in front of the same database). */
  url?: string;
  settings?: SessionSettingsOptions;
  /** Skip the session timeouts (to test that the backend refuses such a pool). */
  bare?: boolean;
}

/** The database one test file works in, cloned from the migrated template. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A direct pool for the test's own checks. */
  readonly admin: pg.Pool;
  /** A new pool on this database (ended after the file). */
  pool(options?: TestPoolOptions): pg.Pool;
  /** A backend on a new pool (stopped after the file), with short test-friendly leases. */
  backend(
    options?: Partial<PostgresBackendOptions> & { poolOptions?: TestPoolOptions },
  ): PostgresBackend;
  /** Creates an empty database on the same server (dropped with the run). */
  createEmptyDatabase(): Promise<string>;
}

/**
 * Registers the hooks that give this test file its own database: created in
 * `beforeAll` as `CREATE DATABASE … TEMPLATE <migrated template>`, dropped in `afterAll`.
 */
export function useTestDatabase(): TestDatabase {
  const serverUrl = inject("databaseUrl");
  const template = inject("templateDatabase");
  const prefix = inject("runPrefix");
  const pools: pg.Pool[] = [];
  const backends: PostgresBackend[] = [];
  let name = "";
  let url = "";
  let admin: pg.Pool | undefined;

  const makePool = (options: TestPoolOptions = {}): pg.Pool => {
    const pool = new pg.Pool({
      connectionString: options.url ?? url,
      max: options.max ?? 4,
      application_name: options.applicationName ?? "beauvoir-test",
      ...(options.bare ? {} : postgresSessionSettings(options.settings)),
    });
    // A terminated idle connection must not crash the test process.
    pool.on("error", () => {});
    pools.push(pool);
    return pool;
  };

  beforeAll(async () => {
    name = `${prefix}${randomBytes(6).toString("hex")}`;
    url = withDatabase(serverUrl, name);
    await createDatabase(serverUrl, `CREATE DATABASE "${name}" TEMPLATE "${template}"`);
    admin = makePool({ max: 4, applicationName: "beauvoir-test-admin" });
  });

  afterAll(async () => {
    await Promise.allSettled(backends.map((backend) => backend.stop()));
    await Promise.allSettled(pools.map((pool) => pool.end()));
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });

  return {
    get name() {
      return name;
    },
    get url() {
      return url;
    },
    get admin() {
      if (admin === undefined) throw new Error("the test database is made in beforeAll");
      return admin;
    },
    pool: makePool,
    backend(options = {}) {
      const { poolOptions, ...rest } = options;
      const backend = createPostgresBackend({
        pool: makePool(poolOptions),
        instance: { ttlMs: 3_000, heartbeatIntervalMs: 500, safetyMarginMs: 500 },
        sealer: { idleIntervalMs: 20, leaseTtlMs: 3_000 },
        ...rest,
      });
      backends.push(backend);
      return backend;
    },
    async createEmptyDatabase() {
      const empty = `${prefix}${randomBytes(6).toString("hex")}`;
      await createDatabase(serverUrl, `CREATE DATABASE "${empty}"`);
      return withDatabase(serverUrl, empty);
    },
  };
}

async function createDatabase(serverUrl: string, statement: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(statement);
      return;
    } catch (error) {
      // Cloning fails while another session is connected to the template.
      if (attempt >= 20 || (error as { code?: string }).code !== "55006") throw error;
    } finally {
      await client.end();
    }
    await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
  }
}

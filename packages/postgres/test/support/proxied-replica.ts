import type { PostgresBackend } from "../../src/backend.js";
import { withAddress } from "./database-url.js";
import { TcpProxy } from "./tcp-proxy.js";
import type { TestDatabase } from "./test-database.js";

/** A replica whose every connection goes through a {@link TcpProxy}, with short timeouts. */
export interface ProxiedReplica {
  proxy: TcpProxy;
  replica: PostgresBackend;
}

/**
 * Starts a proxy in front of the test database and a replica behind it (its
 * sealer off), timing out after 500 ms so a lost reply is noticed fast.
 */
export async function startProxiedReplica(db: TestDatabase): Promise<ProxiedReplica> {
  const proxy = await TcpProxy.start(Number(new URL(db.url).port));
  const replica = db.backend({
    sealer: { enabled: false },
    queryTimeoutMs: 500,
    poolOptions: {
      url: withAddress(db.url, "127.0.0.1", proxy.port),
      settings: { queryTimeoutMs: 500, statementTimeoutMs: 400, connectionTimeoutMs: 1_000 },
    },
  });
  await replica.start();
  return { proxy, replica };
}

/** How many rows `sql` answers, read on the test's own pool. */
export async function countRows(
  db: TestDatabase,
  sql: string,
  values: unknown[] = [],
): Promise<number> {
  const { rows } = await db.admin.query(
    `SELECT count(*)::int AS n FROM (${sql}) AS counted`,
    values,
  );
  return rows[0].n;
}

/** Distinct step keys of the default key format, numbered from 1. */
export function stepKeys(): () => string {
  let keys = 0;
  return () => `add_issue_comment:acme/app/issue-${++keys}:${String(keys).padStart(16, "0")}`;
}

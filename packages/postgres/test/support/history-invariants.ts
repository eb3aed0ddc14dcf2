import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { verifyAuditFile } from "@beauvoir/audit-trail";
import { expect } from "vitest";
import { exportAuditHistory } from "../../src/audit-export.js";
import type { PostgresBackend } from "../../src/backend.js";
import type { Queryable } from "../../src/queryable.js";

const pythonVerifier = fileURLToPath(
  new URL("../../../audit-trail/scripts/verify_audit.py", import.meta.url),
);

/**
 * The invariants over what the database holds after a run: every key
 * terminal or pending with a live owner; every intent at most one result; the
 * sealed history gap-free from seq 1; the export accepted by both verifiers.
 * @returns the number of records checked.
 */
export async function expectHistoryInvariants(
  admin: Queryable,
  sealer: PostgresBackend,
  schema = "beauvoir",
): Promise<number> {
  const orphans = await admin.query({
    text: `SELECT k.key FROM ${schema}.idempotency_keys k
             LEFT JOIN ${schema}.instances o ON o.id = k.owner_id
            WHERE k.status = 'pending' AND (o.id IS NULL OR o.stopped_at IS NOT NULL OR o.lease_expires_at <= now())`,
  });
  expect(orphans.rows).toEqual([]);
  const doubled = await admin.query({
    text: `SELECT intent_id FROM ${schema}.audit_records WHERE phase = 'result'
            GROUP BY intent_id HAVING count(*) > 1`,
  });
  expect(doubled.rows).toEqual([]);
  await sealer.sealer.sealPending();
  const { rows } = await admin.query<{ total: number; sealed: number; high: number | null }>({
    text: `SELECT count(*)::int AS total, count(seq)::int AS sealed, max(seq)::int AS high
             FROM ${schema}.audit_records`,
  });
  const counts = rows[0]!;
  expect(counts.sealed).toBe(counts.total);
  expect(counts.high ?? 0).toBe(counts.total);
  const directory = await mkdtemp(join(tmpdir(), "beauvoir-pg-invariants-"));
  try {
    const path = join(directory, "audit.jsonl");
    await exportAuditHistory({ pool: admin as never, schema, path });
    expect(await verifyAuditFile(path)).toMatchObject({ valid: true, records: counts.total });
    const { stdout } = await promisify(execFile)("python3", [pythonVerifier, path], {
      timeout: 60_000,
    });
    expect(stdout).toBe(`OK: ${counts.total} records\n`);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
  return counts.total;
}

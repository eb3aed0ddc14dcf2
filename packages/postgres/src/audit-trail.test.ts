import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { AuditUnknownIntentError, verifyAuditFile } from "@beauvoir/audit-trail";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../test/support/test-database.js";
import { exportAuditHistory } from "./audit-export.js";
import { AUDIT_SEALER_LOCK } from "./audit-sealer.js";
import type { PostgresBackendOptions } from "./backend.js";

const db = useTestDatabase();
const run = promisify(execFile);
const pythonVerifier = fileURLToPath(
  new URL("../../audit-trail/scripts/verify_audit.py", import.meta.url),
);
const TOKEN = "ghp_0123456789abcdefghijklmnopqrstuvwxyz01";

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "beauvoir-pg-audit-"));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

let files = 0;
async function exportTo(schema = "beauvoir") {
  const path = join(directory, `export-${++files}.jsonl`);
  const report = await exportAuditHistory({ pool: db.admin, schema, path });
  return { path, report };
}

async function python(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout } = await run("python3", [pythonVerifier, ...args], {
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, output: failed.stderr };
  }
}

/** A schema of its own, so each history starts at seq 1. */
let schemas = 0;
async function replicaInFreshSchema(options: Partial<PostgresBackendOptions> = {}) {
  const schema = `audit_${++schemas}`;
  const { migrate } = await import("./migrate.js");
  await migrate({ pool: db.admin, schema });
  return { schema, ...(await replicaOn(schema, options)) };
}

async function replicaOn(schema: string, options: Partial<PostgresBackendOptions> = {}) {
  const backend = db.backend({ schema, sealer: { enabled: false }, ...options });
  await backend.start();
  return { backend };
}

describe("writing", () => {
  it("redacts action, target and dedupeKey too, and finds a result by the unredacted key", async () => {
    const { backend } = await replicaInFreshSchema();
    const resource = `acme/app/issues?access_token=${TOKEN}`;
    const dedupeKey = `add_issue_comment:${resource}:d7df79b3`;
    const intent = await backend.audit.recordIntent({
      action: `add_issue_comment ${TOKEN}`,
      target: resource,
      params: {},
      dedupeKey,
    });
    await backend.audit.recordResult(intent, { id: 1 });
    await backend.audit.recordDenied({ action: "x", target: resource, params: {}, reason: "no" });
    expect(await backend.audit.findResultByDedupeKey(dedupeKey)).toMatchObject({
      intentId: intent,
      result: { id: 1 },
    });
    const stored = await db.admin.query(
      `SELECT action, target, dedupe_key FROM ${backend.schema}.audit_records`,
    );
    expect(JSON.stringify(stored.rows)).not.toContain(TOKEN);
    await backend.sealer.sealPending();
    const { path } = await exportTo(backend.schema);
    expect(await readFile(path, "utf8")).not.toContain(TOKEN);
  });

  it("records intents, results, denials and dry runs, redacted, results copying their intent", async () => {
    const { backend } = await replicaInFreshSchema();
    const intent = await backend.audit.recordIntent({
      action: "add_issue_comment",
      target: "acme/app#1",
      params: { body: "hi", token: TOKEN },
      dedupeKey: "k-1",
    });
    const result = await backend.audit.recordResult(intent, { id: 7, echo: TOKEN });
    const denied = await backend.audit.recordDenied({
      action: "delete_repo",
      target: "acme/app",
      params: {},
      reason: "not allowed",
    });
    const dry = await backend.audit.recordDryRun({
      action: "add_labels",
      target: "acme/app#2",
      params: { labels: ["x"] },
    });
    expect(new Set([intent, result, denied, dry]).size).toBe(4);
    expect(await backend.audit.findResultByDedupeKey("k-1")).toEqual({
      intentId: intent,
      ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      result: { id: 7, echo: expect.not.stringContaining(TOKEN) },
    });
    expect(await backend.audit.findResultByIntent(intent)).toMatchObject({ intentId: intent });
    expect(await backend.audit.findResultByDedupeKey("unknown")).toBeNull();
    expect(await backend.audit.findResultByIntent(denied)).toBeNull();
    expect(await backend.audit.sealedSeq(intent)).toBeNull();
    await backend.sealer.sealPending();
    expect(await backend.audit.sealedSeq(intent)).toBe(1);
    const { path } = await exportTo(backend.schema);
    const text = await readFile(path, "utf8");
    expect(text).not.toContain(TOKEN);
    const records = text
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(records.map((record) => [record.seq, record.phase, record.intentSeq])).toEqual([
      [1, "intent", undefined],
      [2, "result", 1],
      [3, "denied", undefined],
      [4, "dry_run", undefined],
    ]);
    expect(records[1]).toMatchObject({
      action: "add_issue_comment",
      target: "acme/app#1",
      dedupeKey: "k-1",
      params: {},
    });
    expect(records[2]).toMatchObject({ error: "not allowed", dryRun: false });
    expect(records[3]).toMatchObject({ dryRun: true });
    expect(records[0].ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("gives each intent at most one result", async () => {
    const { backend } = await replicaInFreshSchema();
    const intent = await backend.audit.recordIntent({ action: "a", target: "t", params: {} });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, index) => backend.audit.recordResult(intent, index)),
    );
    expect(results.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
    const refused = results.find(
      (outcome) => outcome.status === "rejected",
    ) as PromiseRejectedResult;
    expect(AuditUnknownIntentError.isInstance(refused.reason)).toBe(true);
    expect(refused.reason).toMatchObject({ reason: "already_resolved" });
    await expect(backend.audit.recordResult(999_999, null)).rejects.toMatchObject({
      code: "AUDIT_UNKNOWN_INTENT",
      reason: "not_open",
    });
    const denied = await backend.audit.recordDenied({ action: "a", target: "t", params: {} });
    await expect(backend.audit.recordResult(denied, null)).rejects.toMatchObject({
      reason: "not_open",
    });
    await expect(backend.audit.recordResult(0, null)).rejects.toMatchObject({
      code: "AUDIT_INVALID_ENTRY",
    });
  });

  it("lists intents without a result", async () => {
    const { backend } = await replicaInFreshSchema();
    const open = await backend.audit.recordIntent({
      action: "a",
      target: "t",
      params: {},
      dedupeKey: "d",
    });
    const closed = await backend.audit.recordIntent({ action: "b", target: "t", params: {} });
    await backend.audit.recordResult(closed, undefined, "failed");
    expect(await backend.audit.getPendingIntents()).toEqual([
      { id: open, action: "a", target: "t", dedupeKey: "d" },
    ]);
  });

  it("refuses malformed entries with a code", async () => {
    const { backend } = await replicaInFreshSchema();
    for (const entry of [
      null,
      { action: "", target: "t", params: {} },
      { action: "a", target: 1, params: {} },
      { action: "a", target: "t", params: [] },
      { action: "a", target: "t", params: {}, dedupeKey: 5 },
    ]) {
      await expect(backend.audit.recordIntent(entry as never)).rejects.toMatchObject({
        code: "AUDIT_INVALID_ENTRY",
      });
    }
  });
});

describe("one history, verified by today's tools", () => {
  it("seals the records of many concurrent writers on three replicas gap-free, and both verifiers accept the export", async () => {
    const { schema, backend: first } = await replicaInFreshSchema({
      sealer: { idleIntervalMs: 10 },
    });
    first.sealer.start();
    const others = [
      (await replicaOn(schema, { sealer: { idleIntervalMs: 10 } })).backend,
      (await replicaOn(schema, { sealer: { idleIntervalMs: 10 } })).backend,
    ];
    for (const other of others) other.sealer.start();
    const replicas = [first, ...others];
    await Promise.all(
      Array.from({ length: 30 }, async (_, writer) => {
        const backend = replicas[writer % 3]!;
        for (let step = 0; step < 5; step++) {
          const intent = await backend.audit.recordIntent({
            action: "add_labels",
            target: `acme/app#${writer}`,
            params: { step, labels: ["ü", '"q"', "\u2028"] },
            dedupeKey: `w${writer}-s${step}`,
          });
          await backend.audit.recordResult(intent, { ok: true, n: step / 3 });
        }
      }),
    );
    for (const backend of replicas) await backend.sealer.stop();
    await first.sealer.sealPending();
    const { rows } = await db.admin.query(
      `SELECT count(*)::int AS records, count(seq)::int AS sealed, min(seq)::int AS low, max(seq)::int AS high
         FROM ${schema}.audit_records`,
    );
    expect(rows[0]).toEqual({ records: 300, sealed: 300, low: 1, high: 300 });
    const { path, report } = await exportTo(schema);
    expect(report).toMatchObject({ records: 300, lastSeq: 300 });
    const verification = await verifyAuditFile(path);
    expect(verification).toMatchObject({
      valid: true,
      records: 300,
      lastSeq: 300,
      lastHash: report.lastHash,
    });
    expect(await python([path])).toEqual({ code: 0, output: "OK: 300 records\n" });
  });

  it("signs every record with the key, and a wrong key or an edited line is caught", async () => {
    const { schema, backend } = await replicaInFreshSchema({ hmacKey: "shared-audit-key" });
    for (let index = 0; index < 5; index++) {
      const intent = await backend.audit.recordIntent({
        action: "a",
        target: `t${index}`,
        params: { index },
      });
      await backend.audit.recordResult(intent, index);
    }
    await backend.sealer.sealPending();
    const signed = await exportTo(schema);
    expect(
      await verifyAuditFile(signed.path, { hmacKey: "shared-audit-key", requireHmac: true }),
    ).toMatchObject({
      valid: true,
      signedRecords: 10,
    });
    expect(await verifyAuditFile(signed.path, { hmacKey: "wrong" })).toMatchObject({
      valid: false,
      reason: "hmac_mismatch",
    });
    expect(await python(["--key-env", "KEY", signed.path], { KEY: "shared-audit-key" })).toEqual({
      code: 0,
      output: "OK: 10 records\n",
    });
    expect((await python(["--key-env", "KEY", signed.path], { KEY: "wrong" })).output).toMatch(
      /^BROKEN at seq 1/,
    );
    // Whoever rewrites a sealed line in the database is caught by the export's verification.
    await db.admin.query(
      `UPDATE ${schema}.audit_records SET line = replace(line, '"target":"t2"', '"target":"t9"') WHERE seq = 5`,
    );
    const edited = await exportTo(schema);
    expect(await verifyAuditFile(edited.path)).toMatchObject({
      valid: false,
      brokenAt: 5,
      reason: "hash_mismatch",
    });
    expect((await python([edited.path])).output).toMatch(/^BROKEN at seq 5/);
  });

  it("lets no stale sealer fork the chain: a lower fence than the head's seals nothing", async () => {
    const { schema, backend } = await replicaInFreshSchema();
    const stale = await backend.locks.acquire(AUDIT_SEALER_LOCK, { ttlMs: 300, autoRenew: false });
    await backend.audit.recordIntent({ action: "a", target: "t", params: {} });
    expect(await backend.sealer.sealBatch(stale)).toBe(1);
    const { backend: other } = await replicaOn(schema);
    const fresh = await other.locks.acquire(AUDIT_SEALER_LOCK, { waitMs: 10_000 });
    await other.audit.recordIntent({ action: "b", target: "t", params: {} });
    expect(await other.sealer.sealBatch(fresh)).toBe(1);
    await backend.audit.recordIntent({ action: "c", target: "t", params: {} });
    const refused = await backend.sealer
      .sealBatch({ ...stale, signal: new AbortController().signal } as typeof stale)
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({
      code: "FENCE_STALE",
      fence: stale.fence,
      highestSeen: fresh.fence,
    });
    const { rows } = await db.admin.query(
      `SELECT seq::int FROM ${schema}.audit_records WHERE action = 'c'`,
    );
    expect(rows).toEqual([{ seq: null }]);
    expect(await other.sealer.sealBatch(fresh)).toBe(1);
  });

  it("writes the export privately, never over a file or through a link", async () => {
    const { schema, backend } = await replicaInFreshSchema();
    await backend.audit.recordIntent({ action: "a", target: "t", params: {} });
    await backend.sealer.sealPending();
    const { path } = await exportTo(schema);
    await expect(exportAuditHistory({ pool: db.admin, schema, path })).rejects.toMatchObject({
      code: "EEXIST",
    });
    const target = join(directory, "victim");
    await writeFile(target, "keep me");
    const link = join(directory, "link.jsonl");
    await symlink(target, link);
    await expect(exportAuditHistory({ pool: db.admin, schema, path: link })).rejects.toMatchObject({
      code: expect.stringMatching(/EEXIST|SYMLINK_REFUSED/),
    });
    expect(await readFile(target, "utf8")).toBe("keep me");
    await expect(exportAuditHistory({ pool: db.admin, schema, path: "" })).rejects.toThrow(
      TypeError,
    );
    await expect(
      exportAuditHistory({ pool: db.admin, schema, path: join(directory, "x"), pageSize: 0 }),
    ).rejects.toThrow(/pageSize/);
  });

  it("exports in pages", async () => {
    const { schema, backend } = await replicaInFreshSchema();
    for (let index = 0; index < 7; index++) {
      await backend.audit.recordDryRun({ action: "a", target: "t", params: { index } });
    }
    await backend.sealer.sealPending();
    const path = join(directory, "paged.jsonl");
    const report = await exportAuditHistory({ pool: db.admin, schema, path, pageSize: 3 });
    expect(report.records).toBe(7);
    expect(await verifyAuditFile(path)).toMatchObject({ valid: true, records: 7 });
  });
});

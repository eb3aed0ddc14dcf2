import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canonicalJson, verifyAuditFile } from "@beauvoir/audit-trail";
import { afterAll, beforeAll, expect, it } from "vitest";
import { exportAuditHistory } from "../src/audit-export.js";
import type { SignedCheckpoint } from "../src/audit-sealer.js";
import { verifyCheckpoint, verifyHistoryAgainstCheckpoint } from "../src/checkpoint.js";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase();
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "beauvoir-pg-checkpoints-"));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function exportedLines(name: string): Promise<{ path: string; lines: string[] }> {
  const path = join(directory, name);
  await exportAuditHistory({ pool: db.admin, path });
  return { path, lines: (await readFile(path, "utf8")).trim().split("\n") };
}

/**
 * Whoever controls the database rewrites record `seq` and re-chains every
 * record after it with valid SHA-256 hashes (there is no HMAC key to stop them).
 */
async function rewriteAndRechain(seq: number, edit: (record: Record<string, unknown>) => void) {
  const { rows } = await db.admin.query<{ seq: string; line: string }>(
    "SELECT r.seq::text AS seq, r.line FROM beauvoir.audit_records r WHERE r.seq IS NOT NULL ORDER BY r.seq",
  );
  let prevHash = "genesis";
  for (const row of rows) {
    const record = JSON.parse(row.line) as Record<string, unknown>;
    if (Number(row.seq) >= seq) {
      if (Number(row.seq) === seq) edit(record);
      delete record.hash;
      record.prevHash = prevHash;
      const body = canonicalJson(record)!;
      const hash = createHash("sha256").update(body).digest("hex");
      await db.admin.query(
        "UPDATE beauvoir.audit_records SET line = $1, hash = $2 WHERE seq = $3",
        [`${body.slice(0, -1)},"hash":"${hash}"}`, hash, row.seq],
      );
      prevHash = hash;
    } else {
      prevHash = record.hash as string;
    }
  }
}

it("signs Merkle checkpoints kept outside the database, which catch a re-chained rewrite", async () => {
  const outside: SignedCheckpoint[] = [];
  const backend = db.backend({
    sealer: { enabled: false },
    checkpoints: {
      privateKey,
      origin: "example.com/bot/audit",
      every: 5,
      onCheckpoint: (checkpoint) => {
        outside.push(checkpoint);
      },
    },
  });
  await backend.start();
  for (let round = 0; round < 3; round++) {
    for (let index = 0; index < 5; index++) {
      const intent = await backend.audit.recordIntent({
        action: "add_labels",
        target: `acme/app#${round}`,
        params: { index, labels: ["triage"] },
      });
      if (index % 2 === 0) await backend.audit.recordResult(intent, { ok: true });
    }
    await backend.sealer.sealPending();
  }
  expect(outside.map((checkpoint) => checkpoint.treeSize)).toEqual([8, 16, 24]);
  expect(await backend.sealer.checkpoints()).toEqual(outside);

  const honest = await exportedLines("honest.jsonl");
  for (const checkpoint of outside) {
    expect(verifyHistoryAgainstCheckpoint(honest.lines, checkpoint.note, publicKey).treeSize).toBe(
      checkpoint.treeSize,
    );
    expect(verifyCheckpoint(checkpoint.note, publicKey).rootHash.toString("hex")).toBe(
      checkpoint.rootHash,
    );
  }

  await rewriteAndRechain(3, (record) => {
    record.target = "acme/other#0";
  });
  const rewritten = await exportedLines("rewritten.jsonl");
  // The chain alone cannot tell: it was rebuilt with valid hashes.
  expect(await verifyAuditFile(rewritten.path)).toMatchObject({ valid: true, records: 24 });
  // The signed roots kept outside can.
  for (const checkpoint of outside) {
    expect(() =>
      verifyHistoryAgainstCheckpoint(rewritten.lines, checkpoint.note, publicKey),
    ).toThrow(expect.objectContaining({ code: "CHECKPOINT_INVALID", problem: "root_mismatch" }));
  }
});

it("hands a checkpoint out again when keeping it outside failed", async () => {
  let failures = 1;
  const kept: number[] = [];
  const { migrate } = await import("../src/migrate.js");
  await migrate({ pool: db.admin, schema: "retried" });
  const backend = db.backend({
    schema: "retried",
    sealer: { enabled: false },
    checkpoints: {
      privateKey,
      origin: "example.com/bot/audit",
      every: 2,
      onCheckpoint: (checkpoint) => {
        if (failures-- > 0) throw new Error("the outside store is down");
        kept.push(checkpoint.treeSize);
      },
    },
  });
  await backend.start();
  for (let index = 0; index < 2; index++) {
    await backend.audit.recordDryRun({ action: "a", target: "t", params: { index } });
  }
  await backend.sealer.sealPending();
  expect(kept).toEqual([]);
  for (let index = 0; index < 2; index++) {
    await backend.audit.recordDryRun({ action: "b", target: "t", params: { index } });
  }
  await backend.sealer.sealPending();
  expect(kept).toEqual([2, 4]);
});

it("names bad checkpoint options", () => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
  expect(() => db.backend({ checkpoints: { privateKey, origin: "o", every: 0 } })).toThrow(/every/);
  expect(() => db.backend({ checkpoints: { privateKey: rsa.privateKey, origin: "o" } })).toThrow(
    /Ed25519/,
  );
  expect(() => db.backend({ checkpoints: { privateKey, origin: "with space" } })).toThrow(/origin/);
  expect(() =>
    db.backend({ checkpoints: { privateKey, origin: "o", onCheckpoint: 1 as never } }),
  ).toThrow(/onCheckpoint/);
});

import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { verifyAuditFile } from "@beauvoir/audit-trail";
import { expect } from "vitest";
import type { ExportedRecord } from "./subjects.js";

const require = createRequire(import.meta.url);
const pythonVerifier = join(
  dirname(require.resolve("@beauvoir/audit-trail/package.json")),
  "scripts",
  "verify_audit.py",
);

/**
 * Reads an exported history and holds it to the invariants every backend
 * keeps: both verifiers (`verifyAuditFile` and `verify_audit.py`) accept it
 * unchanged, seqs run from 1 without a gap, every intent has at most one
 * result, and each result comes after its intent and copies its action,
 * target and dedupe key.
 * @returns the records, in seq order.
 */
export async function readVerifiedHistory(
  path: string,
  hmacKey?: string,
): Promise<ExportedRecord[]> {
  const verification = await verifyAuditFile(path, hmacKey === undefined ? {} : { hmacKey });
  expect(verification).toMatchObject({ valid: true });
  const text = await readFile(path, "utf8");
  const records = text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as ExportedRecord);
  expect(verification.records).toBe(records.length);
  const python = await promisify(execFile)(
    "python3",
    [pythonVerifier, ...(hmacKey === undefined ? [] : ["--key-env", "BEAUVOIR_AUDIT_KEY"]), path],
    {
      timeout: 60_000,
      env: { ...process.env, ...(hmacKey === undefined ? {} : { BEAUVOIR_AUDIT_KEY: hmacKey }) },
    },
  );
  expect(python.stdout).toBe(`OK: ${records.length} records\n`);
  expect(records.map((record) => record.seq)).toEqual(records.map((_, index) => index + 1));
  const intents = new Map(
    records.filter((record) => record.phase === "intent").map((record) => [record.seq, record]),
  );
  const answered = new Set<number>();
  for (const record of records.filter((candidate) => candidate.phase === "result")) {
    const intent = intents.get(record.intentSeq ?? -1);
    expect(intent, `result ${record.seq} closes an intent before it`).toBeDefined();
    expect(answered.has(record.intentSeq ?? -1), `intent ${record.intentSeq} has one result`).toBe(
      false,
    );
    answered.add(record.intentSeq ?? -1);
    expect(record).toMatchObject({
      action: intent?.action,
      target: intent?.target,
      ...(intent?.dedupeKey === undefined ? {} : { dedupeKey: intent.dedupeKey }),
    });
  }
  return records;
}

/** The intents of a key with, for each, its result (or `undefined` while open). */
export function attemptsOf(
  records: readonly ExportedRecord[],
  dedupeKey: string,
): { intent: ExportedRecord; result: ExportedRecord | undefined }[] {
  return records
    .filter((record) => record.phase === "intent" && record.dedupeKey === dedupeKey)
    .map((intent) => ({
      intent,
      result: records.find(
        (record) => record.phase === "result" && record.intentSeq === intent.seq,
      ),
    }));
}

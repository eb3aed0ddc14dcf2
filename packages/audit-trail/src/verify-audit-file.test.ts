import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildChain } from "./__fixtures__/chain.js";
import { errno, instrumentedFs, makeTempDir } from "./__fixtures__/helpers.js";
import { AuditReadError } from "./errors.js";
import { verifyAuditFile } from "./verify-audit-file.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});
afterEach(() => cleanup());

describe("verifyAuditFile", () => {
  it("checks a single file on its own, even one that continues a rotated file", async () => {
    const file = join(dir, "audit.20260208T101500123Z.jsonl");
    await writeFile(file, buildChain([{}, {}], { firstSeq: 41, link: "e".repeat(64) }).text);
    expect(await verifyAuditFile(file)).toMatchObject({
      valid: true,
      records: 2,
      lastSeq: 42,
      segments: [{ file, records: 2, firstSeq: 41, lastSeq: 42, valid: true }],
    });
  });

  it("reports where a single file breaks", async () => {
    const file = join(dir, "audit.jsonl");
    const { lines } = buildChain([{}, {}, {}]);
    await writeFile(file, lines[0]! + lines[1]!.replace("acme", "acne") + lines[2]!);
    expect(await verifyAuditFile(file)).toMatchObject({
      valid: false,
      records: 1,
      brokenAt: 2,
      reason: "hash_mismatch",
      file,
      line: 2,
      lastSeq: 1,
      segments: [{ valid: false, records: 1 }],
    });
  });

  it("verifies every history in a directory and ignores other files", async () => {
    const first = buildChain([{}, {}]);
    await writeFile(join(dir, "audit.20260101T000000000Z.jsonl"), first.text);
    await writeFile(
      join(dir, "audit.jsonl"),
      buildChain([{}], { firstSeq: 3, link: first.hashes[1] }).text,
    );
    await writeFile(join(dir, "payments.jsonl"), buildChain([{}, {}, {}]).text);
    await writeFile(join(dir, "notes.txt"), "not an audit file");
    await mkdir(join(dir, "sub"));
    const result = await verifyAuditFile(dir);
    expect(result).toMatchObject({ valid: true, records: 6 });
    expect(result.segments.map((segment) => segment.file)).toEqual([
      join(dir, "audit.20260101T000000000Z.jsonl"),
      join(dir, "audit.jsonl"),
      join(dir, "payments.jsonl"),
    ]);
  });

  it("accepts a history whose current file is not created yet", async () => {
    await writeFile(join(dir, "audit.20260101T000000000Z.jsonl"), buildChain([{}]).text);
    expect(await verifyAuditFile(dir)).toMatchObject({ valid: true, records: 1 });
  });

  it("reports progress over all files", async () => {
    await writeFile(
      join(dir, "audit.jsonl"),
      buildChain(Array.from({ length: 3_000 }, () => ({}))).text,
    );
    const calls: [number, number][] = [];
    await verifyAuditFile(dir, { onProgress: (done, total) => calls.push([done, total]) });
    const total = calls[0]![1];
    expect(total).toBeGreaterThan(0);
    expect(calls[calls.length - 1]).toEqual([total, total]);
  });

  it("throws AUDIT_READ for a missing or unreadable path", async () => {
    const missing = join(dir, "missing.jsonl");
    const error = await verifyAuditFile(missing).catch((caught: unknown) => caught);
    expect(AuditReadError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "AUDIT_READ", path: missing });
    await writeFile(join(dir, "audit.jsonl"), buildChain([{}]).text);
    const fs = instrumentedFs({ readFile: () => errno("EACCES") });
    await expect(verifyAuditFile(join(dir, "audit.jsonl"), { fs })).rejects.toMatchObject({
      code: "AUDIT_READ",
    });
    const denied = instrumentedFs({ open: () => errno("EACCES") });
    await expect(verifyAuditFile(dir, { fs: denied })).rejects.toMatchObject({
      code: "AUDIT_READ",
    });
  });

  it("rejects requireHmac without a key", async () => {
    await expect(verifyAuditFile(dir, { requireHmac: true })).rejects.toThrow(TypeError);
  });
});

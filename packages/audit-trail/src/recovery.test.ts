import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildChain, forgeLine } from "./__fixtures__/chain.js";
import {
  errno,
  instrumentedFs,
  keepEverything,
  makeTempDir,
  opensForAppend,
  recordingLogger,
} from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";
import { AuditCorruptError, AuditReadError } from "./errors.js";
import type { AuditTrailOptions } from "./options.js";
import { startSigning } from "./start-signing.js";

let dir: string;
let path: string;
let cleanup: () => Promise<void>;
const opened: AuditTrail[] = [];
const key = Buffer.from("recovery key");

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  path = join(dir, "audit.jsonl");
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((trail) => trail.close().catch(() => {})));
  await cleanup();
});

function trailFor(options: Partial<AuditTrailOptions> = {}): AuditTrail {
  const trail = new AuditTrail({ path, redactor: keepEverything, ...options });
  opened.push(trail);
  return trail;
}

/** Four records: intent 1 with result 2, intent 3 still open, denial 4. */
const specs = [
  { params: { n: 1 } },
  { phase: "result" as const, intentSeq: 1, result: { ok: true } },
  { params: { n: 3 } },
  { phase: "denied" as const, error: "policy" },
];

async function expectRecoveredTo(records: number, options: Partial<AuditTrailOptions> = {}) {
  const logger = recordingLogger();
  const trail = trailFor({ logger, ...options });
  const report = await trail.initialize();
  expect(report.records).toBe(records);
  expect(await trail.verifyChain()).toMatchObject({ valid: true, records });
  return { trail, report, logger };
}

describe("initialize() recovery", () => {
  it("leaves a clean file alone", async () => {
    const { text } = buildChain(specs);
    await writeFile(path, text);
    const { trail, report, logger } = await expectRecoveredTo(4);
    expect(report).toEqual({
      records: 4,
      historyRecords: 4,
      recordsLost: 0,
      truncatedBytes: 0,
      lastSeq: 4,
      pendingIntents: 1,
      segments: 0,
      created: false,
    });
    expect(logger.entries.filter((entry) => entry.level === "warn")).toEqual([]);
    expect(await readFile(path, "utf8")).toBe(text);
    expect(trail.getPendingIntents().map((record) => record.seq)).toEqual([3]);
    expect(await trail.findResultByIntentSeq(1)).toEqual({ hasResult: true, result: { ok: true } });
    expect(await trail.recordResult(3, null)).toBe(5);
    expect(await trail.verifyChain()).toMatchObject({ valid: true, records: 5 });
  });

  it("starts an empty file from seq 1", async () => {
    await writeFile(path, "");
    const { trail, report } = await expectRecoveredTo(0);
    expect(report).toMatchObject({ recordsLost: 0, lastSeq: 0, created: false });
    expect(await trail.recordIntent({ action: "a", target: "t", params: {} })).toBe(1);
  });

  it("cuts a torn last line, warns with the count, and continues the chain", async () => {
    const { text, lines } = buildChain(specs);
    await writeFile(path, text.slice(0, -25));
    const { trail, report, logger } = await expectRecoveredTo(3);
    expect(report).toMatchObject({
      recordsLost: 1,
      truncatedBytes: Buffer.byteLength(lines[3]!) - 25,
      reason: "malformed_line",
      brokenAtLine: 4,
      lastSeq: 3,
    });
    expect(logger.entries).toContainEqual(
      expect.objectContaining({
        level: "warn",
        message: expect.stringContaining("1 record(s)"),
        data: expect.objectContaining({ recordsLost: 1 }),
      }),
    );
    expect(await readFile(path, "utf8")).toBe(lines.slice(0, 3).join(""));
    expect(await trail.recordDenied({ action: "a", target: "t", params: {} })).toBe(4);
    expect(await trail.verifyChain()).toMatchObject({ valid: true, records: 4 });
  });

  // Damage anywhere but a torn last line is refused, never cut: see damage-recovery.test.ts.

  describe("with an HMAC key", () => {
    it("refuses records at the tail that do not verify under the key, instead of cutting them", async () => {
      const { lines } = buildChain(specs, { key });
      const forged = forgeLine(JSON.parse(lines[3]!), Buffer.from("not the key"));
      const text = lines.slice(0, 3).join("") + forged;
      await writeFile(path, text);
      await expect(trailFor({ hmacKey: key }).initialize()).rejects.toMatchObject({
        code: "AUDIT_CORRUPT",
        reason: "hmac_mismatch",
        line: 4,
        seq: 4,
      });
      expect(await readFile(path, "utf8")).toBe(text);
    });

    it("refuses a mismatch in the middle, leaving the file untouched", async () => {
      const { lines } = buildChain(specs, { key });
      const forged = forgeLine(JSON.parse(lines[1]!), Buffer.from("not the key"));
      const text = lines[0]! + forged + lines[2]! + lines[3]!;
      await writeFile(path, text);
      const error = await trailFor({ hmacKey: key })
        .initialize()
        .catch((caught: unknown) => caught);
      expect(AuditCorruptError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({
        code: "AUDIT_CORRUPT",
        seq: 2,
        file: path,
        reason: "hmac_mismatch",
      });
      expect(await readFile(path, "utf8")).toBe(text);
    });

    it("refuses a key that verifies nothing (a changed key) instead of cutting the file", async () => {
      const { text } = buildChain(specs, { key });
      await writeFile(path, text);
      await expect(trailFor({ hmacKey: "another key" }).initialize()).rejects.toMatchObject({
        code: "AUDIT_CORRUPT",
        reason: "hmac_mismatch",
        seq: 1,
      });
      expect(await readFile(path, "utf8")).toBe(text);
    });

    it("keeps unsigned records written before the key was set once the switch is recorded, and signs from then on", async () => {
      await writeFile(path, buildChain(specs).text);
      await expect(trailFor({ hmacKey: key }).initialize()).rejects.toMatchObject({
        code: "AUDIT_CORRUPT",
        reason: "hmac_missing",
        seq: 1,
      });
      await startSigning({ path, hmacKey: key });
      const { trail } = await expectRecoveredTo(5, { hmacKey: key });
      await trail.recordResult(3, "done");
      const last = JSON.parse((await readFile(path, "utf8")).trim().split("\n").pop()!);
      expect(last.hmac).toMatch(/^[0-9a-f]{64}$/);
      expect(await trail.verifyChain()).toMatchObject({
        valid: true,
        records: 6,
        signedRecords: 2,
      });
    });
  });

  describe("filesystem failures", () => {
    it("reports an unreadable file as AUDIT_READ and a failed mkdir, open or truncate as AUDIT_WRITE", async () => {
      await writeFile(path, "torn");
      const readError = await trailFor({
        fs: instrumentedFs({
          open: (opened, flags) =>
            opened === path && !opensForAppend(flags) ? errno("EACCES") : undefined,
        }),
      })
        .initialize()
        .catch((caught: unknown) => caught);
      expect(AuditReadError.isInstance(readError)).toBe(true);
      expect(readError).toMatchObject({ code: "AUDIT_READ", path, cause: { code: "EACCES" } });
      const missingDirectory = new AuditTrail({
        path: join(dir, "missing", "audit.jsonl"),
        fs: instrumentedFs({ mkdir: () => errno("EACCES") }),
        redactor: keepEverything,
      });
      await expect(missingDirectory.initialize()).rejects.toMatchObject({
        code: "AUDIT_WRITE",
        operation: "mkdir",
      });
      await expect(
        trailFor({
          fs: instrumentedFs({
            open: (_opened, flags) => (opensForAppend(flags) ? errno("EMFILE") : undefined),
          }),
        }).initialize(),
      ).rejects.toMatchObject({ code: "AUDIT_WRITE", operation: "open" });
      await expect(
        trailFor({ fs: instrumentedFs({ truncate: () => errno("EIO") }) }).initialize(),
      ).rejects.toMatchObject({ code: "AUDIT_WRITE", operation: "truncate" });
      await expect(
        trailFor({ fs: instrumentedFs({ readdir: () => errno("EACCES") }) }).initialize(),
      ).rejects.toMatchObject({ code: "AUDIT_READ", path: dir });
      // A failed initialize() can be retried.
      const trail = trailFor();
      expect(await trail.initialize()).toMatchObject({ recordsLost: 1 });
    });

    it("fsyncs the directory when it creates the file, and reports a failure to", async () => {
      const fs = instrumentedFs();
      await trailFor({ fs }).initialize();
      expect(fs.log).toContain(`fsyncDirectory:${dir}`);
      const other = join(dir, "other.jsonl");
      const failing = new AuditTrail({
        path: other,
        fs: instrumentedFs({
          fsyncDirectory: (synced) => (synced === dir ? errno("EIO") : undefined),
        }),
        redactor: keepEverything,
      });
      await expect(failing.initialize()).rejects.toMatchObject({
        code: "AUDIT_WRITE",
        operation: "fsync",
      });
    });
  });
});

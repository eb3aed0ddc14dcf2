import { readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Clock, ManualClock, systemClock } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  errno,
  instrumentedFs,
  keepEverything,
  makeTempDir,
  readRecordsOf,
  recordingLogger,
} from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";
import type { AuditTrailOptions } from "./options.js";
import { verifyAuditFile } from "./verify-audit-file.js";

let dir: string;
let path: string;
let cleanup: () => Promise<void>;
const opened: AuditTrail[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  path = join(dir, "audit.jsonl");
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((trail) => trail.close().catch(() => {})));
  await cleanup();
});

async function openTrail(options: Partial<AuditTrailOptions> = {}): Promise<AuditTrail> {
  const trail = new AuditTrail({ path, redactor: keepEverything, maxSizeBytes: 1_000, ...options });
  opened.push(trail);
  await trail.initialize();
  return trail;
}

const entry = (index: number) => ({
  action: "create_branch",
  target: `acme/app:b${index}`,
  params: { index },
});

/** Intent + result pairs until `files` files exist. */
async function fillUntil(trail: AuditTrail, files: number): Promise<number[]> {
  const intents: number[] = [];
  for (let index = 0; (await segmentNames()).length < files - 1; index++) {
    const intent = await trail.recordIntent(entry(index));
    intents.push(intent);
    await trail.recordResult(intent, { index }, index % 3 === 0 ? "failed once" : undefined);
  }
  return intents;
}

async function segmentNames(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name !== "audit.jsonl").sort();
}

describe("rotation", () => {
  it("renames a full file before the next write, fsyncs the directory, and links the new file to the old one", async () => {
    const fs = instrumentedFs();
    const clock = new ManualClock(Date.UTC(2026, 1, 8, 10, 15, 0, 123));
    const trail = await openTrail({ fs, clock });
    for (let index = 0; (await stat(path)).size < 1_000; index++) {
      await trail.recordDenied(entry(index));
    }
    expect(await segmentNames()).toEqual([]);
    fs.log.length = 0;
    const next = await trail.recordDenied(entry(99));
    const [segment] = await segmentNames();
    expect(segment).toBe("audit.20260208T101500123Z.jsonl");
    expect(fs.log).toEqual([
      `rename:${path}->${join(dir, segment!)}`,
      `fsyncDirectory:${dir}`,
      `open:${path}`,
      `fsyncDirectory:${dir}`,
      "close",
      expect.stringMatching(/^write:/),
      "sync",
    ]);
    const rotated = await readRecordsOf(join(dir, segment!));
    expect(Buffer.byteLength(await readFile(join(dir, segment!)))).toBeGreaterThanOrEqual(1_000);

    const [first] = await readRecordsOf(path);
    const last = rotated[rotated.length - 1]!;
    expect(next).toBe((last.seq as number) + 1);
    expect(first).toMatchObject({ seq: next, prevHash: "genesis", previousSegmentHash: last.hash });
    expect(await trail.verifyChain()).toMatchObject({
      valid: true,
      records: next,
      segments: [{ valid: true }, { valid: true, firstSeq: next }],
    });
  });

  it("waits for every open intent to get its result, warning once", async () => {
    const logger = recordingLogger();
    const trail = await openTrail({ logger });
    const open = await trail.recordIntent({ ...entry(0), params: { padding: "x".repeat(1_200) } });
    await trail.recordDenied(entry(1));
    await trail.recordDryRun(entry(2));
    expect(await segmentNames()).toEqual([]);
    expect(logger.entries.filter((line) => line.message.includes("deferred"))).toHaveLength(1);
    await trail.recordResult(open, "done");
    expect(await segmentNames()).toEqual([]);
    const after = await trail.recordDenied(entry(3));
    expect(await segmentNames()).toHaveLength(1);
    expect((await readRecordsOf(path)).map((record) => record.seq)).toEqual([after]);
    const rotated = await readRecordsOf(join(dir, (await segmentNames())[0]!));
    expect(rotated.map((record) => record.phase)).toEqual([
      "intent",
      "denied",
      "dry_run",
      "result",
    ]);
  });

  it("fsyncs unsynced dry-run records before renaming", async () => {
    const fs = instrumentedFs();
    const trail = await openTrail({ fs, clock: new ManualClock(1) });
    await trail.recordDryRun({ ...entry(0), params: { padding: "x".repeat(1_200) } });
    await trail.recordDryRun(entry(1));
    const renameAt = fs.log.findIndex((line) => line.startsWith("rename:"));
    expect(renameAt).toBeGreaterThan(0);
    expect(fs.log[renameAt - 1]).toBe("sync");
  });

  it("never rotates with maxSizeBytes: Infinity", async () => {
    const trail = await openTrail({ maxSizeBytes: Number.POSITIVE_INFINITY });
    for (let index = 0; index < 20; index++)
      await trail.recordDenied({ ...entry(index), params: { padding: "x".repeat(200) } });
    expect(await segmentNames()).toEqual([]);
  });

  it("keeps names in history order when the clock goes back", async () => {
    let now = Date.UTC(2026, 1, 8, 12);
    const backwards: Clock = { ...systemClock, now: () => (now -= 60_000) };
    const trail = await openTrail({ clock: backwards });
    await fillUntil(trail, 4);
    const names = await segmentNames();
    expect(names).toHaveLength(3);
    expect(await verifyAuditFile(dir)).toMatchObject({ valid: true });
    const records = await Promise.all(names.map((name) => readRecordsOf(join(dir, name))));
    const firstSeqs = records.map((list) => list[0]!.seq as number);
    expect(firstSeqs).toEqual([...firstSeqs].sort((left, right) => left - right));
  });

  it("retries a failed rename after the next write", async () => {
    let refuse = true;
    const logger = recordingLogger();
    const fs = instrumentedFs({ rename: () => (refuse ? errno("EBUSY") : undefined) });
    const trail = await openTrail({ fs, logger });
    await trail.recordDenied({ ...entry(0), params: { padding: "x".repeat(1_200) } });
    await trail.recordDenied(entry(1));
    expect(await segmentNames()).toEqual([]);
    expect(logger.entries.find((line) => line.level === "error")?.message).toContain(
      "rotation failed",
    );
    refuse = false;
    await trail.recordDenied(entry(2));
    expect(await segmentNames()).toHaveLength(1);
    expect(await trail.verifyChain()).toMatchObject({ valid: true, records: 3 });
  });

  it("stops if the new file cannot be opened after the rename, and a new trail picks up the history", async () => {
    let failOpens = false;
    const fs = instrumentedFs({ open: () => (failOpens ? errno("EMFILE") : undefined) });
    const trail = await openTrail({ fs });
    await trail.recordDenied({ ...entry(0), params: { padding: "x".repeat(1_200) } });
    failOpens = true;
    await expect(trail.recordDenied(entry(1))).rejects.toMatchObject({
      code: "FAIL_STOPPED",
      cause: { operation: "open" },
    });
    await expect(trail.recordDenied(entry(1))).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await trail.close();
    expect(await segmentNames()).toHaveLength(1);

    const next = await openTrail();
    expect((await next.initialize()).lastSeq).toBe(1);
    expect(await next.recordDenied(entry(2))).toBe(2);
    expect(await next.verifyChain()).toMatchObject({ valid: true, records: 2 });
  });

  it("links to the newest rotated file when the current file is missing or empty after a restart", async () => {
    const trail = await openTrail();
    await fillUntil(trail, 2);
    await trail.close();
    // A crash right after a rotation's rename, before the new file was created.
    const crashedRename = join(dir, "audit.20990101T000000000Z.jsonl");
    await rename(path, crashedRename);
    const lastSeq = (await readRecordsOf(crashedRename)).pop()!.seq as number;

    const restarted = await openTrail();
    expect(await restarted.initialize()).toMatchObject({
      records: 0,
      lastSeq,
      segments: 2,
      created: true,
    });
    expect(await restarted.recordIntent(entry(7))).toBe(lastSeq + 1);
    expect(await restarted.verifyChain()).toMatchObject({ valid: true, records: lastSeq + 1 });
  });

  it("answers result queries for intents in rotated files, in the same process and after a restart", async () => {
    const trail = await openTrail();
    const intents = await fillUntil(trail, 4);
    expect(await trail.findResultByIntentSeq(intents[0]!)).toEqual({
      hasResult: true,
      result: { index: 0 },
      error: "failed once",
    });
    expect(await trail.findResultByIntentSeq(intents[1]!)).toEqual({
      hasResult: true,
      result: { index: 1 },
    });
    await trail.close();

    const fs = instrumentedFs();
    const restarted = await openTrail({ fs });
    const segmentOpens = () =>
      fs.log.filter((line) => line.startsWith("open:") && line !== `open:${path}`);
    // initialize() read each rotated file once, to verify it.
    expect(segmentOpens()).toHaveLength((await segmentNames()).length);
    for (const [index, intent] of intents.entries()) {
      const expected =
        index % 3 === 0
          ? { hasResult: true, result: { index }, error: "failed once" }
          : { hasResult: true, result: { index } };
      expect(await restarted.findResultByIntentSeq(intent)).toEqual(expected);
    }
    // Then each rotated file is read once more for its results, not once per query.
    const reads = segmentOpens();
    expect(reads).toHaveLength(2 * (await segmentNames()).length);
    for (const intent of intents) await restarted.findResultByIntentSeq(intent);
    expect(segmentOpens()).toHaveLength(reads.length);
    expect(await restarted.findResultByIntentSeq(intents[intents.length - 1]! + 1)).toBeNull();
    expect(await restarted.findResultByIntentSeq(0)).toBeNull();
    expect(await restarted.findResultByIntentSeq(10_000)).toBeNull();
  });

  describe("history verification", () => {
    let names: string[];
    beforeEach(async () => {
      const trail = await openTrail();
      await fillUntil(trail, 4);
      await trail.recordIntent(entry(100));
      names = await segmentNames();
      expect(names).toHaveLength(3);
      expect(await trail.verifyChain()).toMatchObject({ valid: true });
      await trail.close();
    });

    /** Verification reports the break, and initialize() refuses the history with the same diagnosis. */
    const expectBroken = async (expected: { reason: string; file?: string; line?: number }) => {
      expect(await verifyAuditFile(dir)).toMatchObject({ valid: false, ...expected });
      const trail = new AuditTrail({ path, redactor: keepEverything, maxSizeBytes: 1_000 });
      opened.push(trail);
      await expect(trail.initialize()).rejects.toMatchObject({
        code: "AUDIT_CORRUPT",
        ...expected,
      });
    };

    it("detects a deleted rotated file in the middle", async () => {
      await rm(join(dir, names[1]!));
      await expectBroken({
        reason: "segment_link_mismatch",
        file: join(dir, names[2]!),
        line: 1,
      });
    });

    it("detects deleted oldest files", async () => {
      await rm(join(dir, names[0]!));
      await expectBroken({
        reason: "history_head_missing",
        file: join(dir, names[1]!),
      });
    });

    it("detects reordered files", async () => {
      await rename(join(dir, names[0]!), join(dir, "tmp"));
      await rename(join(dir, names[1]!), join(dir, names[0]!));
      await rename(join(dir, "tmp"), join(dir, names[1]!));
      await expectBroken({ reason: "history_head_missing" });
    });

    it("detects an edited rotated file", async () => {
      const file = join(dir, names[1]!);
      const text = await readFile(file, "utf8");
      await writeFile(file, text.replace('"index":', '"index" :'));
      await expectBroken({
        reason: "hash_mismatch",
        file,
        line: 1,
      });
    });

    it("detects a current file cut short behind the trail's back", async () => {
      const trail = new AuditTrail({ path, redactor: keepEverything, maxSizeBytes: 1_000 });
      opened.push(trail);
      await trail.initialize();
      const seq = await trail.recordDenied(entry(5));
      const text = await readFile(path, "utf8");
      await writeFile(path, text.split("\n").slice(0, -2).join("\n") + "\n");
      expect(await trail.verifyChain()).toMatchObject({
        valid: false,
        reason: "tail_mismatch",
        brokenAt: seq,
      });
    });
  });
});

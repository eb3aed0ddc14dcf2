import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { ManualClock } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  errno,
  instrumentedFs,
  keepEverything,
  makeTempDir,
  readRecordsOf,
  recordingLogger,
  settle,
} from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";
import {
  AuditInvalidEntryError,
  AuditNotReadyError,
  AuditUnknownIntentError,
  AuditWriteError,
} from "./errors.js";
import type { AuditTrailOptions } from "./options.js";

let dir: string;
let cleanup: () => Promise<void>;
const open: AuditTrail[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((trail) => trail.close().catch(() => {})));
  await cleanup();
});

async function openTrail(options: Partial<AuditTrailOptions> = {}): Promise<AuditTrail> {
  const trail = new AuditTrail({
    path: join(dir, "audit.jsonl"),
    redactor: keepEverything,
    ...options,
  });
  open.push(trail);
  await trail.initialize();
  return trail;
}

const comment = (body = "hello") => ({
  action: "add_issue_comment",
  target: "acme/app#12",
  params: { body },
});

describe("recording", () => {
  it("pairs intents and results by seq and chains every line", async () => {
    const clock = new ManualClock(Date.UTC(2026, 1, 8, 12));
    const trail = await openTrail({ clock });
    const intent = await trail.recordIntent({ ...comment(), dedupeKey: "comment:acme/app#12:abc" });
    clock.advance(1_500);
    const result = await trail.recordResult(intent, { id: 99 });
    const denied = await trail.recordDenied({
      action: "merge",
      target: "acme/app#13",
      params: {},
      reason: "not allowed",
    });
    const dry = await trail.recordDryRun({
      action: "close_issue",
      target: "acme/app#14",
      params: { why: "stale" },
    });
    expect([intent, result, denied, dry]).toEqual([1, 2, 3, 4]);

    const records = await readRecordsOf(trail.path);
    expect(records).toMatchObject([
      {
        seq: 1,
        prevHash: "genesis",
        phase: "intent",
        action: "add_issue_comment",
        target: "acme/app#12",
        params: { body: "hello" },
        dedupeKey: "comment:acme/app#12:abc",
        dryRun: false,
        ts: "2026-02-08T12:00:00.000Z",
      },
      {
        seq: 2,
        prevHash: records[0]!.hash,
        phase: "result",
        intentSeq: 1,
        action: "add_issue_comment",
        target: "acme/app#12",
        params: {},
        dedupeKey: "comment:acme/app#12:abc",
        result: { id: 99 },
        dryRun: false,
        ts: "2026-02-08T12:00:01.500Z",
      },
      { seq: 3, prevHash: records[1]!.hash, phase: "denied", error: "not allowed", dryRun: false },
      {
        seq: 4,
        prevHash: records[2]!.hash,
        phase: "dry_run",
        params: { why: "stale" },
        dryRun: true,
      },
    ]);
    expect(records[1]).not.toHaveProperty("error");
    expect(records[0]).not.toHaveProperty("hmac");
    expect(await trail.verifyChain()).toMatchObject({ valid: true, records: 4, lastSeq: 4 });
    expect(trail.lastSeq).toBe(4);
  });

  it("records a failure as name: message, and a string error as is", async () => {
    const trail = await openTrail();
    const first = await trail.recordIntent(comment());
    const second = await trail.recordIntent(comment());
    await trail.recordResult(first, undefined, new TypeError("bad input"));
    await trail.recordResult(second, { partial: true }, "timed out");
    const records = await readRecordsOf(trail.path);
    expect(records[2]).toMatchObject({ error: "TypeError: bad input" });
    expect(records[2]).not.toHaveProperty("result");
    expect(records[3]).toMatchObject({ error: "timed out", result: { partial: true } });
  });

  it("lists intents without a result as pending, as copies", async () => {
    const trail = await openTrail();
    const first = await trail.recordIntent(comment("one"));
    const second = await trail.recordIntent(comment("two"));
    await trail.recordResult(first, null);
    const pending = trail.getPendingIntents();
    expect(pending).toMatchObject([{ seq: second, phase: "intent", params: { body: "two" } }]);
    (pending[0]!.params as Record<string, unknown>).body = "changed";
    expect(trail.getPendingIntents()[0]!.params).toEqual({ body: "two" });
  });

  it("creates the directory and the file with owner-only modes", async () => {
    const path = join(dir, "nested", "deeper", "audit.jsonl");
    const trail = new AuditTrail({ path, redactor: keepEverything });
    open.push(trail);
    expect((await trail.initialize()).created).toBe(true);
    await trail.recordIntent(comment());
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "nested", "deeper"))).mode & 0o777).toBe(0o700);
  });

  it("returns the same report when initialize() is called again", async () => {
    const trail = await openTrail();
    expect(trail.initialize()).toBe(trail.initialize());
  });

  it("writes every record queued before close() and refuses records after it", async () => {
    const trail = await openTrail();
    const pending = [1, 2, 3, 4, 5].map((index) => trail.recordIntent(comment(`#${index}`)));
    const closing = trail.close();
    await expect(trail.recordIntent(comment())).rejects.toMatchObject({
      code: "AUDIT_NOT_READY",
      state: "closed",
    });
    expect(await Promise.all(pending)).toEqual([1, 2, 3, 4, 5]);
    await closing;
    await trail.close();
    expect(await readRecordsOf(trail.path)).toHaveLength(5);
    await expect(trail.initialize()).rejects.toBeInstanceOf(AuditNotReadyError);
  });
});

describe("durability and group commit", () => {
  it("resolves a durable record only after an fsync that follows its write", async () => {
    const fs = instrumentedFs({ syncDelayMs: 20 });
    const trail = await openTrail({ fs });
    fs.log.length = 0;
    const done = trail.recordIntent(comment()).then(() => fs.log.push("resolved"));
    await done;
    await trail.recordDenied({ ...comment(), reason: "no" }).then(() => fs.log.push("resolved"));
    expect(fs.log).toEqual([
      expect.stringMatching(/^write:/),
      "sync",
      "resolved",
      expect.stringMatching(/^write:/),
      "sync",
      "resolved",
    ]);
  });

  it("shares one write and one fsync among callers that arrive together, in call order", async () => {
    const fs = instrumentedFs();
    const trail = await openTrail({ fs });
    fs.log.length = 0;
    const seqs = await Promise.all(
      Array.from({ length: 50 }, (_, index) => trail.recordIntent(comment(`#${index}`))),
    );
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, index) => index + 1));
    expect(fs.log.filter((entry) => entry === "sync")).toHaveLength(1);
    expect(fs.log.filter((entry) => entry.startsWith("write:"))).toHaveLength(1);
    const records = await readRecordsOf(trail.path);
    expect(records.map((record) => record.seq)).toEqual(seqs);
    expect(records.map((record) => (record.params as { body: string }).body)).toEqual(
      seqs.map((seq) => `#${seq - 1}`),
    );
  });

  it("batches callers that arrive during an fsync into the next one", async () => {
    const fs = instrumentedFs({ syncDelayMs: 30 });
    const trail = await openTrail({ fs });
    fs.log.length = 0;
    const first = trail.recordIntent(comment("first"));
    await settle(5);
    const later = Array.from({ length: 20 }, () => trail.recordIntent(comment("later")));
    await Promise.all([first, ...later]);
    expect(fs.log.filter((entry) => entry === "sync")).toHaveLength(2);
    expect((await trail.verifyChain()).valid).toBe(true);
  });

  it("fsyncs dry-run records on a timer instead, cleared by the next durable fsync", async () => {
    const clock = new ManualClock();
    const fs = instrumentedFs();
    const trail = await openTrail({ fs, clock, dryRunFsyncDelayMs: 100 });
    fs.log.length = 0;
    await trail.recordDryRun(comment());
    await trail.recordDryRun(comment());
    expect(fs.log.filter((entry) => entry === "sync")).toHaveLength(0);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(99);
    await settle();
    expect(fs.log).not.toContain("sync");
    clock.advance(1);
    await vi.waitFor(() => expect(fs.log.filter((entry) => entry === "sync")).toHaveLength(1));

    await trail.recordDryRun(comment());
    expect(clock.pendingTimers).toBe(1);
    await trail.recordIntent(comment());
    expect(clock.pendingTimers).toBe(0);
    expect(fs.log.filter((entry) => entry === "sync")).toHaveLength(2);
  });

  it("does not fsync again on the timer when nothing is left unsynced", async () => {
    const clock = new ManualClock();
    const fs = instrumentedFs({ syncDelayMs: 10 });
    const trail = await openTrail({ fs, clock });
    fs.log.length = 0;
    const dry = trail.recordDryRun(comment());
    const durable = trail.recordIntent(comment());
    await Promise.all([dry, durable]);
    clock.advance(1_000);
    await settle(20);
    expect(fs.log.filter((entry) => entry === "sync")).toHaveLength(1);
  });

  it("flushes pending dry-run records in close()", async () => {
    const clock = new ManualClock();
    const fs = instrumentedFs();
    const trail = await openTrail({ fs, clock });
    fs.log.length = 0;
    await trail.recordDryRun(comment());
    await trail.close();
    expect(fs.log).toEqual([expect.stringMatching(/^write:/), "sync", "close"]);
    expect(clock.pendingTimers).toBe(0);
  });

  it("gives 100 concurrent writers a gap-free, verified chain", async () => {
    const trail = await openTrail();
    const seqs = await Promise.all(
      Array.from({ length: 100 }, async (_, index) => {
        const intent = await trail.recordIntent(comment(`writer ${index}`));
        await trail.recordResult(intent, { index });
        return intent;
      }),
    );
    expect(new Set(seqs).size).toBe(100);
    const records = await readRecordsOf(trail.path);
    expect(records.map((record) => record.seq)).toEqual(
      Array.from({ length: 200 }, (_, index) => index + 1),
    );
    expect(await trail.verifyChain()).toMatchObject({ valid: true, records: 200 });
    expect(trail.getPendingIntents()).toEqual([]);
  });
});

describe("write failures", () => {
  it("retries short writes and completes the line", async () => {
    const fs = instrumentedFs({
      write: (bytes, call) => (call <= 3 ? { bytesWritten: Math.ceil(bytes / 2) } : undefined),
    });
    const trail = await openTrail({ fs });
    expect(await trail.recordIntent(comment())).toBe(1);
    expect(fs.log.filter((entry) => entry.startsWith("write:"))).toHaveLength(4);
    expect(await trail.verifyChain()).toMatchObject({ valid: true, records: 1 });
  });

  it("gives up after 3 retries, cuts the partial line and keeps going without a gap", async () => {
    let stuck = true;
    const fs = instrumentedFs({ write: () => (stuck ? { bytesWritten: 7 } : undefined) });
    const trail = await openTrail({ fs });
    const error = await trail.recordIntent(comment()).catch((caught: unknown) => caught);
    expect(AuditWriteError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "AUDIT_WRITE", operation: "short-write" });
    expect(fs.log.filter((entry) => entry === "write:7")).toHaveLength(4);
    expect((await readFile(trail.path)).length).toBe(0);
    stuck = false;
    expect(await trail.recordIntent(comment())).toBe(1);
    expect(await trail.verifyChain()).toMatchObject({ valid: true, records: 1 });
  });

  it("rejects the whole batch on a write error, and the next batch reuses its seqs", async () => {
    let full = false;
    const fs = instrumentedFs({
      write: () => (full ? errno("ENOSPC", "no space left on device") : undefined),
    });
    const trail = await openTrail({ fs });
    await trail.recordIntent(comment());
    full = true;
    const results = await Promise.allSettled([
      trail.recordIntent(comment()),
      trail.recordDryRun(comment()),
    ]);
    expect(results.map((result) => result.status)).toEqual(["rejected", "rejected"]);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({
      code: "AUDIT_WRITE",
      operation: "write",
      cause: { code: "ENOSPC" },
    });
    full = false;
    expect(await trail.recordIntent(comment())).toBe(2);
    expect(await trail.verifyChain()).toMatchObject({ valid: true, records: 2 });
  });

  it("stops taking records when a failed write cannot be undone", async () => {
    const logger = recordingLogger();
    const fs = instrumentedFs({ write: () => ({ bytesWritten: 3 }), truncate: () => errno("EIO") });
    const trail = await openTrail({ fs, logger });
    await expect(trail.recordIntent(comment())).rejects.toMatchObject({
      code: "FAIL_STOPPED",
      cause: { operation: "truncate" },
    });
    await expect(trail.recordIntent(comment())).rejects.toMatchObject({
      code: "FAIL_STOPPED",
      cause: { operation: "truncate" },
    });
    expect(logger.entries.some((entry) => entry.level === "error")).toBe(true);
  });

  it("stops after a failed fsync, rejecting that batch and everything after it", async () => {
    let broken = false;
    const fs = instrumentedFs({
      sync: () => (broken ? errno("EIO", "i/o error") : undefined),
      syncDelayMs: 20,
    });
    const trail = await openTrail({ fs });
    await trail.recordIntent(comment());
    broken = true;
    const first = trail.recordIntent(comment()).catch((error: unknown) => error);
    await settle(5);
    const queued = trail.recordIntent(comment()).catch((error: unknown) => error);
    expect(await first).toMatchObject({
      code: "FAIL_STOPPED",
      cause: { code: "AUDIT_WRITE", operation: "fsync" },
    });
    expect(await queued).toMatchObject({ code: "FAIL_STOPPED" });
    await expect(trail.recordDenied(comment())).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await trail.close();

    // A new trail recovers the record whose promise resolved: the line whose
    // fsync failed was cut (the disk may never get it, though the page cache shows it).
    const reopened = new AuditTrail({ path: trail.path, redactor: keepEverything });
    open.push(reopened);
    expect(await reopened.initialize()).toMatchObject({ records: 1, recordsLost: 0 });
  });

  it("stops when the dry-run fsync fails", async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    const fs = instrumentedFs({ sync: () => errno("EIO") });
    const trail = await openTrail({ fs, clock, logger });
    await trail.recordDryRun(comment());
    clock.advance(100);
    await vi.waitFor(() =>
      expect(logger.entries.some((entry) => entry.level === "error")).toBe(true),
    );
    await expect(trail.recordDryRun(comment())).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    expect(logger.entries.find((entry) => entry.level === "error")?.data?.error).toMatchObject({
      operation: "fsync",
    });
  });

  it("reports a failing final fsync or close from close(), closing anyway", async () => {
    const clock = new ManualClock();
    let failSync = false;
    const fs = instrumentedFs({ sync: () => (failSync ? errno("EIO") : undefined) });
    const trail = await openTrail({ fs, clock });
    await trail.recordDryRun(comment());
    failSync = true;
    await expect(trail.close()).rejects.toMatchObject({
      code: "FAIL_STOPPED",
      cause: { code: "AUDIT_WRITE", operation: "fsync" },
    });
    expect(fs.log[fs.log.length - 1]).toBe("close");
    await expect(trail.recordIntent(comment())).rejects.toMatchObject({ state: "closed" });
  });
});

describe("caller mistakes", () => {
  it.each([
    [{ path: "" }, TypeError, /path/],
    [{ path: "/tmp/a.jsonl", maxSizeBytes: 0 }, RangeError, /maxSizeBytes/],
    [{ path: "/tmp/a.jsonl", maxSizeBytes: 1.5 }, RangeError, /maxSizeBytes/],
    [{ path: "/tmp/a.jsonl", maxSizeBytes: Number.NaN }, RangeError, /maxSizeBytes/],
    [{ path: "/tmp/a.jsonl", dryRunFsyncDelayMs: -1 }, RangeError, /dryRunFsyncDelayMs/],
    [
      { path: "/tmp/a.jsonl", dryRunFsyncDelayMs: Number.POSITIVE_INFINITY },
      RangeError,
      /dryRunFsyncDelayMs/,
    ],
    [{ path: "/tmp/a.jsonl", hmacKey: "" }, RangeError, /hmacKey/],
    [{ path: "/tmp/a.jsonl", hmacKey: 42 }, TypeError, /hmacKey/],
    [{ path: "/tmp/a.jsonl", redactor: {} }, TypeError, /redactor/],
  ])("rejects bad options at construction: %j", (options, type, message) => {
    expect(() => new AuditTrail(options as unknown as AuditTrailOptions)).toThrow(type);
    expect(() => new AuditTrail(options as unknown as AuditTrailOptions)).toThrow(message);
  });

  it("rejects a missing options object", () => {
    expect(() => new AuditTrail(undefined as unknown as AuditTrailOptions)).toThrow(TypeError);
  });

  it("accepts Infinity to turn rotation off", () => {
    expect(
      () => new AuditTrail({ path: "/tmp/a.jsonl", maxSizeBytes: Number.POSITIVE_INFINITY }),
    ).not.toThrow();
  });

  it("refuses records and queries before initialize()", async () => {
    const trail = new AuditTrail({ path: join(dir, "audit.jsonl") });
    await expect(trail.recordIntent(comment())).rejects.toMatchObject({
      code: "AUDIT_NOT_READY",
      state: "uninitialized",
    });
    expect(() => trail.getPendingIntents()).toThrow(AuditNotReadyError);
    await expect(trail.findResultByIntentSeq(1)).rejects.toBeInstanceOf(AuditNotReadyError);
    await expect(trail.verifyChain()).rejects.toBeInstanceOf(AuditNotReadyError);
    await trail.close();
  });

  it.each([
    ["entry", null],
    ["action", { action: "", target: "t", params: {} }],
    ["action", { action: 3, target: "t", params: {} }],
    ["target", { action: "a", target: 3, params: {} }],
    ["params", { action: "a", target: "t", params: null }],
    ["params", { action: "a", target: "t", params: [1] }],
    ["params", { action: "a", target: "t", params: { big: 1n } }],
    ["dedupeKey", { action: "a", target: "t", params: {}, dedupeKey: 5 }],
  ])("rejects an entry with a bad %s and writes nothing", async (field, entry) => {
    const trail = await openTrail();
    const error = await trail.recordIntent(entry as never).catch((caught: unknown) => caught);
    expect(AuditInvalidEntryError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "AUDIT_INVALID_ENTRY", field });
    expect((await readFile(trail.path)).length).toBe(0);
  });

  it("rejects a cyclic result and a redactor that throws or returns a non-object", async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    let mode: "throw" | "string" | "keep" = "keep";
    const redactor = {
      redactAny: (value: unknown) => {
        if (mode === "throw") throw new Error("redactor bug");
        if (mode === "string") return "[REDACTED]";
        return value;
      },
    };
    const trail = await openTrail({ redactor });
    const intent = await trail.recordIntent(comment());
    await expect(trail.recordResult(intent, cyclic)).rejects.toMatchObject({
      code: "AUDIT_INVALID_ENTRY",
      field: "result",
    });
    mode = "throw";
    await expect(trail.recordIntent(comment())).rejects.toMatchObject({
      field: "params",
      cause: { message: "redactor bug" },
    });
    mode = "string";
    await expect(trail.recordIntent(comment())).rejects.toMatchObject({ field: "params" });
    mode = "keep";
    // The failed result did not close the intent: it can still be recorded.
    expect(await trail.recordResult(intent, { ok: true })).toBe(2);
  });

  it("refuses a result for an unknown, non-intent or already resolved seq", async () => {
    const trail = await openTrail();
    const intent = await trail.recordIntent(comment());
    const denied = await trail.recordDenied(comment());
    await expect(trail.recordResult(42, null)).rejects.toMatchObject({
      code: "AUDIT_UNKNOWN_INTENT",
      reason: "not_open",
      intentSeq: 42,
    });
    await expect(trail.recordResult(denied, null)).rejects.toMatchObject({ reason: "not_open" });
    const first = trail.recordResult(intent, null);
    const error = await trail.recordResult(intent, null).catch((caught: unknown) => caught);
    expect(AuditUnknownIntentError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ reason: "already_resolved" });
    await first;
    await expect(trail.recordResult(intent, null)).rejects.toMatchObject({
      reason: "already_resolved",
    });
  });

  it("lets a result be recorded again after its write failed", async () => {
    let fail = false;
    const fs = instrumentedFs({ write: () => (fail ? errno("EIO") : undefined) });
    const trail = await openTrail({ fs });
    const intent = await trail.recordIntent(comment());
    fail = true;
    await expect(trail.recordResult(intent, null)).rejects.toMatchObject({ code: "AUDIT_WRITE" });
    fail = false;
    expect(await trail.recordResult(intent, null)).toBe(2);
  });
});

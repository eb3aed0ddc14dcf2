import { ManualClock } from "@beauvoir/core";
import { describe, expect, it, vi } from "vitest";
import { useAuditDirectory } from "./__fixtures__/audit-directory.js";
import {
  errno,
  instrumentedFs,
  keepEverything,
  recordingLogger,
  settle,
} from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";
import type { AuditTrailOptions } from "./options.js";

let path: string;
const trails = useAuditDirectory((made) => {
  ({ path } = made);
});

async function openTrail(options: Partial<AuditTrailOptions> = {}): Promise<AuditTrail> {
  const trail = new AuditTrail({ path, redactor: keepEverything, ...options });
  trails.track(trail);
  await trail.initialize();
  return trail;
}

const entry = (index: number) => ({
  action: "add_labels",
  target: `acme/app#${index}`,
  params: { index },
});

describe("fsync failures fail stop", () => {
  it("rejects every promise that shared the failed fsync, and every later call, even once fsync works again", async () => {
    let failNext = false;
    const fs = instrumentedFs({
      sync: () => {
        if (!failNext) return undefined;
        failNext = false;
        return errno("EIO", "i/o error");
      },
    });
    const trail = await openTrail({ fs });
    await trail.recordIntent(entry(0));
    failNext = true;
    const batch = await Promise.allSettled(
      Array.from({ length: 20 }, (_, index) => trail.recordIntent(entry(index + 1))),
    );
    expect(batch.every((outcome) => outcome.status === "rejected")).toBe(true);
    for (const outcome of batch) {
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({
        code: "FAIL_STOPPED",
        path,
        cause: expect.objectContaining({ code: "AUDIT_WRITE", operation: "fsync" }),
      });
    }
    // fsync would succeed now, but the trail does not retry it into a success.
    const syncsBefore = fs.log.filter((line) => line === "sync").length;
    await expect(trail.recordIntent(entry(99))).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await expect(trail.recordDryRun(entry(99))).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    expect(fs.log.filter((line) => line === "sync")).toHaveLength(syncsBefore);
    await trail.close();

    // Reopening re-reads the file from disk.
    const reopened = await openTrail();
    const report = await reopened.initialize();
    expect(report.lastSeq).toBeGreaterThanOrEqual(1);
    expect(await reopened.verifyChain()).toMatchObject({ valid: true });
  });

  it("reopens on initialize() after a fail stop, reading the file from disk again", async () => {
    let failNext = false;
    const fs = instrumentedFs({
      sync: () => {
        if (!failNext) return undefined;
        failNext = false;
        return errno("EIO");
      },
    });
    const trail = await openTrail({ fs });
    const kept = await trail.recordIntent(entry(1));
    failNext = true;
    await expect(trail.recordResult(kept, { ok: true })).rejects.toMatchObject({
      code: "FAIL_STOPPED",
    });
    await expect(trail.recordIntent(entry(2))).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    fs.log.length = 0;
    const report = await trail.initialize();
    expect(fs.log).toContain(`open:${path}`);
    // The result whose fsync failed reached the page cache, but maybe never the
    // disk: it was cut when the fsync failed, and the intent is open again.
    expect(report).toMatchObject({ lastSeq: 1, pendingIntents: 1 });
    expect(await trail.recordIntent(entry(3))).toBe(2);
    expect(await trail.verifyChain()).toMatchObject({ valid: true, records: 2 });
    expect(trail.initialize()).toBe(trail.initialize());
  });

  it("cuts the records whose fsync failed; while that cut fails, a reopen is refused and the trail stays stopped", async () => {
    let failSync = false;
    let failTruncate = false;
    const logger = recordingLogger();
    const fs = instrumentedFs({
      sync: () => (failSync ? errno("EIO") : undefined),
      truncate: () => (failTruncate ? errno("EIO") : undefined),
    });
    const trail = await openTrail({ fs, logger });
    await trail.recordIntent(entry(1));
    failSync = true;
    failTruncate = true;
    await expect(trail.recordIntent(entry(2))).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    expect(logger.entries.map((line) => line.message)).toContain(
      "Audit trail could not cut the records whose fsync failed; it stays stopped",
    );
    await expect(trail.initialize()).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await expect(trail.recordIntent(entry(3))).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    failTruncate = false;
    await expect(trail.initialize()).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    failSync = false;
    expect(await trail.initialize()).toMatchObject({ lastSeq: 1, pendingIntents: 1 });
    expect(await trail.recordIntent(entry(4))).toBe(2);
  });

  it("tries the cut again when a stopped trail is closed, for the next trail to read", async () => {
    let failTruncate = false;
    let failSync = false;
    const fs = instrumentedFs({
      sync: () => (failSync ? errno("EIO") : undefined),
      truncate: () => (failTruncate ? errno("EIO") : undefined),
    });
    const trail = await openTrail({ fs });
    await trail.recordIntent(entry(1));
    failSync = true;
    failTruncate = true;
    await expect(trail.recordIntent(entry(2))).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    failSync = false;
    failTruncate = false;
    await trail.close();
    const next = await openTrail();
    expect(next.lastSeq).toBe(1);
  });

  it("stops when the timer's fsync of dry-run records fails", async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    const trail = await openTrail({
      fs: instrumentedFs({ sync: () => errno("EIO") }),
      clock,
      logger,
    });
    await trail.recordDryRun(entry(1));
    clock.advance(100);
    await vi.waitFor(() =>
      expect(logger.entries.some((line) => line.level === "error")).toBe(true),
    );
    await expect(trail.recordIntent(entry(2))).rejects.toMatchObject({
      code: "FAIL_STOPPED",
      path,
    });
  });

  it("stops when a failed write cannot be undone", async () => {
    const fs = instrumentedFs({ write: () => ({ bytesWritten: 3 }), truncate: () => errno("EIO") });
    const trail = await openTrail({ fs });
    await expect(trail.recordIntent(entry(1))).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await expect(trail.recordIntent(entry(2))).rejects.toMatchObject({ code: "FAIL_STOPPED" });
  });

  it("stops when the fsync before a rotation fails", async () => {
    let broken = false;
    const clock = new ManualClock();
    const fs = instrumentedFs({ sync: () => (broken ? errno("EIO") : undefined) });
    const trail = await openTrail({ fs, clock, maxSizeBytes: 200 });
    await trail.recordDryRun({ ...entry(1), params: { padding: "x".repeat(300) } });
    broken = true;
    await expect(trail.recordIntent(entry(2))).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await settle();
    await expect(trail.recordIntent(entry(3))).rejects.toMatchObject({ code: "FAIL_STOPPED" });
  });

  it("stops when the directory fsync after a rotation's rename fails, and a reopened trail continues the history", async () => {
    let broken = false;
    const fs = instrumentedFs({ fsyncDirectory: () => (broken ? errno("EIO") : undefined) });
    const trail = await openTrail({ fs, maxSizeBytes: 200 });
    const first = await trail.recordDenied({ ...entry(1), params: { padding: "x".repeat(300) } });
    broken = true;
    await expect(trail.recordIntent(entry(2))).rejects.toMatchObject({
      code: "FAIL_STOPPED",
      cause: { code: "AUDIT_WRITE", operation: "fsync" },
    });
    await trail.close();
    const reopened = await openTrail({ maxSizeBytes: 200 });
    expect(reopened.lastSeq).toBe(first);
    expect(await reopened.recordIntent(entry(3))).toBe(first + 1);
    expect(await reopened.verifyChain()).toMatchObject({ valid: true });
  });

  it("rejects close() with FAIL_STOPPED when the final fsync fails, and releases the file", async () => {
    const clock = new ManualClock();
    let broken = false;
    const trail = await openTrail({
      fs: instrumentedFs({ sync: () => (broken ? errno("EIO") : undefined) }),
      clock,
    });
    await trail.recordDryRun(entry(1));
    broken = true;
    await expect(trail.close()).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await expect(openTrail()).resolves.toBeInstanceOf(AuditTrail);
  });
});

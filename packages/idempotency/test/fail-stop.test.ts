import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFaultyFileSystem, FailStoppedError } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { IdempotencyIndex } from "../src/idempotency-index.js";

/**
 * After a failed fsync the kernel may have dropped the dirty pages while the
 * file still reads back as written: the index never retries an fsync into a
 * success. It stops accepting writes until a new instance re-reads the disk.
 */

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "idem-failstop-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function syncFailingOnce() {
  let armed = false;
  let failed = false;
  const fs = createFaultyFileSystem({
    inject: (call) => {
      if (armed && !failed && call.operation === "sync" && call.path.includes("journal.")) {
        failed = true;
        return { error: "EIO" };
      }
      return undefined;
    },
  });
  return {
    fs,
    arm() {
      armed = true;
    },
    syncsAfter(index: number) {
      return fs.calls.filter((call) => call.index > index && call.operation === "sync").length;
    },
  };
}

describe("fsync failures fail stop", () => {
  it("rejects the transition, every later write, and never fsyncs that journal again", async () => {
    const faults = syncFailingOnce();
    const index = new IdempotencyIndex({ dir, fs: faults.fs });
    await index.initialize();
    await index.markPending("before", 1);
    faults.arm();
    const error = await index.markPending("victim", 2).catch((caught: unknown) => caught);
    expect(FailStoppedError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "FAIL_STOPPED" });
    expect((error as FailStoppedError).path).toContain("journal.");
    const mark = faults.fs.calls.length;
    // Later writes are refused without touching the disk; the failure is not retried into a success.
    await expect(index.markPending("later", 3)).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await expect(index.markCompleted("before")).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await expect(index.evict()).resolves.toBe(0);
    expect(faults.syncsAfter(mark)).toBe(0);
    // Reads still answer from what is known to be durable.
    expect(await index.check("before")).toMatchObject({ status: "pending" });
    expect(await index.check("victim")).toBeNull();
    await index.close();

    // A new instance re-reads the disk and works; "victim" may or may not have landed.
    const fresh = new IdempotencyIndex({ dir });
    await fresh.initialize();
    expect(await fresh.check("before")).toMatchObject({ status: "pending" });
    await fresh.markCompleted("before");
    await fresh.close();
  });

  it("a failed write (ENOSPC) is rolled back, not fail-stopped, when the cut-back is durable", async () => {
    let failWrite = false;
    const fs = createFaultyFileSystem({
      inject: (call) => {
        if (failWrite && call.operation === "write" && call.path.includes("journal.")) {
          failWrite = false;
          return { error: "ENOSPC" };
        }
        return undefined;
      },
    });
    const index = new IdempotencyIndex({ dir, fs });
    await index.initialize();
    await index.markPending("a", 1);
    failWrite = true;
    await expect(index.markPending("b", 2)).rejects.toMatchObject({
      code: "JOURNAL_WRITE_FAILED",
    });
    expect(await index.check("b")).toBeNull();
    await index.markPending("b", 3);
    await index.markCompleted("a");
    await index.close();
    const fresh = new IdempotencyIndex({ dir });
    await fresh.initialize();
    expect(await fresh.check("a")).toMatchObject({ status: "completed" });
    expect(await fresh.check("b")).toMatchObject({ status: "pending", intentSeq: 3 });
    await fresh.close();
  });
});

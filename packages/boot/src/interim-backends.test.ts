// Boot's stand-ins for the index and audit-trail methods the executor's ports
// need and the versions on main do not have yet.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryAuditTrail } from "../test/fakes.js";
import { BootIdempotencyIndex } from "./interim-backends.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-interim-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("BootIdempotencyIndex", () => {
  it("releases a pending key in memory, and a restart does not fail it when its intent left it runnable", async () => {
    const dir = join(root, "index");
    const audit = new MemoryAuditTrail();
    const first = new BootIdempotencyIndex({ dir, auditQuery: audit, ttlMs: 1_000 });
    await first.initialize();
    expect(first.ttlMs).toBe(1_000);
    const seq = await audit.recordIntent({
      action: "add_labels",
      target: "t",
      params: {},
      dedupeKey: "k",
    });
    await first.markPending("k", seq, "add_labels");
    expect((await first.reset("k"))?.status).toBe("pending");
    expect(await first.check("k")).toBeNull();
    await audit.recordResult(seq, undefined, "RETRYING: attempt 1 of 3 not sent: ECONNREFUSED");
    const retried = await audit.recordIntent({
      action: "add_labels",
      target: "t",
      params: {},
      dedupeKey: "k",
    });
    expect((await first.markPending("k", retried, { action: "add_labels" })).claimed).toBe(true);
    await first.reset("k");
    await audit.recordResult(retried, undefined, "NOT_SENT: attempt 2 of 2 not sent: ECONNREFUSED");
    await first.close();

    const second = new BootIdempotencyIndex({ dir, auditQuery: audit });
    await second.initialize();
    const pending = await second.reconcilePending();
    expect(pending.map((entry) => entry.key)).toEqual(["k"]);
    await second.settle("k", { status: "completed", result: { ok: true } });
    expect((await second.check("k"))?.status).toBe("completed");
    await expect(second.reset("k")).rejects.toThrow(/cannot reset a completed key/);
    await expect(second.settle("k", { status: "failed", error: "x" })).rejects.toThrow(
      /cannot settle/,
    );
    expect(await second.reset("unknown")).toBeNull();
    await second.settle("fresh", {
      status: "failed",
      error: "REJECTED: no",
      action: "x",
      strategy: "skip",
    });
    expect((await second.check("fresh"))?.status).toBe("failed");
    await second.close();
  });

  it("leaves a terminal audit result to the index, as before", async () => {
    const dir = join(root, "terminal");
    const audit = new MemoryAuditTrail();
    const index = new BootIdempotencyIndex({
      dir,
      auditQuery: (seq) => audit.findResultByIntentSeq(seq),
    });
    await index.initialize();
    const seq = await audit.recordIntent({ action: "a", target: "t", params: {} });
    await index.markPending("t", seq, "a");
    await audit.recordResult(seq, undefined, "REJECTED: attempt 1 of 3 rejected: HTTP 422");
    await index.close();
    const again = new BootIdempotencyIndex({
      dir,
      auditQuery: (seq) => audit.findResultByIntentSeq(seq),
    });
    await again.initialize();
    expect(await again.reconcilePending()).toEqual([]);
    expect((await again.check("t"))?.status).toBe("failed");
    await again.close();
  });
});

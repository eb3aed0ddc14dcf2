import { appendFile, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FaultHook, faultyFileSystem } from "./__fixtures__/faulty-file-system.js";
import { MemoryLocks, MemorySnapshotStore } from "./__fixtures__/memory-dependencies.js";
import { DEFAULT_COMPENSATION } from "./compensation.js";
import {
  DuplicateExecutionError,
  IndexCorruptError,
  IndexNotOpenError,
  InvalidTransitionError,
  JournalWriteError,
  PendingWaitTimeoutError,
} from "./errors.js";
import { IdempotencyIndex } from "./idempotency-index.js";
import type { IdempotencyIndexOptions } from "./options.js";

const DAY = 24 * 60 * 60 * 1000;

let dir: string;
let store: MemorySnapshotStore;
let locks: MemoryLocks;
let clock: ManualClock;
const opened: IdempotencyIndex[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "idem-index-"));
  store = new MemorySnapshotStore();
  locks = new MemoryLocks();
  clock = new ManualClock(1_000_000);
});

afterEach(async () => {
  for (const index of opened.splice(0)) await index.close();
  await rm(dir, { recursive: true, force: true });
});

async function open(options: Partial<IdempotencyIndexOptions> = {}): Promise<IdempotencyIndex> {
  const index = new IdempotencyIndex({ dir, store, locks, clock, ...options });
  opened.push(index);
  await index.initialize();
  return index;
}

/** Closes `index` and opens a fresh one on the same directory: what a restart sees. */
async function reopen(index: IdempotencyIndex, options: Partial<IdempotencyIndexOptions> = {}) {
  await index.close();
  return open(options);
}

const key = (name: string, action = "add_issue_comment") =>
  IdempotencyIndex.generateKey(action, "acme/widgets", name, {});

describe("IdempotencyIndex: transitions", () => {
  it("marks pending, then completed, durably, with the entry's fields", async () => {
    const index = await open();
    const k = key("issue-1");
    expect(await index.check(k)).toBeNull();
    const claim = await index.markPending(k, 7);
    expect(claim).toEqual({
      claimed: true,
      entry: {
        key: k,
        status: "pending",
        intentSeq: 7,
        strategy: "check_then_retry",
        action: "add_issue_comment",
        createdAt: 1_000_000,
        updatedAt: 1_000_000,
      },
    });
    clock.advance(5);
    await index.markCompleted(k, { commentId: 3 });
    expect(await index.check(k)).toMatchObject({
      status: "completed",
      result: { commentId: 3 },
      updatedAt: 1_000_005,
    });
    const fresh = await reopen(index);
    expect(await fresh.check(k)).toEqual({
      key: k,
      status: "completed",
      intentSeq: 7,
      strategy: "check_then_retry",
      action: "add_issue_comment",
      createdAt: 1_000_000,
      updatedAt: 1_000_005,
      result: { commentId: 3 },
    });
  });

  it("keeps a pending entry across a restart", async () => {
    const index = await open();
    await index.markPending(key("a"), 1);
    const fresh = await reopen(index);
    expect(await fresh.check(key("a"))).toMatchObject({ status: "pending", intentSeq: 1 });
  });

  it("takes the strategy from the argument, an action name, or the table", async () => {
    const index = await open({ compensation: { deploy: "safe_retry" } });
    expect((await index.markPending(key("1"), 1, "skip")).entry.strategy).toBe("skip");
    const byAction = await index.markPending(key("2"), 2, "deploy");
    expect(byAction.entry).toMatchObject({ action: "deploy", strategy: "safe_retry" });
    const byOptions = await index.markPending(key("3"), 3, { action: "create_branch" });
    expect(byOptions.entry).toMatchObject({ action: "create_branch", strategy: "safe_retry" });
    const fromKey = await index.markPending(key("4", "create_review"), 4);
    expect(fromKey.entry).toMatchObject({ action: "create_review", strategy: "check_then_retry" });
    await expect(index.markPending(key("5"), 5, { strategy: "never" as "skip" })).rejects.toThrow(
      TypeError,
    );
  });

  it("stores an Error's message and keeps failed terminal", async () => {
    const index = await open();
    const k = key("x");
    await index.markPending(k, 1);
    await index.markFailed(k, new Error("422 Validation Failed"));
    expect(await index.check(k)).toMatchObject({
      status: "failed",
      error: "422 Validation Failed",
    });
    expect(await index.markPending(k, 2)).toMatchObject({ claimed: false, reason: "failed" });
    expect(await index.markPending(k, 2, { takeover: true })).toMatchObject({
      claimed: false,
      reason: "failed",
    });
    await expect(index.markCompleted(k)).rejects.toBeInstanceOf(InvalidTransitionError);
    await expect(index.markFailed(k, "again")).rejects.toMatchObject({
      code: "INVALID_TRANSITION",
      from: "failed",
    });
    const fresh = await reopen(index);
    expect(await fresh.check(k)).toMatchObject({
      status: "failed",
      error: "422 Validation Failed",
      intentSeq: 1,
    });
  });

  it("never claims a completed key again", async () => {
    const index = await open({ onPendingConflict: "fail" });
    const k = key("y");
    await index.markPending(k, 1);
    await index.markCompleted(k);
    expect(await index.check(k)).not.toHaveProperty("result");
    expect(await index.markPending(k, 2)).toMatchObject({
      claimed: false,
      reason: "completed",
      entry: { intentSeq: 1 },
    });
  });

  it("refuses to settle an unknown or settled key", async () => {
    const index = await open();
    const error = await index.markCompleted("nope").catch((caught: unknown) => caught);
    expect(InvalidTransitionError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ key: "nope", from: null, to: "completed" });
    expect((error as Error).message).toMatch(/not in the index/);
  });

  it("validates its arguments", async () => {
    const index = await open();
    await expect(index.markPending("", 1)).rejects.toThrow(TypeError);
    await expect(index.markPending("k", -1)).rejects.toThrow(/intentSeq/);
    await expect(index.markPending("k", 1.5)).rejects.toThrow(/intentSeq/);
    await expect(index.markPending("k", 1, { strategy: "never" as "skip" })).rejects.toThrow(
      /strategy/,
    );
    expect(await index.check("k")).toBeNull();
  });

  it("stores a copy of the result, as JSON", async () => {
    const index = await open();
    const result = { at: new Date(0), nested: { n: 1 } };
    await index.markPending("k", 1);
    await index.markCompleted("k", result);
    result.nested.n = 2;
    expect((await index.check("k"))?.result).toEqual({
      at: "1970-01-01T00:00:00.000Z",
      nested: { n: 1 },
    });
  });
});

describe("IdempotencyIndex: pending conflicts", () => {
  it("skip (the default) returns the conflict without waiting", async () => {
    const index = await open();
    const k = key("c");
    await index.markPending(k, 1);
    const second = await index.markPending(k, 2);
    expect(second).toMatchObject({ claimed: false, reason: "pending", entry: { intentSeq: 1 } });
    expect(await index.check(k)).toMatchObject({ intentSeq: 1 });
  });

  it("lets exactly one of many concurrent callers claim a key", async () => {
    const index = await open();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, seq) => index.markPending("same", seq + 1)),
    );
    expect(results.filter((result) => result.claimed)).toHaveLength(1);
    expect(results[0]).toMatchObject({ claimed: true, entry: { intentSeq: 1 } });
  });

  it("fail throws DuplicateExecutionError with the entry", async () => {
    const index = await open({ onPendingConflict: "fail" });
    const k = key("d");
    await index.markPending(k, 1);
    const error = await index.markPending(k, 2).catch((caught: unknown) => caught);
    expect(DuplicateExecutionError.isInstance(error)).toBe(true);
    expect(error).toBeInstanceOf(DuplicateExecutionError);
    expect(error).toMatchObject({
      code: "DUPLICATE_EXECUTION",
      key: k,
      entry: { status: "pending", intentSeq: 1 },
    });
  });

  it("wait resolves with the outcome once the key settles", async () => {
    const index = await open({ onPendingConflict: "wait" });
    await index.markPending("w1", 1);
    await index.markPending("w2", 1);
    const waitingOnCompleted = index.markPending("w1", 2);
    const waitingOnFailed = index.markPending("w2", 2);
    await index.markCompleted("w1", "done");
    await index.markFailed("w2", "boom");
    expect(await waitingOnCompleted).toMatchObject({
      claimed: false,
      reason: "completed",
      entry: { result: "done" },
    });
    expect(await waitingOnFailed).toMatchObject({
      claimed: false,
      reason: "failed",
      entry: { error: "boom" },
    });
  });

  it("wait times out with PendingWaitTimeoutError after waitTimeoutMs", async () => {
    const index = await open({ onPendingConflict: "wait", waitTimeoutMs: 1000 });
    await index.markPending("w", 1);
    const waiting = index.markPending("w", 2).catch((caught: unknown) => caught);
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(clock.pendingTimers).toBe(1);
    clock.advance(1);
    const error = await waiting;
    expect(PendingWaitTimeoutError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "PENDING_WAIT_TIMEOUT", key: "w", waitedMs: 1000 });
    expect(clock.pendingTimers).toBe(0);
  });

  it("wait with a zero timeout fails at once", async () => {
    const index = await open({ onPendingConflict: "wait", waitTimeoutMs: 0 });
    await index.markPending("w", 1);
    await expect(index.markPending("w", 2)).rejects.toBeInstanceOf(PendingWaitTimeoutError);
  });

  it("wait can be aborted, before or during the wait", async () => {
    const index = await open({ onPendingConflict: "wait" });
    await index.markPending("w", 1);
    const controller = new AbortController();
    const waiting = index.markPending("w", 2, { signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new Error("shutting down"));
    await expect(waiting).rejects.toThrow("shutting down");
    expect(clock.pendingTimers).toBe(0);
    await expect(
      index.markPending("w", 3, { signal: AbortSignal.abort(new Error("early")) }),
    ).rejects.toThrow("early");
  });

  it("close wakes a waiter, which then fails with INDEX_NOT_OPEN", async () => {
    const index = await open({ onPendingConflict: "wait" });
    await index.markPending("w", 1);
    const waiting = index.markPending("w", 2).catch((caught: unknown) => caught);
    await new Promise((resolve) => setImmediate(resolve));
    await index.close();
    expect(await waiting).toMatchObject({ code: "INDEX_NOT_OPEN", reason: "closed" });
    expect(clock.pendingTimers).toBe(0);
  });

  it("takeover re-claims a key pending in this process", async () => {
    const index = await open({ onPendingConflict: "fail" });
    await index.markPending("t", 1);
    const claim = await index.markPending("t", 2, { takeover: true });
    expect(claim).toMatchObject({ claimed: true, entry: { intentSeq: 2, createdAt: 1_000_000 } });
    await index.markCompleted("t");
    const fresh = await reopen(index);
    expect(await fresh.check("t")).toMatchObject({ status: "completed", intentSeq: 2 });
  });

  it("a dead owner's pending key is contested until reconcilePending hands it out", async () => {
    const first = await open({ onPendingConflict: "fail" });
    await first.markPending(key("p", "create_branch"), 1);
    const index = await reopen(first, { onPendingConflict: "fail" });
    await expect(index.markPending(key("p", "create_branch"), 2)).rejects.toBeInstanceOf(
      DuplicateExecutionError,
    );
    const needing = await index.reconcilePending();
    expect(needing.map((entry) => entry.key)).toEqual([key("p", "create_branch")]);
    const claim = await index.markPending(key("p", "create_branch"), 2);
    expect(claim).toMatchObject({ claimed: true, entry: { intentSeq: 2 } });
    // Claimed again in this process: contested once more.
    await expect(index.markPending(key("p", "create_branch"), 3)).rejects.toBeInstanceOf(
      DuplicateExecutionError,
    );
  });

  it("a waiter on a dead owner's key is woken by reconcilePending and then claims it", async () => {
    const first = await open();
    await first.markPending("orphan", 1);
    const index = await reopen(first, { onPendingConflict: "wait" });
    const waiting = index.markPending("orphan", 2);
    await new Promise((resolve) => setImmediate(resolve));
    await index.reconcilePending();
    expect(await waiting).toMatchObject({ claimed: true, entry: { intentSeq: 2 } });
  });
});

describe("IdempotencyIndex: reconcilePending", () => {
  async function crashWithPending(
    keys: Array<[string, number]>,
    settle?: (index: IdempotencyIndex) => Promise<void>,
  ) {
    const index = await open();
    for (const [name, seq] of keys) await index.markPending(name, seq);
    await settle?.(index);
    await index.close();
  }

  it("without an audit query returns every orphaned pending entry, never failed or completed ones", async () => {
    await crashWithPending(
      [
        ["a", 1],
        ["b", 2],
        ["c", 3],
        ["d", 4],
      ],
      async (index) => {
        await index.markFailed("c", "no");
        await index.markCompleted("d");
      },
    );
    const index = await open();
    const needing = await index.reconcilePending();
    expect(needing.map((entry) => [entry.key, entry.status, entry.intentSeq]).sort()).toEqual([
      ["a", "pending", 1],
      ["b", "pending", 2],
    ]);
    expect(await index.check("a")).toMatchObject({ status: "pending" });
  });

  it("promotes from the audit trail: result → completed, error → failed, nothing → compensation", async () => {
    await crashWithPending([
      ["done", 1],
      ["broke", 2],
      ["unknown", 3],
      ["explicit-none", 4],
    ]);
    const asked: number[] = [];
    const auditQuery = {
      async findResultByIntentSeq(seq: number) {
        asked.push(seq);
        if (seq === 1) return { hasResult: true as const, result: { id: 9 } };
        if (seq === 2) return { hasResult: true as const, error: "HTTP 500" };
        if (seq === 4) return { hasResult: false };
        return null;
      },
    };
    const index = await open({ auditQuery });
    const needing = await index.reconcilePending();
    expect(asked.sort()).toEqual([1, 2, 3, 4]);
    expect(needing.map((entry) => entry.key).sort()).toEqual(["explicit-none", "unknown"]);
    expect(await index.check("done")).toMatchObject({ status: "completed", result: { id: 9 } });
    expect(await index.check("broke")).toMatchObject({ status: "failed", error: "HTTP 500" });
    const fresh = await reopen(index, { auditQuery });
    expect(await fresh.check("done")).toMatchObject({ status: "completed" });
    expect((await fresh.reconcilePending()).map((entry) => entry.key).sort()).toEqual([
      "explicit-none",
      "unknown",
    ]);
  });

  it("accepts a plain function returning synchronously, as the audit trail's lookup does", async () => {
    await crashWithPending([
      ["x", 5],
      ["y", 6],
    ]);
    const index = await open({
      auditQuery: (seq: number) =>
        seq === 5 ? { result: undefined, error: undefined } : undefined,
    });
    expect((await index.reconcilePending()).map((entry) => entry.key)).toEqual(["y"]);
    expect(await index.check("x")).toMatchObject({ status: "completed" });
  });

  it("returns an entry whose audit lookup throws, and logs it", async () => {
    await crashWithPending([["x", 1]]);
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn: (message: string) => void warnings.push(message),
    };
    const index = await open({
      logger,
      auditQuery: () => {
        throw new Error("audit unavailable");
      },
    });
    expect((await index.reconcilePending()).map((entry) => entry.key)).toEqual(["x"]);
    expect(warnings.some((message) => message.includes("audit lookup failed"))).toBe(true);
  });

  it("leaves keys pending in this process alone", async () => {
    const index = await open({ auditQuery: () => ({ result: 1 }) });
    await index.markPending("live", 1);
    expect(await index.reconcilePending()).toEqual([]);
    expect(await index.check("live")).toMatchObject({ status: "pending" });
  });

  it("skips an entry settled while its audit lookup ran", async () => {
    await crashWithPending([["x", 1]]);
    let index: IdempotencyIndex | undefined;
    index = await open({
      auditQuery: async () => {
        await index?.markFailed("x", "settled meanwhile");
        return null;
      },
    });
    expect(await index.reconcilePending()).toEqual([]);
    expect(await index.check("x")).toMatchObject({ status: "failed", error: "settled meanwhile" });
  });
});

describe("IdempotencyIndex: TTL eviction", () => {
  it("drops settled entries older than ttlMs, keeps pending ones, durably", async () => {
    const index = await open({ ttlMs: 7 * DAY });
    await index.markPending("old-done", 1);
    await index.markCompleted("old-done");
    await index.markPending("old-failed", 2);
    await index.markFailed("old-failed", "x");
    await index.markPending("old-pending", 3);
    clock.advance(3 * DAY);
    await index.markPending("young", 4);
    await index.markCompleted("young");
    expect(await index.evict()).toBe(0);
    clock.advance(4 * DAY - 1);
    expect(await index.evict()).toBe(0);
    clock.advance(1);
    expect(await index.evict()).toBe(2);
    expect(await index.check("old-done")).toBeNull();
    expect(await index.check("old-failed")).toBeNull();
    expect(await index.check("old-pending")).toMatchObject({ status: "pending" });
    expect(index.size).toBe(2);
    const fresh = await reopen(index);
    expect(await fresh.check("old-done")).toBeNull();
    expect(await fresh.check("young")).toMatchObject({ status: "completed" });
    expect(fresh.size).toBe(2);
    // An evicted key is a new key again.
    expect(await fresh.markPending("old-done", 9)).toMatchObject({ claimed: true });
  });

  it("defaults to 7 days", async () => {
    const index = await open();
    await index.markPending("k", 1);
    await index.markCompleted("k");
    clock.advance(7 * DAY - 1);
    expect(await index.evict()).toBe(0);
    clock.advance(1);
    expect(await index.evict()).toBe(1);
  });
});

describe("IdempotencyIndex: options and lifecycle", () => {
  it("rejects bad options at construction, naming them", () => {
    const base = { dir: "/tmp/x", store, locks };
    expect(() => new IdempotencyIndex(undefined as unknown as IdempotencyIndexOptions)).toThrow(
      TypeError,
    );
    expect(() => new IdempotencyIndex({ ...base, dir: "" })).toThrow(/dir/);
    expect(() => new IdempotencyIndex({ ...base, ttlMs: 0 })).toThrow(RangeError);
    expect(() => new IdempotencyIndex({ ...base, ttlMs: "1" as unknown as number })).toThrow(
      /ttlMs must be a number/,
    );
    expect(
      () => new IdempotencyIndex({ ...base, waitTimeoutMs: Number.POSITIVE_INFINITY }),
    ).toThrow(/waitTimeoutMs/);
    expect(() => new IdempotencyIndex({ ...base, compactionThreshold: 1.5 })).toThrow(
      /compactionThreshold/,
    );
    expect(() => new IdempotencyIndex({ ...base, onPendingConflict: "retry" as "skip" })).toThrow(
      /onPendingConflict/,
    );
    expect(() => new IdempotencyIndex({ ...base, auditQuery: {} as never })).toThrow(/auditQuery/);
    expect(() => new IdempotencyIndex({ ...base, compensation: { x: "maybe" as "skip" } })).toThrow(
      /compensation\.x/,
    );
    expect(() => new IdempotencyIndex({ ...base, compensation: 3 as never })).toThrow(
      /compensation/,
    );
    expect(() => new IdempotencyIndex({ ...base, lockName: "../x" })).toThrow(/name/i);
  });

  it("checks every option before anything touches the disk, naming it", async () => {
    const missing = join(dir, "never-created");
    const cases: Array<[Partial<IdempotencyIndexOptions>, RegExp]> = [
      [{ store: {} as never }, /store\.get must be a function/],
      [{ store: { get: async () => null } as never }, /store\.set/],
      [{ locks: { acquire: 1 } as never }, /locks\.acquire/],
      [{ fs: { open: () => {} } as never }, /fs\.readFile/],
      [{ clock: { now: () => 0 } as never }, /clock\.setTimeout/],
      [{ logger: { info() {} } as never }, /logger\.debug/],
      [{ redactor: { redact: (text: string) => text } as never }, /redactor\.redactAny/],
      [{ redactor: "none" as never }, /redactor must be an object/],
      [{ dir: "a\u0000b" }, /dir/],
      [{ snapshotMaxBytes: 0 }, /snapshotMaxBytes/],
      [{ lockWaitMs: -1 }, /lockWaitMs/],
    ];
    for (const [options, message] of cases) {
      const build = () => new IdempotencyIndex({ dir: missing, ...options });
      expect(build, JSON.stringify(Object.keys(options))).toThrow(message);
    }
    // Any object with the four methods is a logger.
    expect(() => new IdempotencyIndex({ dir: missing, logger: console })).not.toThrow();
    await expect(readdir(missing)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("merges the compensation table over the defaults", () => {
    const index = new IdempotencyIndex({
      dir,
      store,
      locks,
      compensation: { create_branch: "skip", deploy: "check_then_retry", add_labels: undefined },
    });
    expect(index.getStrategy("create_branch")).toBe("skip");
    expect(index.getStrategy("deploy")).toBe("check_then_retry");
    expect(index.getStrategy("add_labels")).toBe("skip");
    expect(index.getStrategy("create_pull_request")).toBe("check_then_retry");
    expect(index.getStrategy("toString")).toBe("skip");
    expect(index.getStrategy("anything_else")).toBe("skip");
    expect(Object.isFrozen(DEFAULT_COMPENSATION)).toBe(true);
    expect(DEFAULT_COMPENSATION).toEqual({
      create_branch: "safe_retry",
      create_pull_request: "check_then_retry",
      add_issue_comment: "check_then_retry",
      update_pull_request: "safe_retry",
      add_labels: "safe_retry",
      create_review: "check_then_retry",
    });
  });

  it("generates the same key statically and on an instance", () => {
    const index = new IdempotencyIndex({ dir, store, locks });
    expect(index.generateKey("a", "b", "c", { z: 1, y: 2 })).toBe(
      IdempotencyIndex.generateKey("a", "b", "c", { y: 2, z: 1 }),
    );
  });

  it("refuses use before initialize and after close", async () => {
    const index = new IdempotencyIndex({ dir, store, locks });
    await expect(index.check("k")).rejects.toMatchObject({
      code: "INDEX_NOT_OPEN",
      reason: "not_initialized",
    });
    await index.initialize();
    await index.initialize();
    await index.close();
    await index.close();
    const error = await index.markPending("k", 1).catch((caught: unknown) => caught);
    expect(IndexNotOpenError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ reason: "closed" });
    await expect(index.evict()).rejects.toMatchObject({ code: "INDEX_NOT_OPEN" });
    await expect(index.reconcilePending()).rejects.toMatchObject({ code: "INDEX_NOT_OPEN" });
    await expect(index.initialize()).rejects.toMatchObject({ reason: "closed" });
  });

  it("holds the owner lock from initialize to close", async () => {
    const index = await open();
    expect(locks.held.has("idempotency-index")).toBe(true);
    const second = new IdempotencyIndex({ dir, store, locks });
    await expect(second.initialize()).rejects.toMatchObject({ code: "LOCK_HELD" });
    await index.close();
    expect(locks.held.size).toBe(0);
    await second.initialize();
    opened.push(second);
  });

  it("releases the lock when initialize fails, and can be retried", async () => {
    store.snapshot = { format: 2 } as never;
    const index = new IdempotencyIndex({ dir, store, locks });
    const error = await index.initialize().catch((caught: unknown) => caught);
    expect(IndexCorruptError.isInstance(error)).toBe(true);
    expect(locks.held.size).toBe(0);
    store.snapshot = null;
    await index.initialize();
    opened.push(index);
  });

  it.each([
    ["a string", "not an object"],
    [{ format: 1, generation: -1, lastSeq: 0, entries: [] }, "generation"],
    [{ format: 1, generation: 0, lastSeq: "1", entries: [] }, "lastSeq"],
    [{ format: 1, generation: 0, lastSeq: 0, entries: {} }, "entries"],
    [{ format: 1, generation: 0, lastSeq: 0, entries: [{ key: "k", status: "done" }] }, "status"],
  ])("refuses a snapshot that is not one (%j)", async (snapshot, detail) => {
    store.get = async () => snapshot as never;
    const index = new IdempotencyIndex({ dir, store, locks });
    await expect(index.initialize()).rejects.toMatchObject({
      code: "INDEX_CORRUPT",
      detail: expect.stringContaining(detail),
    });
  });
});

describe("IdempotencyIndex: journal", () => {
  async function journalFiles() {
    return (await readdir(dir)).filter((name) => name.startsWith("journal.")).sort();
  }

  it("appends one line per transition, and shares fsyncs among concurrent ones", async () => {
    let syncs = 0;
    const fs = faultyFileSystem((operation) => {
      if (operation === "sync") syncs += 1;
      return undefined;
    });
    const index = await open({ fs });
    syncs = 0;
    await Promise.all(Array.from({ length: 40 }, (_, n) => index.markPending(`k${n}`, n)));
    expect(syncs).toBeLessThanOrEqual(2);
    const text = await readFile(join(dir, "journal.0.jsonl"), "utf8");
    // The journal's header, then one line per transition.
    expect(text.trimEnd().split("\n")).toHaveLength(41);
  });

  it("drops a torn tail on open, cuts it off, and appends after the good records", async () => {
    const warnings: Array<Record<string, unknown> | undefined> = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn: (_: string, data?: Record<string, unknown>) => void warnings.push(data),
    };
    const index = await open();
    await index.markPending("a", 1);
    await index.markCompleted("a");
    await index.close();
    const path = join(dir, "journal.0.jsonl");
    const good = await readFile(path, "utf8");
    await appendFile(path, good.split("\n")[0]?.slice(0, 40) ?? "");
    const fresh = await open({ logger });
    expect(await fresh.check("a")).toMatchObject({ status: "completed" });
    expect(warnings).toContainEqual(
      expect.objectContaining({ file: join(dir, "journal.0.jsonl"), droppedBytes: 40 }),
    );
    expect(await readFile(path, "utf8")).toBe(good);
    await fresh.markPending("b", 2);
    const third = await reopen(fresh);
    expect(await third.check("b")).toMatchObject({ status: "pending" });
    expect(await third.check("a")).toMatchObject({ status: "completed" });
  });

  it("rolls back a transition whose write failed, and keeps working", async () => {
    let failWrites = 0;
    const fs = faultyFileSystem((operation, path) => {
      if (operation === "write" && path.endsWith(".jsonl") && failWrites > 0) {
        failWrites -= 1;
        throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
      }
      return undefined;
    });
    const index = await open({ fs });
    await index.markPending("a", 1);
    failWrites = 1;
    const error = await index.markPending("b", 2).catch((caught: unknown) => caught);
    expect(JournalWriteError.isInstance(error)).toBe(true);
    expect(await index.check("b")).toBeNull();
    failWrites = 1;
    await expect(index.markCompleted("a")).rejects.toBeInstanceOf(JournalWriteError);
    expect(await index.check("a")).toMatchObject({ status: "pending" });
    // Still claimed by this process after the failed completion.
    expect(await index.markPending("a", 5)).toMatchObject({ claimed: false, reason: "pending" });
    expect(await index.markPending("b", 3)).toMatchObject({ claimed: true });
    await index.markCompleted("a");
    const fresh = await reopen(index);
    expect(await fresh.check("a")).toMatchObject({ status: "completed" });
    expect(await fresh.check("b")).toMatchObject({ status: "pending", intentSeq: 3 });
  });

  it("rolls back a failed re-claim of a handed-out orphan", async () => {
    const first = await open();
    await first.markPending("o", 1);
    await first.close();
    let failWrite = false;
    const fs = faultyFileSystem((operation, path) => {
      if (operation === "write" && path.endsWith(".jsonl") && failWrite) {
        failWrite = false;
        throw new Error("ENOSPC");
      }
      return undefined;
    });
    const index = await open({ fs, onPendingConflict: "fail" });
    await index.reconcilePending();
    failWrite = true;
    await expect(index.markPending("o", 2)).rejects.toBeInstanceOf(JournalWriteError);
    expect(await index.check("o")).toMatchObject({ intentSeq: 1 });
    // Still handed out: a retry claims it.
    expect(await index.markPending("o", 3)).toMatchObject({
      claimed: true,
      entry: { intentSeq: 3 },
    });
  });

  it("rolls back a failed eviction", async () => {
    let failWrite = false;
    const fs = faultyFileSystem((operation, path) => {
      if (operation === "write" && path.endsWith(".jsonl") && failWrite) {
        failWrite = false;
        throw new Error("ENOSPC");
      }
      return undefined;
    });
    const index = await open({ fs, ttlMs: 10 });
    await index.markPending("a", 1);
    await index.markCompleted("a");
    clock.advance(10);
    failWrite = true;
    await expect(index.evict()).rejects.toBeInstanceOf(JournalWriteError);
    expect(await index.check("a")).toMatchObject({ status: "completed" });
    expect(await index.evict()).toBe(1);
  });

  it("compacts into the snapshot and keeps only the journals the snapshot and its backup need", async () => {
    const index = await open({ compactionThreshold: 10 });
    for (let n = 0; n < 30; n += 1) {
      await index.markPending(`k${n}`, n);
      await index.markCompleted(`k${n}`, n);
    }
    await index.close();
    expect(store.sets).toBeGreaterThanOrEqual(2);
    expect(store.snapshot?.entries.length).toBeGreaterThanOrEqual(10);
    const journals = await journalFiles();
    expect(journals.length).toBeLessThanOrEqual(2);
    // The newest snapshot continues from the newest journal, its backup from the one before.
    expect(journals.at(-1)).toBe(`journal.${store.snapshot?.generation}.jsonl`);
    if (journals.length === 2) {
      expect(journals[0]).toBe(`journal.${store.snapshot?.previous?.generation}.jsonl`);
    }
    const fresh = await open({ compactionThreshold: 10 });
    expect(fresh.size).toBe(30);
    for (let n = 0; n < 30; n += 1)
      expect(await fresh.check(`k${n}`)).toMatchObject({ status: "completed", result: n });
  });

  it("goes on with the old journal when the snapshot cannot be written", async () => {
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn: (message: string) => void warnings.push(message),
    };
    store.failNextSet = new Error("ENOSPC");
    const index = await open({ compactionThreshold: 3, logger });
    for (let n = 0; n < 3; n += 1) await index.markPending(`k${n}`, n);
    await index.markPending("after", 9);
    expect(warnings.some((message) => message.includes("could not write the snapshot"))).toBe(true);
    const fresh = await reopen(index);
    expect(fresh.size).toBe(4);
  });

  it("replays a journal left by a compaction that stopped after the snapshot", async () => {
    // Snapshot covers seq 1..2; the old journal still holds 1..3 (3 came later, appended to it).
    const index = await open();
    await index.markPending("a", 1);
    await index.markCompleted("a");
    await index.markPending("b", 2);
    await index.close();
    const entry = {
      key: "a",
      status: "completed",
      intentSeq: 1,
      strategy: "skip",
      action: "a",
      createdAt: 1,
      updatedAt: 2,
    } as const;
    store.snapshot = { format: 1, generation: 1, lastSeq: 2, entries: [entry] };
    const fresh = await open();
    expect(await fresh.check("a")).toMatchObject({ status: "completed" });
    expect(await fresh.check("b")).toMatchObject({ status: "pending", intentSeq: 2 });
    await fresh.markCompleted("b");
    // Journal 0 still holds seq 3 (beyond the snapshot), so it is kept until the next compaction.
    expect(await journalFiles()).toEqual(["journal.0.jsonl", "journal.1.jsonl"]);
    const third = await reopen(fresh);
    expect(await third.check("b")).toMatchObject({ status: "completed" });
  });

  it("refuses to open when the snapshot is lost and the journals start after seq 1", async () => {
    const index = await open({ compactionThreshold: 2, ttlMs: 1 });
    for (let n = 0; n < 12; n += 1) {
      await index.markPending(`k${n}`, n);
      await index.markCompleted(`k${n}`);
      clock.advance(1);
      await index.evict();
    }
    await index.markPending("last", 99);
    await index.close();
    expect(await journalFiles()).not.toContain("journal.0.jsonl");
    const healthy = await open();
    expect(await healthy.check("last")).toMatchObject({ status: "pending" });
    await healthy.close();
    store.snapshot = null;
    const error = await open().catch((caught: unknown) => caught);
    expect(IndexCorruptError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      kind: "missing-records",
      detail: expect.stringMatching(/no snapshot/),
    });
  });

  it("rebuilds from the journals alone when the snapshot is lost but nothing else is", async () => {
    const index = await open();
    for (let n = 0; n < 3; n += 1) await index.markPending(`k${n}`, n);
    await index.close();
    store.snapshot = null;
    const fresh = await open();
    expect(fresh.size).toBe(3);
  });

  it("never removes a journal the store's backup snapshot still needs", async () => {
    const index = await open({ compactionThreshold: 3 });
    for (let n = 0; n < 40; n += 1) {
      await index.markPending(`k${n}`, n);
      const snapshot = store.snapshot;
      const names = await journalFiles();
      const generations = names.map((name) => Number(name.split(".")[1]));
      // The backup is the snapshot the newest one replaced: its journal is on disk.
      if (snapshot?.previous) expect(generations).toContain(snapshot.previous.generation);
      if (snapshot) expect(generations).toContain(snapshot.generation);
    }
  });

  it("fails initialize cleanly when the active journal cannot be repaired", async () => {
    const index = await open();
    await index.markPending("a", 1);
    await index.close();
    await appendFile(join(dir, "journal.0.jsonl"), '{"sum":"0123');
    const hook: FaultHook = (operation) => {
      if (operation === "truncate") throw Object.assign(new Error("EROFS"), { code: "EROFS" });
      return undefined;
    };
    const broken = new IdempotencyIndex({ dir, store, locks, fs: faultyFileSystem(hook) });
    const error = await broken.initialize().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "INDEX_IO_FAILED", path: join(dir, "journal.0.jsonl") });
    expect((error as Error).message).toContain("EROFS");
    expect(locks.held.size).toBe(0);
  });
});

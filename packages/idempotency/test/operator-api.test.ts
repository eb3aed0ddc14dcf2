import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { IdempotencyIndex } from "../src/idempotency-index.js";
import type { IdempotencyIndexOptions } from "../src/options.js";

let dir: string;
let clock: ManualClock;
const opened: IdempotencyIndex[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "idem-operator-"));
  clock = new ManualClock(5_000_000);
});
afterEach(async () => {
  for (const index of opened.splice(0)) await index.close();
  await rm(dir, { recursive: true, force: true });
});

async function open(options: Partial<IdempotencyIndexOptions> = {}) {
  const index = new IdempotencyIndex({ dir, clock, ...options });
  opened.push(index);
  await index.initialize();
  return index;
}

async function reopen(index: IdempotencyIndex, options: Partial<IdempotencyIndexOptions> = {}) {
  await index.close();
  return open(options);
}

async function journalLines(): Promise<number> {
  const text = await readFile(join(dir, "journal.0.jsonl"), "utf8");
  return text.split("\n").length - 1;
}

describe("reset(key)", () => {
  it("durably removes an entry whatever its state, in one journal line, and returns it", async () => {
    const index = await open();
    for (const [key, settle] of [
      ["p", undefined],
      ["c", "completed"],
      ["f", "failed"],
    ] as const) {
      await index.markPending(key, 1);
      if (settle === "completed") await index.markCompleted(key, { n: 1 });
      if (settle === "failed") await index.markFailed(key, "boom");
    }
    const before = await journalLines();
    expect(await index.reset("f")).toMatchObject({ key: "f", status: "failed", error: "boom" });
    expect(await journalLines()).toBe(before + 1);
    expect(await index.reset("c")).toMatchObject({ status: "completed" });
    expect(await index.reset("p")).toMatchObject({ status: "pending" });
    expect(await index.reset("absent")).toBeNull();
    expect(await journalLines()).toBe(before + 3);
    const fresh = await reopen(index, { onPendingConflict: "fail" });
    expect(fresh.size).toBe(0);
    for (const key of ["p", "c", "f"]) {
      expect(await fresh.markPending(key, 2)).toMatchObject({ claimed: true });
    }
  });

  it("lets a waiter on a reset key claim it", async () => {
    const index = await open({ onPendingConflict: "wait" });
    await index.markPending("w", 1);
    const waiting = index.markPending("w", 2);
    await new Promise((resolve) => setImmediate(resolve));
    await index.reset("w");
    expect(await waiting).toMatchObject({ claimed: true, entry: { intentSeq: 2 } });
  });

  it("validates the key before writing", async () => {
    const index = await open();
    await expect(index.reset("" as string)).rejects.toThrow(TypeError);
  });
});

describe("settle(key, settlement)", () => {
  it("writes a terminal entry for an absent, pending, failed or completed key", async () => {
    const index = await open();
    const absent = await index.settle("add_labels:acme/w/issue-1:0000000000000000", {
      status: "completed",
      result: { labels: ["bug"] },
      intentSeq: 7,
    });
    expect(absent).toMatchObject({
      status: "completed",
      action: "add_labels",
      strategy: "safe_retry",
      intentSeq: 7,
      result: { labels: ["bug"] },
      createdAt: 5_000_000,
    });
    await index.markPending("pending", 3, "create_review");
    clock.advance(10);
    expect(await index.settle("pending", { status: "completed" })).toMatchObject({
      status: "completed",
      intentSeq: 3,
      strategy: "check_then_retry",
      createdAt: 5_000_000,
      updatedAt: 5_000_010,
    });
    await index.markPending("failed", 4);
    await index.markFailed("failed", "502");
    expect(
      await index.settle("failed", { status: "completed", action: "deploy", strategy: "skip" }),
    ).toMatchObject({ status: "completed", action: "deploy", strategy: "skip" });
    expect(await index.settle("failed", { status: "failed", error: "operator: not done" })).toEqual(
      expect.objectContaining({ status: "failed", error: "operator: not done" }),
    );
    const settled = await index.check("failed");
    expect(settled).not.toHaveProperty("result");
    const fresh = await reopen(index);
    expect(await fresh.check("pending")).toMatchObject({ status: "completed" });
    expect(await fresh.check("failed")).toMatchObject({
      status: "failed",
      error: "operator: not done",
    });
    expect(await fresh.markPending("pending", 9)).toMatchObject({
      claimed: false,
      reason: "completed",
    });
  });

  it("wakes waiters on a pending key", async () => {
    const index = await open({ onPendingConflict: "wait" });
    await index.markPending("w", 1);
    const waiting = index.markPending("w", 2);
    await new Promise((resolve) => setImmediate(resolve));
    await index.settle("w", { status: "failed", error: "given up" });
    expect(await waiting).toMatchObject({ claimed: false, reason: "failed" });
  });

  it("validates the settlement before any write", async () => {
    const index = await open();
    const bad = [
      { status: "pending" },
      { status: "completed", strategy: "sometimes" },
      { status: "completed", intentSeq: -1 },
      { status: "completed", action: "" },
      { status: "failed", error: 3 },
      { status: "completed", error: "x" },
      { status: "failed", result: 1 },
    ];
    for (const settlement of bad) {
      await expect(
        index.settle("k", settlement as never),
        JSON.stringify(settlement),
      ).rejects.toThrow(TypeError);
    }
    expect(await index.check("k")).toBeNull();
  });
});

describe("ttlMs", () => {
  it("is the resolved TTL", async () => {
    expect(new IdempotencyIndex({ dir }).ttlMs).toBe(7 * 24 * 60 * 60 * 1000);
    expect(new IdempotencyIndex({ dir, ttlMs: 1234 }).ttlMs).toBe(1234);
  });
});

describe("results JSON cannot hold still complete the key", () => {
  it("stores a documented JSON-safe form, the same before and after a restart", async () => {
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const throwing = {
      toJSON() {
        throw new Error("no");
      },
    };
    const getter = Object.defineProperty({ ok: 1 }, "bad", {
      enumerable: true,
      get() {
        throw new Error("getter");
      },
    });
    const cases: Array<[string, unknown, unknown]> = [
      [
        "map",
        new Map<unknown, unknown>([
          ["a", 1],
          [2, "b"],
        ]),
        [
          ["a", 1],
          [2, "b"],
        ],
      ],
      ["set", new Set([1, "x"]), [1, "x"]],
      ["bigint", { id: 12345678901234567890n }, { id: "12345678901234567890" }],
      ["undefined", undefined, undefined],
      ["nested undefined", { a: undefined, list: [undefined, 1] }, { list: [null, 1] }],
      ["function", { f: () => 1, g: 2 }, { g: 2 }],
      ["cycle", cyclic, { name: "loop", self: "[Circular]" }],
      ["throwing toJSON", { value: throwing }, { value: "[Unreadable]" }],
      ["throwing getter", getter, { ok: 1, bad: "[Unreadable]" }],
      ["NaN", { n: Number.NaN, i: Number.POSITIVE_INFINITY }, { n: null, i: null }],
      ["date", new Date(0), "1970-01-01T00:00:00.000Z"],
    ];
    const index = await open();
    for (const [name, value] of cases) {
      await index.markPending(name, 1);
      await index.markCompleted(name, value);
      const entry = await index.check(name);
      expect(entry?.status, name).toBe("completed");
      expect(entry?.result, name).toEqual(expected(cases, name));
      if (value === undefined) expect(entry).not.toHaveProperty("result");
    }
    const fresh = await reopen(index);
    for (const [name] of cases) {
      const entry = await fresh.check(name);
      expect(entry?.status, name).toBe("completed");
      expect(entry?.result, name).toEqual(expected(cases, name));
    }
  });

  it("survives nesting far deeper than JSON tools handle", async () => {
    let deep: unknown = "bottom";
    for (let level = 0; level < 100_000; level += 1) deep = { level: deep };
    const index = await open();
    await index.markPending("deep", 1);
    await index.markCompleted("deep", deep);
    expect((await index.check("deep"))?.status).toBe("completed");
    const fresh = await reopen(index);
    expect((await fresh.check("deep"))?.status).toBe("completed");
  });

  it("markFailed accepts any thrown value, even one whose message getter throws", async () => {
    const index = await open();
    const hostile = Object.defineProperty(new Error("x"), "message", {
      get() {
        throw new Error("getter");
      },
    });
    for (const [name, thrown] of [
      ["hostile", hostile],
      ["symbol", Symbol("s")],
      ["object", { status: 502, headers: {}, message: "Bad gateway" }],
      ["null", null],
    ] as const) {
      await index.markPending(name, 1);
      await index.markFailed(name, thrown as never);
      const entry = await index.check(name);
      expect(entry?.status, name).toBe("failed");
      expect(typeof entry?.error, name).toBe("string");
    }
    expect((await index.check("object"))?.error).toContain("502");
  });
});

function expected(cases: Array<[string, unknown, unknown]>, name: string): unknown {
  return cases.find(([caseName]) => caseName === name)?.[2];
}

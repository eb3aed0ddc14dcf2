import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FileSystem, ManualClock, nodeFileSystem } from "@beauvoir/core";
import { ResilientJsonStore } from "@beauvoir/resilient-store";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { faultyFileSystem } from "../src/__fixtures__/faulty-file-system.js";
import { MemoryLocks } from "../src/__fixtures__/memory-dependencies.js";
import type { IdempotencyEntry } from "../src/entry.js";
import { IdempotencyIndex } from "../src/idempotency-index.js";
import type { IdempotencySnapshot } from "../src/snapshot.js";

/**
 * Crash points of compaction, at every filesystem call: the fs "dies" at call
 * number k (that call and every later one fail, as after a power cut), the
 * instance is abandoned, and a fresh index on the real filesystem must hold
 * exactly the transitions that had resolved.
 */

let dir: string;
let clock: ManualClock;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "idem-compaction-"));
  clock = new ManualClock(1_000_000);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function openIndex(fs: FileSystem, compactionThreshold: number, locks = new MemoryLocks()) {
  const store = new ResilientJsonStore<IdempotencySnapshot>({
    path: join(dir, "snapshot.json"),
    fs,
    clock,
  });
  return new IdempotencyIndex({ dir, fs, store, locks, clock, compactionThreshold, ttlMs: 1000 });
}

/** Transitions (some evicted then re-claimed) whose final state the test knows. */
async function buildHistory(
  index: IdempotencyIndex,
): Promise<Map<string, Partial<IdempotencyEntry>>> {
  const expected = new Map<string, Partial<IdempotencyEntry>>();
  await index.markPending("evicted-then-again", 1);
  await index.markCompleted("evicted-then-again", "first");
  clock.advance(1000);
  expect(await index.evict()).toBe(1);
  await index.markPending("evicted-then-again", 2);
  expected.set("evicted-then-again", { status: "pending", intentSeq: 2 });
  for (let n = 0; n < 6; n += 1) {
    await index.markPending(`k${n}`, 10 + n);
    if (n % 3 === 0) {
      await index.markFailed(`k${n}`, `e${n}`);
      expected.set(`k${n}`, { status: "failed", error: `e${n}`, intentSeq: 10 + n });
    } else if (n % 3 === 1) {
      await index.markCompleted(`k${n}`, n);
      expected.set(`k${n}`, { status: "completed", result: n, intentSeq: 10 + n });
    } else {
      expected.set(`k${n}`, { status: "pending", intentSeq: 10 + n });
    }
  }
  return expected;
}

async function expectState(
  index: IdempotencyIndex,
  expected: Map<string, Partial<IdempotencyEntry>>,
) {
  expect(index.size).toBe(expected.size);
  for (const [key, fields] of expected) expect(await index.check(key), key).toMatchObject(fields);
}

describe("compaction survives a crash at every filesystem call", () => {
  it("loses nothing and applies nothing twice, for each crash point", async () => {
    let crashPoint = 0;
    let crashed = true;
    while (crashed) {
      crashPoint += 1;
      await rm(dir, { recursive: true, force: true });
      // History written without compaction.
      const setup = openIndex(nodeFileSystem, 1_000_000);
      await setup.initialize();
      const expected = await buildHistory(setup);
      await setup.close();

      // A process whose disk dies at call `crashPoint` after the trigger.
      let calls = 0;
      let armed = false;
      crashed = false;
      const dying = faultyFileSystem((operation) => {
        if (!armed) return undefined;
        calls += 1;
        if (calls >= crashPoint) {
          crashed = true;
          throw Object.assign(new Error(`simulated crash at ${operation}`), { code: "EIO" });
        }
        return undefined;
      });
      const victim = openIndex(dying, 5);
      await victim.initialize();
      // The replayed records already exceed the threshold: this transition triggers compaction.
      armed = true;
      const last = await victim
        .markCompleted("k2", "last")
        .then(() => true)
        .catch(() => false);
      if (last) expected.set("k2", { status: "completed", result: "last" });
      await victim.close().catch(() => {});

      const fresh = openIndex(nodeFileSystem, 1_000_000);
      await fresh.initialize();
      if (!last) {
        // The call failed, so the caller never relied on it: written-but-unsynced
        // bytes may survive the crash or not. Either outcome is whole.
        const k2 = await fresh.check("k2");
        if (k2?.status === "completed") {
          expect(k2.result).toBe("last");
          expected.set("k2", { status: "completed", result: "last" });
        }
      }
      await expectState(fresh, expected);
      // And the recovered directory keeps working through another compaction and restart.
      await fresh.markPending("after", 99);
      expected.set("after", { status: "pending", intentSeq: 99 });
      await fresh.close();
      const again = openIndex(nodeFileSystem, 2);
      await again.initialize();
      await again.markCompleted("after");
      expected.set("after", { status: "completed" });
      await again.close();
      const final = openIndex(nodeFileSystem, 1_000_000);
      await final.initialize();
      await expectState(final, expected);
      await final.close();
      expect(crashPoint).toBeLessThan(100);
    }
    // Every call of a full compaction was a crash point at least once.
    expect(crashPoint).toBeGreaterThan(8);
  });
});

import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../test/support/test-database.js";
import { StaleFenceError, StoreConflictError } from "./errors.js";

const db = useTestDatabase();
let names = 0;

async function replicas(count: number) {
  const result = [];
  for (let index = 0; index < count; index++) {
    const backend = db.backend({ sealer: { enabled: false } });
    await backend.start();
    result.push(backend);
  }
  return result;
}

describe("PostgresJsonStore", () => {
  it("stores a document and reads it back, with its write epoch", async () => {
    const [a] = await replicas(1);
    const store = a!.stores.create<{ lastSeenId: number; note: string }>(`state-${++names}`);
    expect(await store.get()).toBeNull();
    expect(await store.set({ lastSeenId: 1230, note: "ü \u2028" })).toBe(1);
    expect(await store.set({ lastSeenId: 1234, note: "x" })).toBe(2);
    expect(await a!.stores.create(store.name).read()).toEqual({
      value: { lastSeenId: 1234, note: "x" },
      writeEpoch: 2,
    });
  });

  it("refuses with STORE_CONFLICT a write based on an epoch another replica moved on", async () => {
    const [a, b] = await replicas(2);
    const name = `shared-${++names}`;
    const mine = a!.stores.create<{ n: number }>(name);
    const theirs = b!.stores.create<{ n: number }>(name);
    await mine.get();
    await theirs.get();
    await theirs.set({ n: 1 });
    const conflict = await mine.set({ n: 99 }).catch((error: unknown) => error);
    expect(StoreConflictError.isInstance(conflict)).toBe(true);
    expect(conflict).toMatchObject({ storeName: name, expectedEpoch: 0, actualEpoch: 1 });
    expect(await theirs.get()).toEqual({ n: 1 });
    // Read, then write: accepted.
    await mine.get();
    expect(await mine.set({ n: 2 })).toBe(2);
    await expect(theirs.set({ n: 3 })).rejects.toMatchObject({
      code: "STORE_CONFLICT",
      actualEpoch: 2,
    });
    await expect(theirs.set({ n: 3 }, { expectedEpoch: 7 })).rejects.toMatchObject({
      code: "STORE_CONFLICT",
    });
    expect(await theirs.set({ n: 3 }, { expectedEpoch: 2 })).toBe(3);
  });

  it("lets one of many racing writers win each epoch", async () => {
    const stores = (await replicas(3)).map((backend) =>
      backend.stores.create<{ by: number }>("race"),
    );
    const outcomes = await Promise.allSettled(
      stores.flatMap((store, index) => [store.set({ by: index }), store.set({ by: index + 10 })]),
    );
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected")
        expect(outcome.reason).toMatchObject({ code: "STORE_CONFLICT" });
    }
  });

  it("refuses a write whose fence is lower than one already written", async () => {
    const [a, b] = await replicas(2);
    const name = `fenced-${++names}`;
    const old = await a!.locks.acquire(`lock-${name}`, { ttlMs: 300, autoRenew: false });
    const oldStore = a!.stores.create<{ v: string }>(name);
    await oldStore.set({ v: "first" }, { fence: old.fence });
    const fresh = await b!.locks.acquire(`lock-${name}`, { waitMs: 10_000 });
    const newStore = b!.stores.create<{ v: string }>(name);
    await newStore.get();
    await newStore.set({ v: "second" }, { fence: fresh.fence });
    const refused = await oldStore
      .set({ v: "stale" }, { expectedEpoch: 2, fence: old.fence })
      .catch((error: unknown) => error);
    expect(StaleFenceError.isInstance(refused)).toBe(true);
    expect(refused).toMatchObject({ fence: old.fence, highestSeen: fresh.fence });
    expect(await newStore.get()).toEqual({ v: "second" });
  });

  it("refuses what JSON cannot hold, before writing", async () => {
    const [a] = await replicas(1);
    const store = a!.stores.create<object>(`bad-${++names}`);
    await expect(store.set(null as never)).rejects.toThrow(TypeError);
    await expect(store.set({ n: 1n })).rejects.toThrow(/JSON/);
    await expect(store.set({}, { expectedEpoch: -1 })).rejects.toThrow(/expectedEpoch/);
    await expect(store.set({}, { fence: 0 })).rejects.toThrow(/fence/);
    expect(() => a!.stores.create("")).toThrow(TypeError);
    expect(await store.get()).toBeNull();
  });
});

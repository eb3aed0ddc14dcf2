import { describe, expect, it, vi } from "vitest";
import { useTestDatabase } from "../test/support/test-database.js";
import { LockHeldError, LockLostError, StaleFenceError } from "./errors.js";

const db = useTestDatabase();

async function replica() {
  const backend = db.backend({ sealer: { enabled: false } });
  await backend.start();
  return backend;
}

describe("PostgresLockManager", () => {
  it("grants a lock with a fence and a database-clock lease, and refuses it to another replica", async () => {
    const [a, b] = [await replica(), await replica()];
    const lock = await a.locks.acquire("sync", { ttlMs: 5_000 });
    expect(lock.fence).toBeGreaterThan(0);
    expect(lock.held).toBe(true);
    expect(lock.signal.aborted).toBe(false);
    const { rows } = await db.admin.query(
      "SELECT (extract(epoch FROM expires_at - acquired_at) * 1000)::float8 AS ms, instance_id FROM beauvoir.locks WHERE name = 'sync'",
    );
    expect(rows[0]).toEqual({ ms: 5_000, instance_id: a.instance.id });
    const refused = await b.locks.acquire("sync").catch((error: unknown) => error);
    expect(LockHeldError.isInstance(refused)).toBe(true);
    expect(refused).toMatchObject({ lockName: "sync", holderInstanceId: a.instance.id });
    expect((refused as LockHeldError).expiresAt.getTime()).toBe(lock.expiresAt.getTime());
    expect(await lock.release()).toBe(true);
    expect(await lock.release()).toBe(false);
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
  });

  it("gives every grant a higher fence than the one before, across replicas", async () => {
    const replicas = [await replica(), await replica(), await replica()];
    const fences: number[] = [];
    for (let round = 0; round < 9; round++) {
      const lock = await replicas[round % 3]!.locks.acquire("round-robin", { waitMs: 5_000 });
      fences.push(lock.fence);
      await lock.release();
    }
    for (let index = 1; index < fences.length; index++) {
      expect(fences[index]).toBeGreaterThan(fences[index - 1]!);
    }
  });

  it("waits up to waitMs for the holder to release", async () => {
    const [a, b] = [await replica(), await replica()];
    const first = await a.locks.acquire("queue");
    const waiting = b.locks.acquire("queue", { waitMs: 20_000 });
    setTimeout(() => void first.release(), 200);
    const second = await waiting;
    expect(second.fence).toBeGreaterThan(first.fence);
    await second[Symbol.asyncDispose]();
    expect(second.held).toBe(false);
  });

  it("lets a lease that is not renewed run out, fencing its holder out", async () => {
    const [a, b] = [await replica(), await replica()];
    const stale = await a.locks.acquire("lapse", { ttlMs: 600, autoRenew: false });
    await vi.waitFor(() => expect(stale.signal.aborted).toBe(true), { timeout: 10_000 });
    expect(stale.held).toBe(false);
    expect(stale.signal.reason).toMatchObject({ code: "LOCK_LOST", fence: stale.fence });
    const fresh = await b.locks.acquire("lapse", { waitMs: 10_000 });
    expect(fresh.fence).toBeGreaterThan(stale.fence);
    await expect(stale.renew()).rejects.toMatchObject({ code: "LOCK_LOST" });
    // Its release changes nothing: the row is the new holder's.
    expect(await stale.release()).toBe(false);
    const { rows } = await db.admin.query(
      "SELECT fence::int, expires_at > now() AS live FROM beauvoir.locks WHERE name = 'lapse'",
    );
    expect(rows[0]).toEqual({ fence: fresh.fence, live: true });
  });

  it("renews in the background so a held lock outlives its ttl", async () => {
    const [a, b] = [await replica(), await replica()];
    const lock = await a.locks.acquire("long-job", { ttlMs: 900 });
    const firstExpiry = lock.expiresAt.getTime();
    await vi.waitFor(() => expect(lock.expiresAt.getTime()).toBeGreaterThan(firstExpiry + 600), {
      timeout: 10_000,
    });
    expect(lock.held).toBe(true);
    await expect(b.locks.acquire("long-job")).rejects.toMatchObject({ code: "LOCK_HELD" });
    await lock.release();
  });

  it("a renewal by hand extends the lease on the database clock", async () => {
    const a = await replica();
    const lock = await a.locks.acquire("manual", { ttlMs: 10_000, autoRenew: false });
    const before = lock.expiresAt.getTime();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await lock.renew();
    expect(lock.expiresAt.getTime()).toBeGreaterThan(before);
    await lock.release();
    await expect(lock.renew()).rejects.toBeInstanceOf(LockLostError);
  });

  it("loses every lock with the instance's lease, and takes none without one", async () => {
    const a = await replica();
    const lock = await a.locks.acquire("tied", { ttlMs: 10_000 });
    await a.stop();
    expect(lock.signal.aborted).toBe(true);
    await expect(a.locks.acquire("other")).rejects.toMatchObject({ code: "LEASE_LOST" });
  });

  it("releases everything it holds on releaseAll", async () => {
    const a = await replica();
    await a.locks.acquire("one");
    await a.locks.acquire("two");
    expect(a.locks.held.map((lock) => lock.name).sort()).toEqual(["one", "two"]);
    expect(await a.locks.releaseAll()).toBe(2);
    expect(a.locks.held).toEqual([]);
  });

  it("prunes long-expired rows", async () => {
    const a = await replica();
    await db.admin.query(
      `INSERT INTO beauvoir.locks VALUES ('ancient', gen_random_uuid(), gen_random_uuid(), 1, now() - interval '3 hours', now() - interval '2 hours')`,
    );
    expect(await a.locks.recoverStaleLocks()).toEqual({ recovered: 1 });
  });

  it("names bad arguments", async () => {
    const a = await replica();
    await expect(a.locks.acquire("")).rejects.toThrow(TypeError);
    await expect(a.locks.acquire("x", { waitMs: -1 })).rejects.toThrow(/waitMs/);
    await expect(a.locks.acquire("x", { ttlMs: 0 })).rejects.toThrow(/ttlMs/);
    expect(() => db.backend({ locks: { pollIntervalMs: 0 } })).toThrow(/pollIntervalMs/);
  });
});

describe("advanceFence", () => {
  it("keeps the highest token seen and refuses lower ones", async () => {
    const a = await replica();
    await a.advanceFence("deploy-target", 5);
    await a.advanceFence("deploy-target", 5);
    await a.advanceFence("deploy-target", 9);
    const refused = await a.advanceFence("deploy-target", 7).catch((error: unknown) => error);
    expect(StaleFenceError.isInstance(refused)).toBe(true);
    expect(refused).toMatchObject({ code: "FENCE_STALE", fence: 7, highestSeen: 9 });
    const { rows } = await db.admin.query(
      "SELECT fence::int FROM beauvoir.fence_marks WHERE resource = 'deploy-target'",
    );
    expect(rows).toEqual([{ fence: 9 }]);
    await expect(a.advanceFence("", 1)).rejects.toThrow(TypeError);
    await expect(a.advanceFence("r", 0)).rejects.toThrow(RangeError);
  });
});

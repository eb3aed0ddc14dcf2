// The operator's view of the locks: list them with their holders and whether
// those are alive, without taking or removing anything; break one only when
// its holder is dead.
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createFaultyFileSystem, ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { LockCorruptError, LockHeldError, LockManager } from "../src/index.js";
import { changingCalls, DEAD_PID, useTempDir } from "./helpers.js";

let dir: string;
let lockDir: string;

useTempDir((made) => {
  dir = made;
  lockDir = join(dir, "locks");
});

async function plant(name: string, record: Record<string, unknown>): Promise<void> {
  await mkdir(lockDir, { recursive: true });
  await writeFile(
    join(lockDir, `${name}.lock`),
    JSON.stringify({ id: `${name}-id`, bootId: "boot-x", lockVersion: 1, ...record }),
  );
}

describe("listLocks", () => {
  it("reports every lock with its owner, age and liveness, and changes nothing", async () => {
    const now = 1_900_000_000_000;
    const holder = new LockManager({
      lockDir,
      bootId: "boot-here",
      clock: new ManualClock(now - 5_000),
    });
    const live = await holder.acquire("live");
    await plant("dead", { pid: DEAD_PID, createdAt: now - 2_000 });
    await plant("old", { pid: process.pid, createdAt: now - 7_200_000 });
    await writeFile(join(lockDir, "torn.lock"), "{");
    await writeFile(join(lockDir, "notes.txt"), "not a lock");
    await writeFile(join(lockDir, "x.lock.0c5f0000-0000-4000-8000-000000000000.tmp"), "");
    const before = (await readdir(lockDir)).sort();

    const fs = createFaultyFileSystem();
    const observer = new LockManager({
      lockDir,
      fs,
      clock: new ManualClock(now),
      corruptGraceMs: Number.MAX_SAFE_INTEGER,
    });
    const locks = await observer.listLocks();
    expect(locks).toEqual([
      {
        name: "dead",
        path: join(lockDir, "dead.lock"),
        owner: expect.objectContaining({ pid: DEAD_PID, bootId: "boot-x", createdAt: now - 2_000 }),
        ageMs: 2_000,
        status: "stale",
        staleReason: "dead-pid",
        heldByThisManager: false,
      },
      {
        name: "live",
        path: join(lockDir, "live.lock"),
        owner: expect.objectContaining({ id: live.id, pid: process.pid, bootId: "boot-here" }),
        ageMs: 5_000,
        status: "live",
        staleReason: undefined,
        heldByThisManager: false,
      },
      expect.objectContaining({
        name: "old",
        status: "stale",
        staleReason: "expired",
        ageMs: 7_200_000,
      }),
      expect.objectContaining({
        name: "torn",
        status: "unreadable",
        owner: undefined,
        staleReason: undefined,
      }),
    ]);
    expect(changingCalls(fs)).toEqual([]);
    expect((await readdir(lockDir)).sort()).toEqual(before);
    expect((await holder.listLocks()).find((lock) => lock.name === "live")?.heldByThisManager).toBe(
      true,
    );
    await live.release();
  });

  it("gives an empty list for a missing directory, without creating it", async () => {
    expect(await new LockManager({ lockDir }).listLocks()).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe("breakLock", () => {
  it("removes the lock of a dead holder and says whose it was", async () => {
    await plant("dead", { pid: DEAD_PID, createdAt: Date.now() });
    const result = await new LockManager({ lockDir }).breakLock("dead");
    expect(result).toEqual({
      outcome: "broken",
      reason: "dead-pid",
      owner: expect.objectContaining({ pid: DEAD_PID, id: "dead-id" }),
    });
    expect(await readdir(lockDir)).toEqual([]);
  });

  it("refuses with LOCK_HELD when the holder is alive, and leaves the lock", async () => {
    const holder = new LockManager({ lockDir });
    const held = await holder.acquire("a");
    const error = await new LockManager({ lockDir })
      .breakLock("a")
      .catch((caught: unknown) => caught);
    expect(LockHeldError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ owner: expect.objectContaining({ id: held.id }) });
    expect(await held.release()).toBe(true);
  });

  it("refuses with LOCK_CORRUPT for a young unreadable file, breaks an old one", async () => {
    await mkdir(lockDir, { recursive: true });
    await writeFile(join(lockDir, "u.lock"), "");
    const locks = new LockManager({ lockDir, corruptGraceMs: 1_000 });
    expect(
      LockCorruptError.isInstance(await locks.breakLock("u").catch((caught: unknown) => caught)),
    ).toBe(true);
    const old = new Date(Date.now() - 60_000);
    await utimes(join(lockDir, "u.lock"), old, old);
    expect(await locks.breakLock("u")).toEqual({
      outcome: "broken",
      reason: "unreadable",
      owner: undefined,
    });
  });

  it("reports a lock that is not there, and checks the name", async () => {
    const locks = new LockManager({ lockDir });
    expect(await locks.breakLock("none")).toEqual({ outcome: "missing" });
    await expect(locks.breakLock("../x")).rejects.toMatchObject({ code: "INVALID_NAME" });
    expect(await readdir(dir)).toEqual([]);
  });
});

// A damaged byte in a lock file must never be judged as if it were the
// holder's record (a flipped pid digit naming a dead process would break a
// live holder's lock). Records carry a checksum; a damaged one counts as
// unreadable: LOCK_CORRUPT while young, and the file is left byte for byte.
import { readFile, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LOCK_FILE_VERSION, LockManager } from "../src/index.js";
import { DEAD_PID, useTempDir } from "./helpers.js";

let dir: string;
let lockDir: string;

useTempDir((made) => {
  dir = made;
  lockDir = join(dir, "locks");
});

describe("a flipped bit in a lock record", () => {
  it("at any byte never names another holder or breaks the lock, and the file stays as it is", {
    timeout: 60_000,
  }, async () => {
    const holder = new LockManager({ lockDir, maxAgeMs: Number.POSITIVE_INFINITY });
    const held = await holder.acquire("a");
    const path = join(lockDir, "a.lock");
    const original = await readFile(path);
    // Any pid but the holder's (this process) counts as dead: a damaged pid
    // digit would be broken at once if it were believed.
    const contender = new LockManager({
      lockDir,
      isProcessAlive: (pid) => pid === process.pid,
      retryBaseMs: 1,
    });
    // The identity (id, pid, bootId, createdAt, lockVersion) and its checksum
    // come first; the renewal (renewedAt and its own checksum) after.
    const identityEnd = original.indexOf('"sha256:') + '"sha256:'.length + 64;
    for (let offset = 0; offset < original.length; offset++) {
      // Every byte, with the flipped bit rotating through the eight positions.
      for (const bit of [offset % 8, (offset + 3) % 8]) {
        const damaged = Buffer.from(original);
        damaged[offset] = damaged[offset]! ^ (1 << bit);
        await writeFile(path, damaged);
        const label = `bit ${bit} of byte ${offset} (${String.fromCharCode(original[offset]!)})`;
        const error = await contender.acquire("a").catch((caught: unknown) => caught);
        const [listed] = await contender.listLocks();
        if (offset < identityEnd) {
          // A damaged identity is no record: never judged, never broken while young.
          expect(error, label).toMatchObject({ code: "LOCK_CORRUPT" });
          expect(listed, label).toMatchObject({ status: "unreadable", owner: undefined });
        } else {
          // A damaged renewal: the identity stands, the file's mtime dates the
          // holder's last renewal, and the lock stays the live holder's.
          expect(error, label).toMatchObject({ code: "LOCK_HELD", owner: { id: held.id } });
          expect(listed, label).toMatchObject({ status: "live", owner: { id: held.id } });
          expect(listed?.owner?.renewedAt, label).toBeUndefined();
        }
        expect(await readFile(path), label).toEqual(damaged);
      }
    }
    await writeFile(path, original);
    expect(await held.release()).toBe(true);
  });

  it("an old damaged record is removed as stale (unreadable) once older than corruptGraceMs", async () => {
    const holder = new LockManager({ lockDir });
    await holder.acquire("a");
    const path = join(lockDir, "a.lock");
    const damaged = await readFile(path);
    const at = damaged.indexOf('"pid":') + 7;
    damaged[at] = damaged[at]! ^ 1;
    await writeFile(path, damaged);
    const old = new Date(Date.now() - 60_000);
    await utimes(path, old, old);
    const contender = new LockManager({ lockDir, corruptGraceMs: 1_000 });
    const lock = await contender.acquire("a");
    expect(await lock.release()).toBe(true);
  });

  it("records of the previous format (no checksum) are still read", async () => {
    const { mkdir } = await import("node:fs/promises");
    await mkdir(lockDir, { recursive: true });
    await writeFile(
      join(lockDir, "a.lock"),
      JSON.stringify({
        id: "old",
        pid: DEAD_PID,
        bootId: "b",
        createdAt: Date.now(),
        lockVersion: 1,
      }),
    );
    const locks = new LockManager({ lockDir });
    expect(await locks.listLocks()).toEqual([
      expect.objectContaining({
        name: "a",
        status: "stale",
        staleReason: "dead-pid",
        owner: expect.objectContaining({ id: "old", lockVersion: 1 }),
      }),
    ]);
    await (await locks.acquire("a")).release();
  });

  it("this version writes lockVersion 2: the identity with its checksum, then the renewal with its own", async () => {
    const locks = new LockManager({ lockDir });
    const lock = await locks.acquire("a");
    const text = await readFile(join(lockDir, "a.lock"), "utf8");
    expect(LOCK_FILE_VERSION).toBe(2);
    expect(text).toMatch(
      /^\{"id":"[0-9a-f-]{36}","pid":\d+,"bootId":"[^"]+","createdAt":(\d+),"lockVersion":2,"checksum":"sha256:[0-9a-f]{64}","renewedAt":\1,"renewal":"[0-9a-f]{16}"\}$/,
    );
    await lock.release();
  });
});

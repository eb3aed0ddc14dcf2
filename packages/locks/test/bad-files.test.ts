// Issue 12, "bad-files matrix", for the lock manager: a live holder's lock
// file and a leftover temporary file truncated, with a flipped bit, replaced
// by garbage, by a directory, by a symbolic link, or made unreadable (chmod
// 000); the lock directory read-only; the disk full. Each case ends in a typed
// error (a code) or the documented recovery: a live holder's lock is never
// taken, nothing is written through a link, nothing outside the lock
// directory is touched. The tests run as root: they mount small tmpfs
// filesystems, and read as `nobody` where root's permissions hide a chmod 000.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmod,
  chown,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rm,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LockManager } from "../src/index.js";
import { encodeOwner } from "../src/lock-owner.js";
import { DEAD_PID, fingerprint, makeTempDir, withTmpfs } from "./helpers.js";

type Damage = "truncate" | "bit-flip" | "garbage" | "directory" | "symlink" | "chmod-000";
const damages: Damage[] = ["truncate", "bit-flip", "garbage", "directory", "symlink", "chmod-000"];
const NOBODY = 65534;
const childFixture = fileURLToPath(new URL("./fixtures/acquire-as-nobody.mjs", import.meta.url));

let root: string;
let cleanup: () => Promise<void>;
let lockDir: string;
let outside: string;

beforeEach(async () => {
  ({ dir: root, cleanup } = await makeTempDir());
  lockDir = join(root, "locks");
  outside = join(root, "outside.json");
  // What a reader following a link would find: a dead holder's record, to break.
  await writeFile(
    outside,
    encodeOwner({ id: "x", pid: DEAD_PID, bootId: "b", createdAt: Date.now(), lockVersion: 2 }),
    { mode: 0o644 },
  );
});
afterEach(async () => {
  await cleanup();
});

async function damage(file: string, how: Damage): Promise<void> {
  const bytes = await readFile(file);
  switch (how) {
    case "truncate":
      await writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
      return;
    case "bit-flip": {
      const flipped = Buffer.from(bytes);
      const at = bytes.indexOf('"pid":') + 7; // a pid digit: the worst place
      flipped[at] = flipped[at]! ^ 0b1;
      await writeFile(file, flipped);
      return;
    }
    case "garbage":
      await writeFile(file, randomBytes(bytes.length));
      return;
    case "directory":
      await rm(file);
      await mkdir(file);
      return;
    case "symlink":
      await rm(file);
      await symlink(outside, file);
      return;
    case "chmod-000":
      await chmod(file, 0o000);
      return;
  }
}

/** Names, kinds and bytes of every entry of the lock directory. */
async function entries(): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const entry of (await readdir(lockDir)).sort()) {
    const info = await lstat(join(lockDir, entry));
    found[entry] = info.isSymbolicLink()
      ? "link"
      : info.isDirectory()
        ? "directory"
        : (await readFile(join(lockDir, entry))).toString("base64");
  }
  return found;
}

/** The documented outcome of a contender's acquire() over a live holder's damaged lock. */
const contenderOutcome: Record<Damage, string> = {
  truncate: "LOCK_CORRUPT",
  "bit-flip": "LOCK_CORRUPT",
  garbage: "LOCK_CORRUPT",
  directory: "LOCK_IO_FAILED",
  symlink: "SYMLINK_REFUSED",
  "chmod-000": "LOCK_HELD", // root reads it anyway
};

describe("a live holder's damaged lock file", () => {
  for (const how of damages) {
    it(`${how}: a contender gets ${contenderOutcome[how]}, the holder's lock is never taken`, async () => {
      const holder = new LockManager({ lockDir });
      const held = await holder.acquire("a");
      const file = join(lockDir, "a.lock");
      await damage(file, how);
      const before = await entries();
      const outsideBefore = await fingerprint(outside);
      const contender = new LockManager({ lockDir, retryBaseMs: 1 });
      await expect(contender.acquire("a")).rejects.toMatchObject({
        code: contenderOutcome[how],
      });
      const recovery = await contender.recoverStaleLocks();
      expect(recovery.recovered).toEqual([]);
      const [listed] = await contender.listLocks();
      expect(listed).toMatchObject({
        name: "a",
        status: how === "chmod-000" ? "live" : "unreadable",
      });
      await expect(contender.breakLock("a")).rejects.toMatchObject({
        code: how === "chmod-000" ? "LOCK_HELD" : contenderOutcome[how],
      });
      // The contender changed nothing (its own temporary files are gone).
      expect(await entries()).toEqual(before);
      // The holder: its own record is released; a file that is no longer
      // its record is reported lost and left alone; a directory is an error.
      if (how === "directory") {
        await expect(held.release()).rejects.toMatchObject({
          code: "LOCK_IO_FAILED",
          errorCode: "EISDIR",
        });
      } else {
        expect(await held.release()).toBe(how === "chmod-000");
      }
      expect(await fingerprint(outside)).toEqual(outsideBefore);
      expect((await readdir(root)).sort()).toEqual(["locks", "outside.json"]);
    });
  }

  it("a damaged record older than corruptGraceMs is broken as unreadable (the documented recovery)", async () => {
    const holder = new LockManager({ lockDir });
    await holder.acquire("a");
    const file = join(lockDir, "a.lock");
    await damage(file, "bit-flip");
    const old = new Date(Date.now() - 60_000);
    await utimes(file, old, old);
    const contender = new LockManager({ lockDir, corruptGraceMs: 10_000 });
    expect((await contender.listLocks())[0]).toMatchObject({
      status: "stale",
      staleReason: "unreadable",
    });
    const lock = await contender.acquire("a");
    expect(await lock.release()).toBe(true);
    await holder.releaseAll();
  });

  it("chmod 000 for an unprivileged contender: EACCES, nothing changed", async () => {
    const holder = new LockManager({ lockDir });
    const held = await holder.acquire("a");
    await chown(root, NOBODY, NOBODY);
    await chown(lockDir, NOBODY, NOBODY);
    await chmod(join(lockDir, "a.lock"), 0o000);
    const before = await entries();
    const child = spawnSync(process.execPath, [childFixture, lockDir, "a", String(NOBODY)], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(child.stderr).toBe("");
    expect(JSON.parse(child.stdout)).toEqual({
      ok: false,
      code: "LOCK_IO_FAILED",
      errorCode: "EACCES",
    });
    expect(await entries()).toEqual(before);
    expect(await held.release()).toBe(true);
  });
});

describe("a damaged leftover temporary file", () => {
  for (const how of damages) {
    it(`${how}: never blocks a lock, never followed, removed only when provably stale`, async () => {
      await mkdir(lockDir, { recursive: true });
      const temp = join(lockDir, "a.lock.0c5f0000-0000-4000-8000-000000000000.tmp");
      await writeFile(
        temp,
        encodeOwner({
          id: "0c5f",
          pid: DEAD_PID,
          bootId: "b",
          createdAt: Date.now(),
          lockVersion: 2,
        }),
        { mode: 0o600 },
      );
      await damage(temp, how);
      const outsideBefore = await fingerprint(outside);
      const locks = new LockManager({ lockDir });
      const lock = await locks.acquire("a");
      expect(await lock.release()).toBe(true);
      await locks.recoverStaleLocks();
      const left = await readdir(lockDir);
      // A readable dead creator's record goes at once; an unreadable file is
      // young (its mtime is now), a directory or a link is not a file to judge.
      expect(left).toEqual(how === "chmod-000" ? [] : [temp.slice(lockDir.length + 1)]);
      expect(await fingerprint(outside)).toEqual(outsideBefore);
    });
  }
});

describe("the lock directory", () => {
  it("read-only: acquire() and release() fail with EROFS, listing works, nothing is half-taken", async () => {
    await withTmpfs(256, async ({ dir, remount }) => {
      const holder = new LockManager({ lockDir: dir });
      const held = await holder.acquire("a");
      remount("ro");
      const contender = new LockManager({ lockDir: dir });
      await expect(contender.acquire("a")).rejects.toMatchObject({
        code: "LOCK_IO_FAILED",
        errorCode: "EROFS",
      });
      await expect(contender.acquire("b")).rejects.toMatchObject({
        code: "LOCK_IO_FAILED",
        errorCode: "EROFS",
      });
      expect(await contender.listLocks()).toEqual([
        expect.objectContaining({
          name: "a",
          status: "live",
          owner: expect.objectContaining({ id: held.id }),
        }),
      ]);
      await expect(held.release()).rejects.toMatchObject({
        code: "LOCK_IO_FAILED",
        errorCode: "EROFS",
      });
      expect(holder.heldLocks).toEqual(["a"]);
      remount("rw");
      expect(await held.release()).toBe(true);
      expect(await readdir(dir)).toEqual([]);
    });
  });

  it("full (ENOSPC): acquire() fails with ENOSPC leaving nothing, and works once there is room", async () => {
    await withTmpfs(64, async ({ dir }) => {
      const locks = new LockManager({ lockDir: join(dir, "locks") });
      await (await locks.acquire("warm")).release();
      const filler = join(dir, "filler");
      const handle = await open(filler, "w");
      try {
        for (;;) await handle.write(Buffer.alloc(4096));
      } catch (error) {
        expect(error).toMatchObject({ code: "ENOSPC" });
      } finally {
        await handle.close();
      }
      await expect(locks.acquire("a")).rejects.toMatchObject({
        code: "LOCK_IO_FAILED",
        errorCode: "ENOSPC",
      });
      expect(await readdir(join(dir, "locks"))).toEqual([]);
      // Not an fsync failure: the manager goes on once there is room.
      await rm(filler);
      await (await locks.acquire("a")).release();
    });
  });
});

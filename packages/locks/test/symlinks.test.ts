// Issue 12, finding 4: no lock file is opened through a symbolic link. A link
// planted where a lock file belongs is a typed error (SYMLINK_REFUSED): its
// target is never read to judge the lock, never written, and the link stays.
import { lstat, mkdir, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SymlinkRefusedError } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type LockLostEvent, LockManager } from "../src/index.js";
import { DEAD_PID, fingerprint, makeTempDir } from "./helpers.js";

let dir: string;
let cleanup: () => Promise<void>;
let lockDir: string;
let outside: string;

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  lockDir = join(dir, "locks");
  await mkdir(lockDir);
  // Outside the lock directory: a record of a dead holder, which a reader
  // following the link would break and replace.
  outside = join(dir, "outside.json");
  await writeFile(
    outside,
    JSON.stringify({ id: "x", pid: DEAD_PID, bootId: "b", createdAt: 1, lockVersion: 1 }),
    { mode: 0o644 },
  );
});
afterEach(async () => {
  await cleanup();
});

describe("a symbolic link where a lock file belongs", () => {
  it("acquire() rejects with SYMLINK_REFUSED; recovery, listing and breaking leave it alone", async () => {
    const link = join(lockDir, "a.lock");
    await symlink(outside, link);
    const before = await fingerprint(outside);
    const locks = new LockManager({ lockDir });
    const error = await locks.acquire("a", { waitMs: 50 }).catch((caught: unknown) => caught);
    expect(SymlinkRefusedError.isInstance(error), String(error)).toBe(true);
    expect(error).toMatchObject({ code: "SYMLINK_REFUSED", path: link });
    expect(await locks.recoverStaleLocks()).toEqual({ recovered: [], live: [], failed: ["a"] });
    expect(await locks.listLocks()).toEqual([
      expect.objectContaining({ name: "a", path: link, status: "unreadable", owner: undefined }),
    ]);
    await expect(locks.breakLock("a")).rejects.toMatchObject({ code: "SYMLINK_REFUSED" });
    expect(await fingerprint(outside)).toEqual(before);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe(outside);
  });

  it("a held lock replaced by a link is lost at release and renewal, and nothing is written through it", async () => {
    const lost: LockLostEvent[] = [];
    const locks = new LockManager({ lockDir, onLockLost: (event) => lost.push(event) });
    const held = await locks.acquire("a");
    await rm(join(lockDir, "a.lock"));
    await symlink(outside, join(lockDir, "a.lock"));
    const before = await fingerprint(outside);
    expect(await held.release()).toBe(false);
    expect(lost).toEqual([{ name: "a", id: held.id, reason: "taken-over" }]);
    expect(await fingerprint(outside)).toEqual(before);
    expect((await lstat(join(lockDir, "a.lock"))).isSymbolicLink()).toBe(true);
  });

  it("a leftover temporary file that is a link is reported, not followed or removed", async () => {
    const link = join(lockDir, "a.lock.0c5f0000-0000-4000-8000-000000000000.tmp");
    await symlink(outside, link);
    const before = await fingerprint(outside);
    await new LockManager({ lockDir }).recoverStaleLocks();
    expect(await fingerprint(outside)).toEqual(before);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
  });
});

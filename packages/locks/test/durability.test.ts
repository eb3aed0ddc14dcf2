// Issue 12, finding 10 and "fsync failures fail stop", for the lock manager:
// the lock directory is made durable in its parent; every call goes through
// the injected FileSystem (link included); an acquire whose fsync failed never
// reports success, and the manager then refuses to take locks.
import { readdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createFaultyFileSystem, FailStoppedError, nodeFileSystem } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { LockManager } from "../src/index.js";
import { useTempDir } from "./helpers.js";

let dir: string;

useTempDir((made) => {
  dir = made;
});

describe("the lock directory", () => {
  it("fsyncs the parent of every level it creates, before the first lock file", async () => {
    const levels = [join(dir, "a"), join(dir, "a", "b"), join(dir, "a", "b", "locks")];
    const fs = createFaultyFileSystem();
    const locks = new LockManager({ lockDir: levels[2]!, fs });
    await (await locks.acquire("x")).release();
    const calls = fs.calls.map((call) => `${call.operation} ${call.path}`);
    const firstOpen = calls.findIndex((call) => call.startsWith(`open ${levels[2]}/`));
    for (const level of levels) {
      const made = calls.indexOf(`mkdir ${level}`);
      expect(made, `mkdir ${level}`).toBeGreaterThanOrEqual(0);
      const synced = calls.indexOf(`fsyncDirectory ${dirname(level)}`, made);
      expect(synced, `fsync ${dirname(level)}`).toBeGreaterThan(made);
      expect(synced).toBeLessThan(firstOpen);
      expect((await stat(level)).mode & 0o777).toBe(0o700);
    }
  });
});

describe("the injected FileSystem", () => {
  it("receives the link call: a fault injected there reaches acquire()", async () => {
    const fs = createFaultyFileSystem({
      inject: (call) => (call.operation === "link" ? { error: "EMLINK" } : undefined),
    });
    const locks = new LockManager({ lockDir: join(dir, "locks"), fs });
    await expect(locks.acquire("x")).rejects.toMatchObject({
      code: "LOCK_IO_FAILED",
      errorCode: "EMLINK",
    });
    expect(await readdir(join(dir, "locks"))).toEqual([]);
  });

  it("must have link: one without it is refused at construction, naming it", () => {
    const { link: _link, ...withoutLink } = nodeFileSystem;
    expect(() => new LockManager({ lockDir: dir, fs: withoutLink as never })).toThrow(
      /fs\.link must be a function/,
    );
  });
});

describe("an fsync that fails", () => {
  for (const operation of ["sync", "fsyncDirectory"] as const) {
    it(`(${operation}) fails that acquire with FAIL_STOPPED, leaves nothing, and stops later acquires`, async () => {
      const lockDir = join(dir, "locks");
      let armed = false;
      let failedAt = -1;
      const fs = createFaultyFileSystem({
        inject: (call) => {
          if (!armed || failedAt >= 0 || call.operation !== operation) return undefined;
          failedAt = call.index;
          return { error: "EIO" };
        },
      });
      const locks = new LockManager({ lockDir, fs });
      const kept = await locks.acquire("kept");
      armed = true;
      const error = await locks.acquire("x").catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(FailStoppedError);
      expect(error).toMatchObject({
        code: "FAIL_STOPPED",
        path: join(lockDir, "x.lock"),
        cause: expect.objectContaining({ code: "EIO" }),
      });
      expect((await readdir(lockDir)).sort()).toEqual(["kept.lock"]);
      expect(locks.heldLocks).toEqual(["kept"]);
      const callsAtStop = fs.calls.length;
      for (const name of ["x", "y"]) {
        await expect(locks.acquire(name)).rejects.toMatchObject({
          code: "FAIL_STOPPED",
          cause: expect.objectContaining({ code: "EIO" }),
        });
      }
      expect(fs.calls.length).toBe(callsAtStop);
      // Locks already held still release; a new manager takes locks again.
      expect(await kept.release()).toBe(true);
      const fresh = new LockManager({ lockDir });
      await (await fresh.acquire("x")).release();
      expect(await readdir(lockDir)).toEqual([]);
    });
  }
});

// Every option is checked at construction, before any disk access, and the
// files the manager creates are private (issue 11, finding 4).
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { createFaultyFileSystem, nodeFileSystem } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { LockManager } from "../src/index.js";
import { useTempDir } from "./helpers.js";

let dir: string;

useTempDir((made) => {
  dir = made;
});

describe("options", () => {
  it("refuses a logger, clock or fs that lacks what the manager calls, naming it", () => {
    const lockDir = join(dir, "locks");
    expect(() => new LockManager({ lockDir, logger: { warn() {} } as never })).toThrow(/logger/);
    expect(() => new LockManager({ lockDir, clock: { now: () => 0 } as never })).toThrow(/clock/);
    expect(() => new LockManager({ lockDir, fs: 5 as never })).toThrow(TypeError);
    expect(
      () => new LockManager({ lockDir, fs: { ...nodeFileSystem, rename: 1 } as never }),
    ).not.toThrow();
    expect(
      () => new LockManager({ lockDir, fs: { ...nodeFileSystem, unlink: 1 } as never }),
    ).toThrow(/fs\.unlink/);
  });

  it("refuses per-call options of the wrong type before touching the disk", async () => {
    const fs = createFaultyFileSystem();
    const locks = new LockManager({ lockDir: join(dir, "locks"), fs });
    await expect(locks.acquire("a", { signal: {} as never })).rejects.toThrow(TypeError);
    await expect(locks.acquire("a", "fast" as never)).rejects.toThrow(TypeError);
    expect(fs.calls).toEqual([]);
  });
});

describe("modes", () => {
  it("lock directory levels 0700, lock files 0600, even with umask 0", async () => {
    const previous = process.umask(0o000);
    try {
      const lockDir = join(dir, "a", "locks");
      const locks = new LockManager({ lockDir });
      const lock = await locks.acquire("x");
      expect((await stat(join(dir, "a"))).mode & 0o777).toBe(0o700);
      expect((await stat(lockDir)).mode & 0o777).toBe(0o700);
      expect((await stat(join(lockDir, "x.lock"))).mode & 0o777).toBe(0o600);
      expect(await readdir(lockDir)).toEqual(["x.lock"]);
      await lock.release();
    } finally {
      process.umask(previous);
    }
  });
});

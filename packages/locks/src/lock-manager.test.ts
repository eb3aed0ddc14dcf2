import {
  link,
  mkdir,
  readdir,
  readFile,
  rm,
  stat as statFile,
  utimes,
  writeFile,
} from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import {
  type FileHandleLike,
  InvalidNameError,
  ManualClock,
  nodeFileSystem,
  silentLogger,
  systemClock,
} from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  errnoError,
  faultyFileSystem,
  makeTempDir,
  opensForUpdate,
  opensToCreate,
  recordingLogger,
  shiftedClock,
} from "./__fixtures__/harness.js";
import { LockCorruptError, LockHeldError } from "./errors.js";
import { LockManager } from "./lock-manager.js";
import type { LockOwner } from "./lock-owner.js";
import { LOCK_MANAGER_DEFAULTS, type LockFileSystem, type LockLostEvent } from "./options.js";
import { processStartedAt } from "./process-identity.js";

const HOUR = 3_600_000;
/** A pid that no test process has: kill(2) rejects it with ESRCH on Linux (pid_max is at most 2^22). */
const DEAD_PID = 2 ** 22 + 12_345;

let dir: string;
let cleanup: () => Promise<void>;
let lockDir: string;
const managers: LockManager[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  lockDir = join(dir, "locks");
});

afterEach(async () => {
  for (const manager of managers.splice(0)) await manager.releaseAll().catch(() => undefined);
  await cleanup();
});

function manager(options: Partial<ConstructorParameters<typeof LockManager>[0]> = {}): LockManager {
  const created = new LockManager({ lockDir, retryBaseMs: 2, retryMaxMs: 10, ...options });
  managers.push(created);
  return created;
}

const lockPath = (name: string) => join(lockDir, `${name}.lock`);

async function writeLock(
  name: string,
  owner: Partial<LockOwner> & Record<string, unknown>,
): Promise<Buffer> {
  await mkdir(lockDir, { recursive: true });
  const record = {
    id: "someone-else",
    pid: DEAD_PID,
    bootId: "other-boot",
    createdAt: Date.now(),
    lockVersion: 1,
    ...owner,
  };
  const bytes = Buffer.from(JSON.stringify(record));
  await writeFile(lockPath(name), bytes);
  return bytes;
}

async function exists(path: string): Promise<boolean> {
  return statFile(path).then(
    () => true,
    () => false,
  );
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (error: unknown) => error,
  );
}

/** The parent of every level of `path`, top down: what core's ensureDurableDirectory fsyncs. */
function parentsOfEveryLevel(path: string): string[] {
  const parents: string[] = [];
  for (let level = path; dirname(level) !== level; level = dirname(level)) {
    parents.unshift(dirname(level));
  }
  return parents;
}

describe("acquire and release", () => {
  it("creates {lockDir}/{name}.lock (0600) holding the owner record, and release removes it", async () => {
    const locks = manager({ bootId: "boot-1" });
    const before = Date.now();
    const lock = await locks.acquire("dedup-index");
    expect(lock.name).toBe("dedup-index");
    const record = JSON.parse(await readFile(lockPath("dedup-index"), "utf8"));
    expect(record).toEqual({
      id: lock.id,
      pid: process.pid,
      bootId: "boot-1",
      createdAt: expect.any(Number),
      lockVersion: 2,
      checksum: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      renewedAt: record.createdAt,
      renewal: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(record.createdAt).toBeGreaterThanOrEqual(before);
    expect((await statFile(lockPath("dedup-index"))).mode & 0o777).toBe(0o600);
    expect((await statFile(lockDir)).mode & 0o777).toBe(0o700);
    expect(locks.heldLocks).toEqual(["dedup-index"]);

    expect(await lock.release()).toBe(true);
    expect(await exists(lockPath("dedup-index"))).toBe(false);
    expect(locks.heldLocks).toEqual([]);
    expect(await lock.release()).toBe(false);
    expect(await locks.release("dedup-index")).toBe(false);
  });

  it("gives each acquisition a new id, and the lock can be taken again after release", async () => {
    const locks = manager();
    const first = await locks.acquire("a");
    await first.release();
    const second = await locks.acquire("a");
    expect(second.id).not.toBe(first.id);
    expect(await locks.release("a")).toBe(true);
  });

  it("fsyncs the lock file and then the directory before acquire resolves", async () => {
    const calls: string[] = [];
    const fs = faultyFileSystem({
      async open(path, flags, mode) {
        const handle = await nodeFileSystem.open(path, flags, mode);
        return {
          ...bind(handle),
          write: async (...args: Parameters<FileHandleLike["write"]>) => {
            calls.push("write");
            return handle.write(...args);
          },
          sync: async () => {
            calls.push("sync");
            await handle.sync();
          },
          close: async () => {
            calls.push("close");
            await handle.close();
          },
        };
      },
      async fsyncDirectory(path) {
        calls.push(`fsyncDirectory ${path}`);
        await nodeFileSystem.fsyncDirectory(path);
      },
    });
    const opened: string[] = [];
    const { open } = fs;
    const lock = await manager({
      fs: {
        ...fs,
        open: (path, flags, mode) => {
          if (opensToCreate(flags)) opened.push(path);
          return open(path, flags, mode);
        },
        link: async (from, to) => {
          calls.push(`link ${basename(from)} ${basename(to)}`);
          await link(from, to);
        },
        unlink: async (path) => {
          calls.push(`unlink ${basename(path)}`);
          await nodeFileSystem.unlink(path);
        },
      },
    }).acquire("a");
    // The new lock directory is made durable in its parent; the record is
    // written and fsynced under a temporary name, linked to a.lock (so it
    // appears whole), and the directory is fsynced last.
    const temp = `a.lock.${lock.id}.tmp`;
    expect(opened).toEqual([join(lockDir, temp)]);
    expect(calls).toEqual([
      ...parentsOfEveryLevel(lockDir).map((parent) => `fsyncDirectory ${parent}`),
      "write",
      "sync",
      "close",
      `link ${temp} a.lock`,
      `unlink ${temp}`,
      `fsyncDirectory ${lockDir}`,
    ]);
  });

  it("skips both fsyncs with fsync: false, and the lock works the same", async () => {
    const synced: string[] = [];
    const fs = faultyFileSystem({
      async open(path, flags, mode) {
        const handle = await nodeFileSystem.open(path, flags, mode);
        return {
          ...bind(handle),
          sync: async () => {
            synced.push("file");
            await handle.sync();
          },
        };
      },
      async fsyncDirectory(path) {
        synced.push("directory");
        await nodeFileSystem.fsyncDirectory(path);
      },
    });
    const locks = manager({ fs, fsync: false });
    const lock = await locks.acquire("a");
    await expect(manager().acquire("a")).rejects.toBeInstanceOf(LockHeldError);
    expect(await lock.release()).toBe(true);
    expect(synced).toEqual([]);
  });

  it("loops on short writes until the whole record is on disk", async () => {
    const fs = faultyFileSystem({
      async open(path, flags, mode) {
        const handle = await nodeFileSystem.open(path, flags, mode);
        return {
          ...bind(handle),
          write: (
            buffer: Uint8Array,
            offset = 0,
            length = buffer.length,
            position?: number | null,
          ) => handle.write(buffer, offset, Math.min(length, 7), position),
        };
      },
    });
    const lock = await manager({ fs }).acquire("short");
    expect(JSON.parse(await readFile(lockPath("short"), "utf8")).id).toBe(lock.id);
  });

  it("is not re-entrant: the same manager, or another in this process, sees the lock as held", async () => {
    const locks = manager();
    const lock = await locks.acquire("a");
    const again = await rejection(locks.acquire("a"));
    expect(again).toBeInstanceOf(LockHeldError);
    expect((again as LockHeldError).owner.id).toBe(lock.id);
    const other = await rejection(manager().acquire("a"));
    expect(LockHeldError.isInstance(other)).toBe(true);
  });

  it("keeps locks of different names independent", async () => {
    const locks = manager();
    await locks.acquire("a");
    await locks.acquire("b");
    expect(locks.heldLocks.sort()).toEqual(["a", "b"]);
  });

  it("works with await using: released at the end of the block, also when the block throws", async () => {
    const locks = manager();
    {
      await using lock = await locks.acquire("scoped");
      expect(await exists(lockPath(lock.name))).toBe(true);
    }
    expect(await exists(lockPath("scoped"))).toBe(false);

    await expect(
      (async () => {
        await using _lock = await locks.acquire("scoped");
        throw new Error("boom");
      })(),
    ).rejects.toThrow("boom");
    expect(await exists(lockPath("scoped"))).toBe(false);
    expect(locks.heldLocks).toEqual([]);
  });

  it("rejects unsafe names with INVALID_NAME before touching the disk", async () => {
    const locks = manager();
    for (const name of ["", "../escape", "a/b", "a\\b", "nul\0", "..", "."]) {
      await expect(locks.acquire(name)).rejects.toBeInstanceOf(InvalidNameError);
    }
    await expect(locks.release("../escape")).rejects.toBeInstanceOf(InvalidNameError);
    expect(await exists(lockDir)).toBe(false);
  });

  it("resolves a relative lockDir once, at construction", () => {
    const locks = new LockManager({ lockDir: "relative/locks" });
    expect(locks.lockDir).toBe(join(process.cwd(), "relative/locks"));
  });
});

describe("a lock held by someone else", () => {
  it("throws LOCK_HELD with the owner's record when the owner is alive", async () => {
    const bytes = await writeLock("a", {
      id: "theirs",
      pid: 4242,
      bootId: "their-boot",
      createdAt: 1_700_000_000_000,
    });
    const isProcessAlive = vi.fn(() => true);
    const error = await rejection(
      manager({ isProcessAlive, clock: { ...systemClock, now: () => 1_700_000_100_000 } }).acquire(
        "a",
      ),
    );
    expect(error).toBeInstanceOf(LockHeldError);
    const held = error as LockHeldError;
    expect(held.code).toBe("LOCK_HELD");
    expect(held.lockName).toBe("a");
    expect(held.owner).toEqual({
      id: "theirs",
      pid: 4242,
      bootId: "their-boot",
      createdAt: 1_700_000_000_000,
      lockVersion: 1,
    });
    expect(held.waitedMs).toBe(0);
    expect(held.message).toContain("pid 4242");
    expect(isProcessAlive).toHaveBeenCalledWith(4242);
    expect(await readFile(lockPath("a"))).toEqual(bytes);
  });

  it("waits with waitMs until the holder releases", async () => {
    const holder = manager();
    const lock = await holder.acquire("a");
    const waiting = manager().acquire("a", { waitMs: 5_000 });
    setTimeout(() => void lock.release(), 50);
    const mine = await waiting;
    expect(JSON.parse(await readFile(lockPath("a"), "utf8")).id).toBe(mine.id);
  });

  it("gives up with LOCK_HELD once waitMs runs out, reporting how long it waited", async () => {
    await manager().acquire("a");
    const started = Date.now();
    const error = await rejection(manager().acquire("a", { waitMs: 80 }));
    expect(LockHeldError.isInstance(error)).toBe(true);
    expect((error as LockHeldError).waitedMs).toBeGreaterThanOrEqual(80);
    expect((error as LockHeldError).message).toContain("after waiting");
    expect(Date.now() - started).toBeGreaterThanOrEqual(80);
  });

  it("backs off exponentially between tries, capped by retryMaxMs, on the injected clock", async () => {
    await writeLock("a", { pid: 4242 });
    const clock = new ManualClock(Date.now());
    const delays: number[] = [];
    const recordingClock = {
      now: () => clock.now(),
      setTimeout: (callback: () => void, ms: number) => {
        delays.push(ms);
        return clock.setTimeout(callback, ms);
      },
      clearTimeout: (handle: Parameters<ManualClock["clearTimeout"]>[0]) =>
        clock.clearTimeout(handle),
    };
    let tries = 0;
    const locks = manager({
      clock: recordingClock,
      retryBaseMs: 100,
      retryMaxMs: 400,
      isProcessAlive: () => {
        tries++;
        return true;
      },
    });
    let settled = false;
    const outcome = locks
      .acquire("a", { waitMs: 2_000 })
      .catch((error: unknown) => error)
      .finally(() => {
        settled = true;
      });
    // Fire each backoff timer as soon as it is armed (real I/O runs in between).
    for (let step = 0; step < 100_000 && !settled; step++) {
      await new Promise((resolve) => setImmediate(resolve));
      if (clock.pendingTimers > 0) clock.advance(delays.at(-1) ?? 0);
    }
    expect(LockHeldError.isInstance(await outcome)).toBe(true);
    // Jitter keeps each delay within [ceiling / 2, ceiling]; ceilings 100, 200, 400, 400...
    expect(delays[0]).toBeGreaterThanOrEqual(50);
    expect(delays[0]).toBeLessThanOrEqual(100);
    expect(delays[1]).toBeGreaterThanOrEqual(100);
    expect(delays[1]).toBeLessThanOrEqual(200);
    for (const ms of delays.slice(2)) expect(ms).toBeLessThanOrEqual(400);
    // The waits add up to waitMs: the last one is cut to end at the deadline.
    expect(delays.reduce((sum, ms) => sum + ms, 0)).toBeCloseTo(2_000, 2);
    expect(tries).toBe(delays.length + 1);
  });

  it("stops waiting when the signal aborts, with the signal's reason", async () => {
    await manager().acquire("a");
    const controller = new AbortController();
    const waiting = manager().acquire("a", { waitMs: 60_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error("shutting down")), 30);
    await expect(waiting).rejects.toThrow("shutting down");
  });

  it("rejects at once with an already aborted signal, without touching the disk", async () => {
    const reason = new Error("already aborted");
    await expect(manager().acquire("a", { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
    expect(await exists(lockDir)).toBe(false);
  });

  it("rejects a bad waitMs with a RangeError naming it", async () => {
    await expect(manager().acquire("a", { waitMs: -1 })).rejects.toThrow(RangeError);
    await expect(manager().acquire("a", { waitMs: Number.NaN })).rejects.toThrow(/waitMs/);
  });
});

describe("staleness", () => {
  it("treats a lock older than maxAgeMs as stale whatever its pid, without asking about the pid", async () => {
    await writeLock("a", { pid: process.ppid, createdAt: Date.now() - 2 * HOUR });
    const isProcessAlive = vi.fn(() => true);
    const logger = recordingLogger();
    const lock = await manager({ isProcessAlive, logger }).acquire("a");
    expect(isProcessAlive).not.toHaveBeenCalled();
    expect(JSON.parse(await readFile(lockPath("a"), "utf8")).id).toBe(lock.id);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({
        level: "warn",
        message: "Removed stale lock",
        data: expect.objectContaining({ name: "a", reason: "expired", sameBoot: false }),
      }),
    );
  });

  it("counts the age from renewedAt when the holder renewed the lock", async () => {
    await writeLock("a", {
      pid: 4242,
      createdAt: Date.now() - 5 * HOUR,
      renewedAt: Date.now() - 1_000,
    });
    const error = await rejection(manager({ isProcessAlive: () => true }).acquire("a"));
    expect(LockHeldError.isInstance(error)).toBe(true);
    expect((error as LockHeldError).owner.renewedAt).toBeDefined();
  });

  it("honours a custom maxAgeMs, and Infinity turns the backstop off", async () => {
    await writeLock("a", { pid: 4242, createdAt: Date.now() - 10 * HOUR });
    await expect(
      manager({ isProcessAlive: () => true, maxAgeMs: Number.POSITIVE_INFINITY }).acquire("a"),
    ).rejects.toBeInstanceOf(LockHeldError);
    await writeLock("b", { pid: 4242, createdAt: Date.now() - 1_000 });
    await expect(
      manager({ isProcessAlive: () => true, maxAgeMs: 500 }).acquire("b"),
    ).resolves.toHaveProperty("name", "b");
  });

  it("treats a young lock of a dead pid (ESRCH) as stale, with the default liveness check", async () => {
    await writeLock("a", { pid: DEAD_PID, bootId: "boot-x" });
    const logger = recordingLogger();
    const lock = await manager({ logger, bootId: "boot-x" }).acquire("a");
    expect(lock.name).toBe("a");
    expect(logger.entries).toContainEqual(
      expect.objectContaining({
        data: expect.objectContaining({ reason: "dead-pid", sameBoot: true }),
      }),
    );
  });

  it("keeps a young lock of a live pid, even when its boot id differs (boot id is diagnostic only)", async () => {
    await writeLock("a", { pid: process.ppid, bootId: "another-boot" });
    const logger = recordingLogger();
    await expect(manager({ logger }).acquire("a")).rejects.toBeInstanceOf(LockHeldError);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: "debug", data: expect.objectContaining({ name: "a" }) }),
    );
  });

  it("treats a lock carrying this process's pid but created before it started as stale (pid reused)", async () => {
    await writeLock("a", { pid: process.pid, createdAt: processStartedAt - 60_000 });
    const logger = recordingLogger();
    const isProcessAlive = vi.fn(() => true);
    await manager({ logger, isProcessAlive }).acquire("a");
    expect(isProcessAlive).not.toHaveBeenCalled();
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ data: expect.objectContaining({ reason: "pid-reused" }) }),
    );
  });

  it("keeps a lock carrying this process's pid created after it started (another thread may hold it)", async () => {
    await writeLock("a", { pid: process.pid, createdAt: Date.now() });
    await expect(manager().acquire("a")).rejects.toBeInstanceOf(LockHeldError);
  });

  it("keeps a lock of another manager in this process even when the injected clock predates the process", async () => {
    const clock = new ManualClock(1_000);
    await manager({ clock, maxAgeMs: Number.POSITIVE_INFINITY }).acquire("a");
    const error = await rejection(
      manager({ clock, maxAgeMs: Number.POSITIVE_INFINITY }).acquire("a"),
    );
    expect(LockHeldError.isInstance(error)).toBe(true);
  });
});

describe("empty or unreadable lock files", () => {
  for (const [label, content] of [
    ["empty", ""],
    ["truncated", '{"id":"x","pid":12'],
    ["not a record", '{"hello":"world"}'],
  ] as const) {
    it(`leaves a young ${label} lock file alone (LOCK_CORRUPT) and removes it once older than the grace period`, async () => {
      await mkdir(lockDir, { recursive: true });
      await writeFile(lockPath("a"), content);
      const young = await rejection(manager({ corruptGraceMs: 10_000 }).acquire("a"));
      expect(young).toBeInstanceOf(LockCorruptError);
      const corrupt = young as LockCorruptError;
      expect(corrupt.code).toBe("LOCK_CORRUPT");
      expect(LockCorruptError.isInstance(corrupt)).toBe(true);
      expect(corrupt.lockName).toBe("a");
      expect(corrupt.path).toBe(lockPath("a"));
      expect(corrupt.graceMs).toBe(10_000);
      expect(corrupt.ageMs).toBeLessThan(10_000);
      expect(await readFile(lockPath("a"), "utf8")).toBe(content);

      const logger = recordingLogger();
      const later = manager({ corruptGraceMs: 10_000, logger, clock: shiftedClock(() => 10_001) });
      const lock = await later.acquire("a");
      expect(JSON.parse(await readFile(lockPath("a"), "utf8")).id).toBe(lock.id);
      expect(logger.entries).toContainEqual(
        expect.objectContaining({
          data: expect.objectContaining({ reason: "unreadable", owner: null, sameBoot: null }),
        }),
      );
    });
  }

  it("judges the grace period by the file's mtime", async () => {
    await mkdir(lockDir, { recursive: true });
    await writeFile(lockPath("a"), "");
    const old = new Date(Date.now() - 60_000);
    await utimes(lockPath("a"), old, old);
    await expect(manager({ corruptGraceMs: 30_000 }).acquire("a")).resolves.toHaveProperty(
      "name",
      "a",
    );
  });

  it("re-reads an unreadable file a few times before failing: a creator mid-write becomes LOCK_HELD", async () => {
    await mkdir(lockDir, { recursive: true });
    await writeFile(lockPath("a"), "");
    let reads = 0;
    const fs = faultyFileSystem({
      async readFile(path) {
        reads++;
        if (reads === 2) {
          await writeFile(
            lockPath("a"),
            JSON.stringify({
              id: "writer",
              pid: process.ppid,
              bootId: "b",
              createdAt: Date.now(),
              lockVersion: 1,
            }),
          );
        }
        return nodeFileSystem.readFile(path);
      },
    });
    const error = await rejection(manager({ fs }).acquire("a"));
    expect(LockHeldError.isInstance(error)).toBe(true);
    expect((error as LockHeldError).owner.id).toBe("writer");
  });

  it("waits for an unreadable file that is removed meanwhile", async () => {
    await mkdir(lockDir, { recursive: true });
    await writeFile(lockPath("a"), "");
    setTimeout(() => void rm(lockPath("a")), 40);
    await expect(manager().acquire("a", { waitMs: 5_000 })).resolves.toHaveProperty("name", "a");
  });
});

describe("double read before removing a stale lock (TOCTOU)", () => {
  it("does not remove a lock that changed between the two reads; the new live owner keeps it", async () => {
    const stale = await writeLock("a", { id: "dead-holder", pid: DEAD_PID });
    const fresh = Buffer.from(
      JSON.stringify({
        id: "new-holder",
        pid: process.ppid,
        bootId: "b",
        createdAt: Date.now(),
        lockVersion: 1,
      }),
    );
    let reads = 0;
    const fs = faultyFileSystem({
      async readFile(path) {
        reads++;
        const content = await nodeFileSystem.readFile(path);
        // Right after our first read, the dead holder's lock is broken and
        // re-taken by a live process: our second read must see the new bytes.
        if (reads === 1) await writeFile(lockPath("a"), fresh);
        return content;
      },
    });
    const unlink = vi.fn(nodeFileSystem.unlink);
    const error = await rejection(manager({ fs: { ...fs, unlink } }).acquire("a"));
    expect(stale.equals(fresh)).toBe(false);
    // Our own temporary files are removed; the lock file never is.
    expect(unlink).not.toHaveBeenCalledWith(lockPath("a"));
    for (const [path] of unlink.mock.calls) expect(path).toMatch(/\.tmp$/);
    expect(LockHeldError.isInstance(error)).toBe(true);
    expect((error as LockHeldError).owner.id).toBe("new-holder");
    expect(await readFile(lockPath("a"))).toEqual(fresh);
  });

  it("recoverStaleLocks does not remove a lock that changed between the two reads either", async () => {
    await writeLock("a", { id: "dead-holder", pid: DEAD_PID });
    const fresh = JSON.stringify({
      id: "new-holder",
      pid: process.ppid,
      bootId: "b",
      createdAt: Date.now(),
      lockVersion: 1,
    });
    let reads = 0;
    const fs = faultyFileSystem({
      async readFile(path) {
        reads++;
        const content = await nodeFileSystem.readFile(path);
        if (reads === 1) await writeFile(lockPath("a"), fresh);
        return content;
      },
    });
    await expect(manager({ fs }).recoverStaleLocks()).resolves.toEqual({
      recovered: [],
      live: ["a"],
      failed: [],
    });
    expect(await readFile(lockPath("a"), "utf8")).toBe(fresh);
  });

  it("retries the exclusive create when the stale lock vanished before the second read or the unlink", async () => {
    await writeLock("a", { pid: DEAD_PID });
    let reads = 0;
    const vanishing = faultyFileSystem({
      async readFile(path) {
        reads++;
        const content = await nodeFileSystem.readFile(path);
        if (reads === 1) await rm(path);
        return content;
      },
    });
    await expect(manager({ fs: vanishing }).acquire("a")).resolves.toHaveProperty("name", "a");

    await writeLock("b", { pid: DEAD_PID });
    const racingUnlink = faultyFileSystem({
      async unlink(path) {
        await nodeFileSystem.unlink(path);
        throw errnoError("ENOENT");
      },
    });
    await expect(manager({ fs: racingUnlink }).acquire("b")).resolves.toHaveProperty("name", "b");
  });
});

describe("release never removes someone else's lock", () => {
  it("returns false and reports the loss when the file now holds another owner's id", async () => {
    const lost: LockLostEvent[] = [];
    const logger = recordingLogger();
    const locks = manager({ onLockLost: (event) => lost.push(event), logger });
    const lock = await locks.acquire("a");
    const theirs = await writeLock("a", { id: "took-over", pid: process.ppid });
    expect(await lock.release()).toBe(false);
    expect(await readFile(lockPath("a"))).toEqual(theirs);
    expect(lost).toEqual([{ name: "a", id: lock.id, reason: "taken-over" }]);
    expect(logger.entries.map((entry) => entry.level)).toContain("error");
    expect(locks.heldLocks).toEqual([]);
  });

  it("returns false and reports the loss when the file was removed", async () => {
    const lost: LockLostEvent[] = [];
    const locks = manager({ onLockLost: (event) => lost.push(event) });
    const lock = await locks.acquire("a");
    await rm(lockPath("a"));
    expect(await locks.release("a")).toBe(false);
    expect(lost).toEqual([{ name: "a", id: lock.id, reason: "removed" }]);
  });

  it("reports a loss when the file vanishes between the ownership check and the unlink", async () => {
    const lost: LockLostEvent[] = [];
    const fs = faultyFileSystem({
      async unlink(path) {
        await nodeFileSystem.unlink(path);
        throw errnoError("ENOENT");
      },
    });
    const lock = await manager({ fs, onLockLost: (event) => lost.push(event) }).acquire("a");
    expect(await lock.release()).toBe(false);
    expect(lost).toHaveLength(1);
  });

  it("a listener that throws does not break release", async () => {
    const logger = recordingLogger();
    const lock = await manager({
      logger,
      onLockLost: () => {
        throw new Error("listener bug");
      },
    }).acquire("a");
    await rm(lockPath("a"));
    expect(await lock.release()).toBe(false);
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ message: "onLockLost listener threw" }),
    );
  });

  it("an old handle cannot release a newer acquisition of the same name", async () => {
    const locks = manager();
    const first = await locks.acquire("a");
    await first.release();
    const second = await locks.acquire("a");
    expect(await first.release()).toBe(false);
    expect(await first[Symbol.asyncDispose]()).toBeUndefined();
    expect(JSON.parse(await readFile(lockPath("a"), "utf8")).id).toBe(second.id);
  });

  it("concurrent releases of one lock remove it once", async () => {
    const lock = await manager().acquire("a");
    const results = await Promise.all([lock.release(), lock.release()]);
    expect(results.sort()).toEqual([false, true]);
  });

  it("a release that fails with an I/O error keeps the lock held so it can be retried", async () => {
    let failUnlink = true;
    const fs = faultyFileSystem({
      async unlink(path) {
        if (failUnlink) throw errnoError("EIO");
        return nodeFileSystem.unlink(path);
      },
    });
    const locks = manager({ fs });
    const lock = await locks.acquire("a");
    await expect(lock.release()).rejects.toMatchObject({
      code: "LOCK_IO_FAILED",
      errorCode: "EIO",
    });
    expect(locks.heldLocks).toEqual(["a"]);
    failUnlink = false;
    expect(await lock.release()).toBe(true);
  });
});

describe("releaseAll", () => {
  it("releases every lock this manager holds and leaves other managers' locks", async () => {
    const locks = manager();
    await locks.acquire("a");
    await locks.acquire("b");
    const other = await manager().acquire("c");
    await locks.releaseAll();
    expect(locks.heldLocks).toEqual([]);
    expect((await readdir(lockDir)).sort()).toEqual(["c.lock"]);
    await other.release();
  });

  it("releases what it can and throws an AggregateError listing the failures", async () => {
    const fs = faultyFileSystem({
      async unlink(path) {
        if (path.endsWith("bad.lock")) throw errnoError("EIO");
        return nodeFileSystem.unlink(path);
      },
    });
    const locks = manager({ fs });
    await locks.acquire("good");
    await locks.acquire("bad");
    const error = await rejection(locks.releaseAll());
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors).toHaveLength(1);
    expect(locks.heldLocks).toEqual(["bad"]);
    expect(await exists(lockPath("good"))).toBe(false);
  });
});

describe("recoverStaleLocks", () => {
  it("removes stale locks, keeps live and young unreadable ones, and ignores other files", async () => {
    const logger = recordingLogger();
    const locks = manager({ logger, isProcessAlive: (pid) => pid !== DEAD_PID });
    const mine = await locks.acquire("mine");
    await writeLock("dead", { pid: DEAD_PID });
    await writeLock("expired", { pid: 4242, createdAt: Date.now() - 2 * HOUR });
    await writeLock("alive", { pid: 4242 });
    await writeFile(lockPath("being-written"), "");
    await writeFile(join(lockDir, "notes.txt"), "not a lock");
    await writeFile(join(lockDir, "..lock"), "unsafe name");
    await mkdir(join(lockDir, "sub.d"));

    const report = await locks.recoverStaleLocks();
    expect(report).toEqual({
      recovered: ["dead", "expired"],
      live: ["alive", "being-written", "mine"],
      failed: [],
    });
    expect((await readdir(lockDir)).sort()).toEqual(
      ["..lock", "alive.lock", "being-written.lock", "mine.lock", "notes.txt", "sub.d"].sort(),
    );
    expect(logger.entries).toContainEqual(
      expect.objectContaining({
        level: "info",
        data: expect.objectContaining({ recovered: ["dead", "expired"] }),
      }),
    );
    expect(await mine.release()).toBe(true);
  });

  it("returns an empty report when the directory does not exist yet", async () => {
    await expect(manager().recoverStaleLocks()).resolves.toEqual({
      recovered: [],
      live: [],
      failed: [],
    });
  });

  it("throws when the directory cannot be listed for another reason", async () => {
    const fs = faultyFileSystem({ readdir: async () => Promise.reject(errnoError("EACCES")) });
    await expect(manager({ fs }).recoverStaleLocks()).rejects.toMatchObject({ code: "EACCES" });
  });

  it("lists a file it cannot read under failed and goes on with the others", async () => {
    await writeLock("broken", { pid: DEAD_PID });
    await writeLock("dead", { pid: DEAD_PID });
    const logger = recordingLogger();
    const fs = faultyFileSystem({
      async readFile(path) {
        if (path.endsWith("broken.lock")) throw errnoError("EIO");
        return nodeFileSystem.readFile(path);
      },
    });
    await expect(manager({ fs, logger }).recoverStaleLocks()).resolves.toEqual({
      recovered: ["dead"],
      live: [],
      failed: ["broken"],
    });
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: "warn", message: "Could not inspect lock file" }),
    );
  });

  it("skips a lock file that disappears while it is inspected", async () => {
    await writeLock("gone", { pid: DEAD_PID });
    const fs = faultyFileSystem({
      async readFile(path) {
        await rm(path, { force: true });
        return nodeFileSystem.readFile(path);
      },
    });
    await expect(manager({ fs }).recoverStaleLocks()).resolves.toEqual({
      recovered: [],
      live: [],
      failed: [],
    });
  });

  it("skips an unreadable lock file whose stat finds it gone", async () => {
    await mkdir(lockDir, { recursive: true });
    await writeFile(lockPath("gone"), "");
    const fs = faultyFileSystem({
      async stat(path) {
        await rm(path, { force: true });
        return nodeFileSystem.stat(path);
      },
    });
    await expect(manager({ fs }).recoverStaleLocks()).resolves.toEqual({
      recovered: [],
      live: [],
      failed: [],
    });
  });

  it("reports stat failures other than ENOENT", async () => {
    await mkdir(lockDir, { recursive: true });
    await writeFile(lockPath("odd"), "");
    const fs = faultyFileSystem({ stat: async () => Promise.reject(errnoError("EIO")) });
    await expect(manager({ fs }).recoverStaleLocks()).resolves.toEqual({
      recovered: [],
      live: [],
      failed: ["odd"],
    });
  });

  it("reports unlink failures other than ENOENT", async () => {
    await writeLock("dead", { pid: DEAD_PID });
    const fs = faultyFileSystem({ unlink: async () => Promise.reject(errnoError("EPERM")) });
    await expect(manager({ fs }).recoverStaleLocks()).resolves.toEqual({
      recovered: [],
      live: [],
      failed: ["dead"],
    });
  });
});

describe("filesystem faults while acquiring", () => {
  it("leaves no lock file and no registered id when the write fails (ENOSPC)", async () => {
    let fail = true;
    const fs = faultyFileSystem({
      async open(path, flags, mode) {
        const handle = await nodeFileSystem.open(path, flags, mode);
        return {
          ...bind(handle),
          write: async (...args: Parameters<FileHandleLike["write"]>) => {
            if (fail) throw errnoError("ENOSPC");
            return handle.write(...args);
          },
        };
      },
    });
    const locks = manager({ fs });
    await expect(locks.acquire("a")).rejects.toMatchObject({
      code: "LOCK_IO_FAILED",
      errorCode: "ENOSPC",
    });
    expect(await readdir(lockDir)).toEqual([]);
    expect(locks.heldLocks).toEqual([]);
    fail = false;
    await expect(locks.acquire("a")).resolves.toHaveProperty("name", "a");
  });

  it("fails and removes the file when a write makes no progress", async () => {
    const fs = faultyFileSystem({
      async open(path, flags, mode) {
        const handle = await nodeFileSystem.open(path, flags, mode);
        return { ...bind(handle), write: async () => ({ bytesWritten: 0 }) };
      },
    });
    await expect(manager({ fs }).acquire("a")).rejects.toThrow("no progress");
    expect(await readdir(lockDir)).toEqual([]);
  });

  it("removes the lock file when the directory fsync fails (EIO), so nothing half-taken remains", async () => {
    await mkdir(lockDir, { recursive: true });
    let fail = false;
    const fs = faultyFileSystem({
      fsyncDirectory: async (path) =>
        fail ? Promise.reject(errnoError("EIO")) : nodeFileSystem.fsyncDirectory(path),
    });
    const locks = manager({ fs });
    await (await locks.acquire("warm")).release();
    fail = true;
    // The fsync failure fails stop: FAIL_STOPPED, with the EIO as its cause.
    await expect(locks.acquire("a")).rejects.toMatchObject({
      code: "FAIL_STOPPED",
      cause: expect.objectContaining({ code: "EIO" }),
    });
    expect(await readdir(lockDir)).toEqual([]);
  });

  it("passes through open errors other than EEXIST/ENOENT", async () => {
    const fs = faultyFileSystem({ open: async () => Promise.reject(errnoError("EACCES")) });
    await expect(manager({ fs }).acquire("a")).rejects.toMatchObject({
      code: "LOCK_IO_FAILED",
      errorCode: "EACCES",
    });
  });

  it("passes through read errors other than ENOENT while inspecting an existing lock", async () => {
    await writeLock("a", { pid: DEAD_PID });
    const fs = faultyFileSystem({ readFile: async () => Promise.reject(errnoError("EIO")) });
    await expect(manager({ fs }).acquire("a")).rejects.toMatchObject({
      code: "LOCK_IO_FAILED",
      errorCode: "EIO",
    });
  });

  it("recreates the lock directory if it is removed while the manager is in use", async () => {
    const locks = manager();
    await (await locks.acquire("a")).release();
    await rm(lockDir, { recursive: true });
    await expect(locks.acquire("a")).resolves.toHaveProperty("name", "a");
  });

  it("retries creating the directory after a failed mkdir", async () => {
    let fail = true;
    const fs = faultyFileSystem({
      async mkdir(path, options) {
        if (fail) throw errnoError("EACCES");
        return nodeFileSystem.mkdir(path, options);
      },
    });
    const locks = manager({ fs });
    await expect(locks.acquire("a")).rejects.toMatchObject({
      code: "LOCK_IO_FAILED",
      errorCode: "EACCES",
    });
    fail = false;
    await expect(locks.acquire("a")).resolves.toHaveProperty("name", "a");
  });
});

/**
 * A filesystem that dies at its `crashAt`-th call (0-based, counting the calls
 * on open handles too): that call and every later one throw without touching
 * the disk, as if the process had been killed right before it.
 */
function crashingFileSystem(crashAt: number): { fs: LockFileSystem; calls: () => number } {
  let count = 0;
  const step = <T>(run: () => Promise<T>): Promise<T> => {
    if (count++ >= crashAt) return Promise.reject(new Error("simulated crash"));
    return run();
  };
  const fs: LockFileSystem = {
    ...nodeFileSystem,
    open: (path, flags, mode) =>
      step(async () => {
        const handle = await nodeFileSystem.open(path, flags, mode);
        return {
          write: (...args: Parameters<FileHandleLike["write"]>) =>
            step(() => handle.write(...args)),
          sync: () => step(() => handle.sync()),
          truncate: (length?: number) => step(() => handle.truncate(length)),
          stat: () => step(() => handle.stat()),
          readFile: () => step(() => handle.readFile()),
          // The descriptor is closed either way, like the kernel does at exit.
          close: () => step(() => Promise.resolve()).finally(() => handle.close()),
        };
      }),
    readFile: (path) => step(() => nodeFileSystem.readFile(path)),
    rename: (from, to) => step(() => nodeFileSystem.rename(from, to)),
    unlink: (path) => step(() => nodeFileSystem.unlink(path)),
    readdir: (path) => step(() => nodeFileSystem.readdir(path)),
    stat: (path) => step(() => nodeFileSystem.stat(path)),
    mkdir: (path, options) => step(() => nodeFileSystem.mkdir(path, options)),
    fsyncDirectory: (path) => step(() => nodeFileSystem.fsyncDirectory(path)),
    link: (from, to) => step(() => link(from, to)),
  };
  return { fs, calls: () => count };
}

describe("atomic lock file creation", () => {
  it("a crash between any two filesystem calls of acquire never leaves a partial lock: the next process gets it at once", async () => {
    const { fs: counting, calls } = crashingFileSystem(Number.POSITIVE_INFINITY);
    const baseline = manager({ fs: counting, lockDir: join(dir, "baseline") });
    await (await baseline.acquire("a")).release();
    const releaseCalls = 4; // open, read, close, unlink
    const acquireCalls = calls() - releaseCalls;
    // Per level of the lock directory a stat and an fsync of its parent, a
    // mkdir for the missing last level; then open temp, write, sync, close,
    // link, unlink temp, fsync directory.
    const levels = parentsOfEveryLevel(join(dir, "baseline")).length;
    expect(acquireCalls).toBe(2 * levels + 1 + 7);

    for (let crashAt = 0; crashAt < acquireCalls; crashAt++) {
      const crashDir = join(dir, `crash-${crashAt}`);
      const { fs } = crashingFileSystem(crashAt);
      const dying = new LockManager({ lockDir: crashDir, fs });
      // A crash at an fsync also trips the fail-stop latch: the crash is its cause.
      const crash = await dying.acquire("a").then(
        () => undefined,
        (error: Error) => (error.cause as Error | undefined) ?? error,
      );
      expect(crash?.message, `crash before call ${crashAt}`).toBe("simulated crash");

      // Whatever is on disk: no lock file, or a complete record.
      const path = join(crashDir, "a.lock");
      if (await exists(path)) {
        expect(JSON.parse(await readFile(path, "utf8")), `crash ${crashAt}`).toMatchObject({
          pid: process.pid,
          lockVersion: 2,
        });
      }

      // The next process sees the crashed one's pid as dead: no LOCK_CORRUPT,
      // no grace period to wait out, with the default corruptGraceMs.
      const next = manager({
        lockDir: crashDir,
        isProcessAlive: (pid) => pid !== process.pid,
        corruptGraceMs: LOCK_MANAGER_DEFAULTS.corruptGraceMs,
      });
      const started = Date.now();
      const lock = await next.acquire("a");
      expect(Date.now() - started).toBeLessThan(LOCK_MANAGER_DEFAULTS.corruptGraceMs);
      expect(JSON.parse(await readFile(path, "utf8")).id).toBe(lock.id);

      // A leftover temporary file is never taken for a lock, and recovery removes it.
      await expect(next.recoverStaleLocks()).resolves.toEqual({
        recovered: [],
        live: ["a"],
        failed: [],
      });
      expect(await lock.release()).toBe(true);
      // What remains is at most a temporary file that died before its record
      // was written (no pid to judge): removed once older than the grace.
      for (const entry of await readdir(crashDir)) {
        expect(entry, `crash ${crashAt}`).toMatch(/^a\.lock\.[0-9a-f-]{36}\.tmp$/);
        expect(await readFile(join(crashDir, entry), "utf8")).toBe("");
      }
      await manager({
        lockDir: crashDir,
        clock: shiftedClock(() => LOCK_MANAGER_DEFAULTS.corruptGraceMs + 1),
      }).recoverStaleLocks();
      expect(await readdir(crashDir), `crash ${crashAt}`).toEqual([]);
    }
  });

  it("uses the injected fs's link when it has one", async () => {
    const linked: string[] = [];
    const lock = await manager({
      fs: {
        ...nodeFileSystem,
        link: async (from, to) => {
          linked.push(to);
          await link(from, to);
        },
      },
    }).acquire("a");
    expect(linked).toEqual([lockPath("a")]);
    expect(await lock.release()).toBe(true);
  });

  it("a waiter does not write records while a live owner holds the lock: it looks first", async () => {
    await manager().acquire("a");
    const opened: string[] = [];
    const fs = faultyFileSystem({
      async open(path, flags, mode) {
        if (opensToCreate(flags)) opened.push(path);
        return nodeFileSystem.open(path, flags, mode);
      },
    });
    await expect(manager({ fs }).acquire("a", { waitMs: 60 })).rejects.toBeInstanceOf(
      LockHeldError,
    );
    // The first try creates a record and is refused; the retries only read.
    expect(opened).toHaveLength(1);
    expect(await readdir(lockDir)).toEqual(["a.lock"]);
  });

  it("a waiter whose look finds the lock free takes it", async () => {
    await writeLock("a", { pid: 4242 });
    let alive = true;
    const waiting = manager({ isProcessAlive: () => alive }).acquire("a", { waitMs: 5_000 });
    setTimeout(() => {
      alive = false;
    }, 30);
    const lock = await waiting;
    expect(JSON.parse(await readFile(lockPath("a"), "utf8")).id).toBe(lock.id);
  });

  it("a waiter retries at once when another process takes the lock between its look and its link", async () => {
    await writeLock("a", { pid: 4242 });
    let alive = true;
    let links = 0;
    const fs: LockFileSystem = {
      ...nodeFileSystem,
      async link(from, to) {
        links++;
        if (links === 2) {
          // The owner is gone and a live process re-took the lock just now.
          await writeLock("a", { id: "quick", pid: 4243 });
          alive = true;
        }
        await link(from, to);
      },
    };
    const waiting = manager({ fs, isProcessAlive: (pid) => alive || pid !== 4242 }).acquire("a", {
      waitMs: 200,
    });
    setTimeout(() => {
      alive = false;
    }, 30);
    const error = await rejection(waiting);
    expect(LockHeldError.isInstance(error)).toBe(true);
    expect((error as LockHeldError).owner.id).toBe("quick");
    expect(await readdir(lockDir)).toEqual(["a.lock"]);
  });

  it("keeps the lock when its temporary file cannot be removed, logs it, and recovery removes it later", async () => {
    const logger = recordingLogger();
    const fs = faultyFileSystem({
      async unlink(path) {
        if (path.endsWith(".tmp")) throw errnoError("EIO");
        return nodeFileSystem.unlink(path);
      },
    });
    const locks = manager({ fs, logger });
    const lock = await locks.acquire("a");
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: "warn", message: "Could not remove temporary lock file" }),
    );
    const temp = `a.lock.${lock.id}.tmp`;
    expect((await readdir(lockDir)).sort()).toEqual(["a.lock", temp]);
    // Our own in-flight temporary file is left alone while we run...
    await locks.recoverStaleLocks();
    expect((await readdir(lockDir)).sort()).toEqual(["a.lock", temp]);
    expect(await lock.release()).toBe(true);
    // ...and removed once it is older than the grace period.
    const recovery = recordingLogger();
    await expect(
      manager({ logger: recovery, clock: shiftedClock(() => 10_001) }).recoverStaleLocks(),
    ).resolves.toEqual({ recovered: [], live: [], failed: [] });
    expect(await readdir(lockDir)).toEqual([]);
    expect(recovery.entries).toContainEqual(
      expect.objectContaining({
        level: "info",
        message: "Removed leftover temporary lock files",
        data: expect.objectContaining({ files: [temp] }),
      }),
    );
  });

  it("recoverStaleLocks removes leftover temporary files of dead or old creators only, and never reports them as locks", async () => {
    await mkdir(lockDir, { recursive: true });
    const tempOf = (name: string, id: string) => join(lockDir, `${name}.lock.${id}.tmp`);
    const record = (id: string, pid: number) =>
      JSON.stringify({ id, pid, bootId: "b", createdAt: Date.now(), lockVersion: 1 });
    const deadId = "00000000-0000-4000-8000-000000000001";
    const liveId = "00000000-0000-4000-8000-000000000002";
    const partialId = "00000000-0000-4000-8000-000000000003";
    const oldId = "00000000-0000-4000-8000-000000000004";
    await writeFile(tempOf("a", deadId), record(deadId, DEAD_PID));
    await writeFile(tempOf("b", liveId), record(liveId, process.ppid));
    await writeFile(tempOf("c", partialId), '{"id":"00');
    await writeFile(tempOf("d", oldId), "");
    const old = new Date(Date.now() - 60_000);
    await utimes(tempOf("d", oldId), old, old);
    await writeFile(join(lockDir, "e.lock.not-a-uuid.tmp"), "");

    await expect(manager().recoverStaleLocks()).resolves.toEqual({
      recovered: [],
      live: [],
      failed: [],
    });
    expect((await readdir(lockDir)).sort()).toEqual(
      [`b.lock.${liveId}.tmp`, `c.lock.${partialId}.tmp`, "e.lock.not-a-uuid.tmp"].sort(),
    );
    // Temporary files do not make a lock held.
    await expect(manager().acquire("b")).resolves.toHaveProperty("name", "b");
    await expect(manager().acquire("c")).resolves.toHaveProperty("name", "c");
  });

  it("logs a temporary file it cannot inspect and goes on", async () => {
    await mkdir(lockDir, { recursive: true });
    const id = "00000000-0000-4000-8000-000000000009";
    await writeFile(join(lockDir, `a.lock.${id}.tmp`), "");
    await writeLock("dead", { pid: DEAD_PID });
    const logger = recordingLogger();
    const fs = faultyFileSystem({ stat: async () => Promise.reject(errnoError("EIO")) });
    await expect(manager({ fs, logger }).recoverStaleLocks()).resolves.toEqual({
      recovered: ["dead"],
      live: [],
      failed: [],
    });
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: "warn", message: "Could not inspect temporary lock file" }),
    );
  });

  it("skips a temporary file that disappears while it is inspected", async () => {
    await mkdir(lockDir, { recursive: true });
    for (const [index, at] of (["readFile", "stat", "unlink"] as const).entries()) {
      const id = `00000000-0000-4000-8000-00000000001${index}`;
      const path = join(lockDir, `a.lock.${id}.tmp`);
      await writeFile(path, "");
      const old = new Date(Date.now() - 60_000);
      await utimes(path, old, old);
      const vanishingAt = async (call: typeof at) => {
        if (call === at) await rm(path, { force: true });
      };
      const fs = faultyFileSystem({
        async readFile(file) {
          await vanishingAt("readFile");
          return nodeFileSystem.readFile(file);
        },
        async stat(file) {
          await vanishingAt("stat");
          return nodeFileSystem.stat(file);
        },
        async unlink(file) {
          await vanishingAt("unlink");
          return nodeFileSystem.unlink(file);
        },
      });
      const logger = recordingLogger();
      await expect(manager({ fs, logger }).recoverStaleLocks()).resolves.toEqual({
        recovered: [],
        live: [],
        failed: [],
      });
      expect(logger.entries.filter((entry) => entry.level === "warn")).toEqual([]);
      expect(await readdir(lockDir)).toEqual([]);
    }
  });

  it("retries when its temporary file is removed before the link (ENOENT)", async () => {
    let links = 0;
    const fs: LockFileSystem = {
      ...nodeFileSystem,
      async link(from, to) {
        if (++links === 1) await rm(from);
        await link(from, to);
      },
    };
    await expect(manager({ fs }).acquire("a")).resolves.toHaveProperty("name", "a");
    expect(links).toBe(2);
    expect(await readdir(lockDir)).toEqual(["a.lock"]);
  });

  it("passes through link errors other than EEXIST/ENOENT and leaves nothing behind", async () => {
    const fs: LockFileSystem = {
      ...nodeFileSystem,
      link: async () => Promise.reject(errnoError("EPERM")),
    };
    await expect(manager({ fs }).acquire("a")).rejects.toMatchObject({
      code: "LOCK_IO_FAILED",
      errorCode: "EPERM",
    });
    expect(await readdir(lockDir)).toEqual([]);
  });
});

describe("renewal", () => {
  it("rewrites renewedAt on the injected clock while the lock is held, and stops its timer after release", async () => {
    const clock = new ManualClock(Date.now());
    const locks = manager({ clock, maxAgeMs: 4_000, renewIntervalMs: 1_000 });
    const lock = await locks.acquire("a");
    expect(clock.pendingTimers).toBe(1);
    const renewalScheduled = () => vi.waitFor(() => expect(clock.pendingTimers).toBe(1));
    clock.advance(1_000);
    await vi.waitFor(async () => {
      const record = JSON.parse(await readFile(lockPath("a"), "utf8"));
      expect(record.renewedAt).toBe(clock.now());
    });
    // The next renewal is scheduled once the write is done: advancing before
    // that would schedule it from the later time, and it would never come due.
    await renewalScheduled();
    clock.advance(1_000);
    await vi.waitFor(async () => {
      expect(JSON.parse(await readFile(lockPath("a"), "utf8")).renewedAt).toBe(clock.now());
    });
    await renewalScheduled();
    const record = JSON.parse(await readFile(lockPath("a"), "utf8"));
    expect(record).toMatchObject({ id: lock.id, pid: process.pid, lockVersion: 2 });

    // Five intervals later it is still live for a contender with the same maxAgeMs.
    clock.advance(1_000);
    await vi.waitFor(async () => {
      expect(JSON.parse(await readFile(lockPath("a"), "utf8")).renewedAt).toBe(clock.now());
    });
    await expect(manager({ clock, maxAgeMs: 4_000 }).acquire("a")).rejects.toBeInstanceOf(
      LockHeldError,
    );

    expect(await lock.release()).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it("detects a lock taken over or removed while held, forgets it and calls onLockLost", async () => {
    const clock = new ManualClock(Date.now());
    const lost: LockLostEvent[] = [];
    const locks = manager({
      clock,
      maxAgeMs: 4_000,
      renewIntervalMs: 1_000,
      onLockLost: (event) => lost.push(event),
    });
    const taken = await locks.acquire("taken");
    const removed = await locks.acquire("removed");
    const theirs = await writeLock("taken", { id: "thief", pid: process.ppid });
    await rm(lockPath("removed"));
    clock.advance(1_000);
    await vi.waitFor(() => expect(lost).toHaveLength(2));
    expect(lost).toEqual(
      expect.arrayContaining([
        { name: "taken", id: taken.id, reason: "taken-over" },
        { name: "removed", id: removed.id, reason: "removed" },
      ]),
    );
    expect(locks.heldLocks).toEqual([]);
    expect(await readFile(lockPath("taken"))).toEqual(theirs);
    expect(await taken.release()).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it("logs a failed renewal and tries again at the next interval", async () => {
    const clock = new ManualClock(Date.now());
    const logger = recordingLogger();
    let failOpen = true;
    const fs = faultyFileSystem({
      async open(path, flags, mode) {
        if (opensForUpdate(flags) && failOpen) throw errnoError("EIO");
        return nodeFileSystem.open(path, flags, mode);
      },
    });
    const locks = manager({ clock, fs, logger, maxAgeMs: 4_000, renewIntervalMs: 1_000 });
    await locks.acquire("a");
    clock.advance(1_000);
    await vi.waitFor(() =>
      expect(logger.entries).toContainEqual(
        expect.objectContaining({ message: "Could not renew lock; will try again" }),
      ),
    );
    failOpen = false;
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(1));
    clock.advance(1_000);
    await vi.waitFor(async () => {
      expect(JSON.parse(await readFile(lockPath("a"), "utf8")).renewedAt).toBe(clock.now());
    });
  });

  it("a release waits for an in-flight renewal, so it never races the rewrite", async () => {
    const clock = new ManualClock(Date.now());
    let releaseRead: () => void = () => {};
    let renewalStarted = false;
    const fs = faultyFileSystem({
      async open(path, flags, mode) {
        if (opensForUpdate(flags)) {
          renewalStarted = true;
          await new Promise<void>((resolve) => {
            releaseRead = resolve;
          });
        }
        return nodeFileSystem.open(path, flags, mode);
      },
    });
    const lock = await manager({ clock, fs, maxAgeMs: 4_000, renewIntervalMs: 1_000 }).acquire("a");
    clock.advance(1_000);
    await vi.waitFor(() => expect(renewalStarted).toBe(true));
    const releasing = lock.release();
    releaseRead();
    expect(await releasing).toBe(true);
    expect(await exists(lockPath("a"))).toBe(false);
  });

  it("does not renew when maxAgeMs is Infinity", async () => {
    const clock = new ManualClock(Date.now());
    await manager({ clock, maxAgeMs: Number.POSITIVE_INFINITY }).acquire("a");
    expect(clock.pendingTimers).toBe(0);
  });
});

describe("options", () => {
  it("rejects caller mistakes at construction, naming the option", () => {
    const make = (options: Record<string, unknown>) => () =>
      new LockManager({ lockDir: "/tmp/x", ...options } as ConstructorParameters<
        typeof LockManager
      >[0]);
    expect(() => new LockManager(undefined as never)).toThrow(TypeError);
    expect(make({ lockDir: "" })).toThrow(/lockDir/);
    expect(make({ lockDir: 42 })).toThrow(TypeError);
    expect(make({ maxAgeMs: -1 })).toThrow(/maxAgeMs/);
    expect(make({ maxAgeMs: 0 })).toThrow(/maxAgeMs/);
    expect(make({ maxAgeMs: "1h" })).toThrow(RangeError);
    expect(make({ renewIntervalMs: 0 })).toThrow(/renewIntervalMs/);
    expect(make({ maxAgeMs: 1_000, renewIntervalMs: 1_000 })).toThrow(/renewIntervalMs/);
    expect(make({ corruptGraceMs: Number.POSITIVE_INFINITY })).toThrow(/corruptGraceMs/);
    expect(make({ retryBaseMs: Number.NaN })).toThrow(/retryBaseMs/);
    expect(make({ retryBaseMs: 100, retryMaxMs: 50 })).toThrow(/retryMaxMs/);
    expect(make({ bootId: "" })).toThrow(/bootId/);
    expect(make({ fsync: "no" })).toThrow(/fsync/);
    expect(make({ isProcessAlive: "yes" })).toThrow(/isProcessAlive/);
    expect(make({ onLockLost: 1 })).toThrow(/onLockLost/);
    expect(make({ retryBaseMs: 500 })).not.toThrow();
  });

  it("uses the kernel boot id unless one is given", () => {
    const fromKernel = new LockManager({ lockDir: "/tmp/x" }).bootId;
    expect(fromKernel.length).toBeGreaterThan(0);
    expect(new LockManager({ lockDir: "/tmp/x" }).bootId).toBe(fromKernel);
    expect(new LockManager({ lockDir: "/tmp/x", bootId: "mine" }).bootId).toBe("mine");
  });

  it("works with every optional dependency left at its default", async () => {
    const locks = new LockManager({ lockDir, logger: silentLogger });
    const lock = await locks.acquire("defaults");
    expect(await lock.release()).toBe(true);
  });
});

/** Binds a handle's methods so they can be spread into a wrapper. */
function bind(handle: FileHandleLike): FileHandleLike {
  return {
    write: handle.write.bind(handle),
    sync: handle.sync.bind(handle),
    truncate: handle.truncate.bind(handle),
    stat: handle.stat.bind(handle),
    readFile: handle.readFile.bind(handle),
    close: handle.close.bind(handle),
  };
}

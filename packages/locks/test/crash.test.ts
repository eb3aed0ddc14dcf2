import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Clock, systemClock } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LockCorruptError, LockHeldError, LockManager } from "../src/index.js";
import { type Child, killHard, start, waitForExit, waitForOutput } from "./child-process.js";

// Child processes run the built package (dist/), like a real second process would.
const soak = process.env.BEAUVOIR_SOAK !== undefined;
const RANDOM_KILLS = soak ? 200 : 20;

let root: string;
let lockDir: string;
const children: Child[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-locks-"));
  lockDir = join(root, "locks");
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.process.exitCode === null && child.process.signalCode === null) await killHard(child);
  }
  await rm(root, { recursive: true, force: true });
});

function launch(name: string, args: string[]): Child {
  const child = start(name, args);
  children.push(child);
  return child;
}

/** The real clock, moved forward: makes a fresh file look old without waiting. */
function clockAhead(ms: number): Clock {
  return { ...systemClock, now: () => Date.now() + ms };
}

describe("holders that die or live", () => {
  it("recovers the lock of a holder killed with SIGKILL as stale (dead pid)", async () => {
    const holder = launch("holder.mjs", [lockDir, "instance"]);
    await waitForOutput(holder, "}");
    const { pid, id } = JSON.parse(holder.stdout) as { pid: number; id: string };
    await killHard(holder);

    const onDisk = JSON.parse(await readFile(join(lockDir, "instance.lock"), "utf8"));
    expect(onDisk).toMatchObject({ id, pid });

    const warnings: Record<string, unknown>[] = [];
    const next = new LockManager({
      lockDir,
      logger: {
        debug() {},
        info() {},
        warn: (_message, data = {}) => warnings.push(data),
        error() {},
      },
    });
    const lock = await next.acquire("instance");
    expect(lock.id).not.toBe(id);
    expect(warnings).toContainEqual(
      expect.objectContaining({ name: "instance", reason: "dead-pid" }),
    );
    expect(JSON.parse(await readFile(join(lockDir, "instance.lock"), "utf8"))).toMatchObject({
      id: lock.id,
      pid: process.pid,
    });
    expect(await lock.release()).toBe(true);
  });

  it("never takes the lock of a live process, waiting or not, and recovery leaves it alone", async () => {
    const holder = launch("holder.mjs", [lockDir, "instance"]);
    await waitForOutput(holder, "}");
    const { pid, id } = JSON.parse(holder.stdout) as { pid: number; id: string };
    const before = await readFile(join(lockDir, "instance.lock"));
    const contender = new LockManager({ lockDir, retryBaseMs: 5, retryMaxMs: 20 });

    const immediate = await contender.acquire("instance").catch((error: unknown) => error);
    expect(LockHeldError.isInstance(immediate)).toBe(true);
    expect((immediate as LockHeldError).owner).toMatchObject({ pid, id, lockVersion: 2 });
    expect((immediate as LockHeldError).waitedMs).toBe(0);

    const waited = await contender
      .acquire("instance", { waitMs: 300 })
      .catch((error: unknown) => error);
    expect(LockHeldError.isInstance(waited)).toBe(true);
    expect((waited as LockHeldError).waitedMs).toBeGreaterThanOrEqual(300);

    await expect(contender.recoverStaleLocks()).resolves.toEqual({
      recovered: [],
      live: ["instance"],
      failed: [],
    });
    expect(await readFile(join(lockDir, "instance.lock"))).toEqual(before);

    // Once the holder is gone, a waiting contender gets the lock.
    const pending = contender.acquire("instance", { waitMs: 10_000 });
    await killHard(holder);
    const lock = await pending;
    expect(await lock.release()).toBe(true);
  });

  it("a live holder renews its lock, so the age backstop never takes it from a long-running process", async () => {
    const holder = launch("holder.mjs", [lockDir, "instance", "600", "100"]);
    await waitForOutput(holder, "}");
    const { pid } = JSON.parse(holder.stdout) as { pid: number };
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // 2.5 x maxAgeMs
    const contender = new LockManager({ lockDir, maxAgeMs: 600 });
    const error = await contender.acquire("instance").catch((caught: unknown) => caught);
    expect(LockHeldError.isInstance(error)).toBe(true);
    const owner = (error as LockHeldError).owner;
    expect(owner.pid).toBe(pid);
    expect(owner.renewedAt).toBeGreaterThan(owner.createdAt + 600);
  });

  it(`after ${RANDOM_KILLS} SIGKILLs at random points of acquire/release, the next process always gets the lock at once (never LOCK_CORRUPT)`, async () => {
    // Several churning processes per round, each on its own lock, killed at
    // independent random moments: as many kills for a fraction of the startups.
    const perRound = 4;
    for (let killed = 0; killed < RANDOM_KILLS; killed += perRound) {
      const names = Array.from({ length: perRound }, (_, index) => `churn-${index}`);
      const churns = names.map((name) => launch("churn.mjs", [lockDir, name]));
      await Promise.all(churns.map((churn) => waitForOutput(churn, "running")));
      await Promise.all(
        churns.map(async (churn) => {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 25));
          await killHard(churn);
        }),
      );

      // Never a grace period to wait out: the lock file appears whole (written
      // under a temporary name, then linked), so whatever the moment of the
      // kill, the next process finds no lock or a dead pid's complete record.
      const next = new LockManager({ lockDir, retryBaseMs: 1 });
      for (const name of names) {
        const outcome = await next.acquire(name).catch((error: unknown) => error);
        expect(LockCorruptError.isInstance(outcome), String(outcome)).toBe(false);
        expect(LockHeldError.isInstance(outcome), String(outcome)).toBe(false);
        expect(outcome).toHaveProperty("release");
        expect(await (outcome as { release(): Promise<boolean> }).release()).toBe(true);
      }
    }
    // Temporary files of killed creators are never lock files, and recovery
    // removes them (those killed before writing a record once past the grace).
    const later = new LockManager({ lockDir, clock: clockAhead(11_000) });
    await expect(later.recoverStaleLocks()).resolves.toEqual({
      recovered: [],
      live: [],
      failed: [],
    });
    expect(await readdir(lockDir)).toEqual([]);
  }, 120_000);

  it("a process holding a lock exits on its own: the renewal timer does not keep it alive", async () => {
    await mkdir(lockDir);
    const child = launch("exit-while-holding.mjs", [lockDir]);
    const exit = await waitForExit(child, 10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(child.stdout).toContain("held held-at-exit");
  });
});

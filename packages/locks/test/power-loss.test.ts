// Power loss, simulated with core's crash-state filesystem: a power cut after
// every filesystem call of a scenario of acquires and releases, under each
// model (prefix, order-keeping subset, torn write), and a new boot recovering
// from each crash image. What is checked (see power-loss-scenarios.ts): a
// resolved acquire() left its complete record on disk; a resolved release()
// may come back, complete; the next boot takes every lock at once; after the
// grace period recovery leaves no file behind. The runs that were findings
// (a lock directory the manager creates; renewal rewriting the record in
// place) pass since the lock manager's fixes and are kept here.
import { createCrashStateFileSystem, ManualClock, systemClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { LockManager } from "../src/index.js";
import {
  explorePowerLoss,
  type LockLayout,
  type LockStep,
  TWO_LOCKS,
} from "./power-loss-scenarios.js";

const START = 1_700_000_000_000;

/** A clock that stays at `now` but whose timers run, so the manager's short retries end. */
const frozenAt = (now: number) => ({ ...systemClock, now: () => now });

const cases: Array<[string, LockLayout, readonly LockStep[]]> = [
  [
    "two locks taken, released and taken again in an existing directory",
    { lockDir: "/run/agent/locks", existingDirectories: ["/run/agent/locks"] },
    TWO_LOCKS,
  ],
  [
    // Was a finding (F10): the manager mkdir'ed lockDir without fsyncing its parent.
    "two locks in a lockDir the manager creates (its parent exists)",
    { lockDir: "/run/agent/locks", existingDirectories: ["/run/agent"] },
    TWO_LOCKS,
  ],
  [
    "a stale lock of a dead process taken over",
    {
      lockDir: "/run/agent/locks",
      existingDirectories: ["/run/agent/locks"],
      staleLocks: ["alpha"],
    },
    [
      { kind: "acquire", name: "alpha" },
      { kind: "release", name: "alpha" },
    ],
  ],
];

describe("power loss during acquire() and release() (crash-state filesystem, fsync: true)", () => {
  it.each(cases)("%s: every promise holds after the power cut", async (name, layout, steps) => {
    const report = await explorePowerLoss(layout, steps);
    console.info(`${name}: ${report.summary}`);
    expect(report.failures.map((failure) => failure.message)).toEqual([]);
    expect(report.truncated).toBe(false);
    expect(report.crashPoints).toBe(report.calls + 1);
    expect(report.statesByModel.prefix).toBeGreaterThanOrEqual(report.promisesResolved);
    expect(report.statesByModel.subset).toBeGreaterThan(0);
  });
});

describe("the lock directory the manager creates survives a power cut", () => {
  // Was a finding (F10): /run/agent exists (durable); new LockManager({ lockDir:
  // "/run/agent/locks", fs }).acquire("alpha") resolved (the record and the
  // link fsynced, and /run/agent/locks itself); a power cut that kept only
  // what was made durable lost /run/agent/locks, whose entry in /run/agent
  // was never fsynced (mkdir without ensureDurableDirectory), and the lock
  // with it.
  it("keeps the record of a resolved acquire() across a power cut when lockDir was missing", async () => {
    const fs = createCrashStateFileSystem({ clock: new ManualClock(START) });
    await fs.mkdir("/run/agent", { recursive: true });
    fs.syncAll();
    const manager = new LockManager({
      lockDir: "/run/agent/locks",
      fs,
      clock: new ManualClock(START),
    });
    const handle = await manager.acquire("alpha");
    const image = fs.durableImage();
    const record = JSON.parse(
      (await image.readFile("/run/agent/locks/alpha.lock")).toString("utf8"),
    );
    expect(record.id).toBe(handle.id);
    await manager.releaseAll();
  });
});

describe("a power cut during renewal keeps the lock's record", () => {
  // Was a finding: acquire("solo") resolves; the renewal timer fires
  // (renewIntervalMs) and rewrote solo.lock in place (open r+, one write of
  // the longer record with renewedAt, truncate, close: no fsync, no rename).
  // A power cut that kept the write torn at a byte inside it left solo.lock
  // unreadable: the lock's record was gone, and the next boot's acquire("solo")
  // threw LOCK_CORRUPT until corruptGraceMs had passed. The record now keeps
  // its identity (with its own checksum) unchanged by a renewal, which
  // rewrites only a same-width renewal part: a torn renewal leaves the
  // identity standing.
  it("leaves the old or the new record after a power cut during renewal", async () => {
    const clock = new ManualClock(START);
    const fs = createCrashStateFileSystem({ clock });
    await fs.mkdir("/run/agent/locks", { recursive: true });
    fs.syncAll();
    const manager = new LockManager({
      lockDir: "/run/agent/locks",
      fs,
      clock,
      maxAgeMs: 60_000,
      renewIntervalMs: 15_000,
    });
    const handle = await manager.acquire("solo");
    clock.advance(15_000);
    await new Promise((resolve) => setImmediate(resolve));
    const rewrite = fs.pendingOperations.find((operation) => operation.kind === "write");
    expect(rewrite?.description).toMatch(/write \/run\/agent\/locks\/solo.lock \[0, \d+\)/);
    const torn = fs.crashImages({ models: ["torn"] });
    expect(torn.length).toBeGreaterThan(0);
    const verdicts: string[] = [];
    for (const image of torn) {
      const text = (
        await image.createFileSystem().readFile("/run/agent/locks/solo.lock")
      ).toString();
      let id: unknown;
      try {
        id = JSON.parse(text).id;
      } catch {
        id = undefined;
      }
      const nextBoot = new LockManager({
        lockDir: "/run/agent/locks",
        fs: image.createFileSystem(),
        clock: frozenAt(clock.now()),
        isProcessAlive: () => false,
      });
      const taken = await nextBoot.acquire("solo").then(
        () => "taken",
        (error: { code?: string }) => error.code,
      );
      await nextBoot.releaseAll();
      verdicts.push(
        `${image.label}: record ${id === handle.id ? "intact" : "lost"}, next boot: ${taken}`,
      );
    }
    const broken = verdicts.filter(
      (verdict) => !verdict.endsWith("record intact, next boot: taken"),
    );
    expect(broken).toEqual([]);
    await manager.releaseAll();
  });
});

// Power-loss runs of the lock manager: a scenario of acquires and releases
// runs on core's crash-state filesystem, a power cut is simulated after every
// filesystem call under every model, and a new boot recovers from each crash
// image. Used by power-loss.test.ts (and a findings file, when there are any).
//
// What a lock promises across a power cut (fsync: true), as checked here:
// 1. An acquire() that resolved, not followed by a resolved release(), left
//    `{name}.lock` on disk with that acquisition's complete record: the next
//    boot sees who held the lock (recoverStaleLocks() reports it recovered).
// 2. A release() that resolved may come back (the unlink is not fsynced, as
//    the README says); the lock file, if any, holds a complete record of an
//    acquisition of that name that had started.
// 3. After any power cut the next boot (every earlier pid dead) gets every
//    lock at once: recoverStaleLocks() fails on nothing and acquire() never
//    throws LOCK_HELD or LOCK_CORRUPT, even right away.
// 4. Once corruptGraceMs has passed, recoverStaleLocks() leaves no lock file
//    and no temporary file behind.
import { join } from "node:path";
import {
  type CrashCheckContext,
  type CrashExplorationReport,
  type CrashStateFileSystem,
  exploreCrashStates,
  ManualClock,
  systemClock,
} from "@beauvoir/core";
import { LockManager, type LockOwner } from "../src/index.js";

/** One step of a scenario. `renew` lets the renewal timer fire once. */
export type LockStep =
  | { readonly kind: "acquire"; readonly name: string }
  | { readonly kind: "release"; readonly name: string }
  | { readonly kind: "renew" };

/** What the scenario recorded: an acquisition (with its id once it resolved) or a release. */
export interface LockEvent {
  readonly kind: "acquire" | "release";
  readonly name: string;
  /** The acquisition's id; known once acquire() resolved. */
  readonly id?: string;
}

/** Where the locks live, and what exists before the scenario. */
export interface LockLayout {
  readonly lockDir: string;
  /** Directories that exist, durably, before the scenario. */
  readonly existingDirectories: readonly string[];
  /** Names of locks left, durably, by a process of an earlier boot that died holding them. */
  readonly staleLocks?: readonly string[];
}

/** The pid written in the stale locks of {@link LockLayout.staleLocks}; dead for the scenario's manager. */
const DEAD_PID = 999_999;
const staleId = (name: string): string => `stale-${name}`;

const START = 1_700_000_000_000;
const CORRUPT_GRACE_MS = 10_000;
const MAX_AGE_MS = 60_000;
const RENEW_INTERVAL_MS = 15_000;

/**
 * A manager of a later boot: every pid of the boot before is dead. Its clock
 * stays at `now`, but its timers run, so the few short re-reads of an
 * unreadable lock end (in LOCK_CORRUPT) instead of waiting forever.
 */
function nextBootManager(fs: CrashStateFileSystem, lockDir: string, now: number): LockManager {
  return new LockManager({
    lockDir,
    fs,
    clock: { ...systemClock, now: () => now },
    bootId: "boot-after-power-cut",
    isProcessAlive: () => false,
    corruptGraceMs: CORRUPT_GRACE_MS,
    maxAgeMs: MAX_AGE_MS,
  });
}

async function readRecord(
  fs: CrashStateFileSystem,
  path: string,
): Promise<LockOwner | "absent" | "unreadable"> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "absent";
    throw error;
  }
  try {
    const record = JSON.parse(bytes.toString("utf8")) as LockOwner;
    return typeof record?.id === "string" ? record : "unreadable";
  } catch {
    return "unreadable";
  }
}

async function checkRecovery(
  layout: LockLayout,
  names: readonly string[],
  { fs, freshImage, promised, started, crashedAt }: CrashCheckContext<LockEvent>,
): Promise<void> {
  // Promises 1 and 2: what each lock file holds.
  for (const name of names) {
    const path = join(layout.lockDir, `${name}.lock`);
    const record = await readRecord(fs, path);
    const acquisitions = promised.filter(
      (event) => event.name === name && event.kind === "acquire",
    );
    const inFlight =
      started.filter((event) => event.name === name && event.kind === "acquire").length >
      acquisitions.length;
    const known = new Set([
      ...acquisitions.map((event) => event.id),
      ...(layout.staleLocks?.includes(name) ? [staleId(name)] : []),
    ]);
    const last = promised.filter((event) => event.name === name).at(-1);
    if (last?.kind === "acquire") {
      if (record === "absent" || record === "unreadable" || record.id !== last.id) {
        throw new Error(
          `acquire(${name}) resolved (id ${last.id}) but the lock file is ${typeof record === "string" ? record : `held by ${record.id}`}`,
        );
      }
    } else if (record === "unreadable") {
      throw new Error(`${name}.lock is unreadable`);
    } else if (record !== "absent" && !known.has(record.id) && !inFlight) {
      throw new Error(`${name}.lock holds ${record.id}, which no acquisition of ${name} wrote`);
    }
  }
  // Promise 3: a boot right after the cut takes every lock at once.
  const soon = nextBootManager(fs, layout.lockDir, crashedAt);
  const report = await soon.recoverStaleLocks();
  if (report.failed.length > 0)
    throw new Error(`recoverStaleLocks failed on ${report.failed.join(", ")}`);
  try {
    for (const name of names) await soon.acquire(name);
  } finally {
    await soon.releaseAll();
  }
  // Promise 4: a boot after the grace period leaves nothing behind.
  const laterFs = freshImage();
  const later = nextBootManager(laterFs, layout.lockDir, crashedAt + CORRUPT_GRACE_MS + 1_000);
  await later.recoverStaleLocks();
  let leftovers: string[] = [];
  try {
    leftovers = await laterFs.readdir(layout.lockDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (leftovers.length > 0) throw new Error(`left behind after recovery: ${leftovers.join(", ")}`);
}

/**
 * Explores every crash state of a sequence of lock steps run by one manager
 * (fsync: true), which releases whatever it still holds at the end.
 * @param layout - the lock directory and what exists before.
 * @param steps - acquires, releases and renewals, in order.
 * @returns the exploration's report.
 */
export function explorePowerLoss(
  layout: LockLayout,
  steps: readonly LockStep[],
): Promise<CrashExplorationReport> {
  const names = [...new Set(steps.flatMap((step) => (step.kind === "renew" ? [] : [step.name])))];
  const clock = new ManualClock(START);
  return exploreCrashStates<LockEvent>({
    fileSystem: { clock },
    setup: async (fs) => {
      for (const directory of layout.existingDirectories)
        await fs.mkdir(directory, { recursive: true });
      for (const name of layout.staleLocks ?? []) {
        const record: LockOwner = {
          id: staleId(name),
          pid: DEAD_PID,
          bootId: "boot-before-power-cut",
          createdAt: START - 1_000,
          lockVersion: 1,
        };
        const file = await fs.open(join(layout.lockDir, `${name}.lock`), "wx", 0o600);
        await file.write(Buffer.from(JSON.stringify(record)));
        await file.close();
      }
    },
    scenario: async ({ fs, started, resolved }) => {
      const manager = new LockManager({
        lockDir: layout.lockDir,
        fs,
        clock,
        bootId: "boot-before-power-cut",
        corruptGraceMs: CORRUPT_GRACE_MS,
        maxAgeMs: MAX_AGE_MS,
        renewIntervalMs: RENEW_INTERVAL_MS,
        isProcessAlive: (pid) => pid !== DEAD_PID,
      });
      const held = new Map<string, string>();
      for (const step of steps) {
        if (step.kind === "renew") {
          clock.advance(RENEW_INTERVAL_MS);
          // The renewal runs on its own; every crash-state call settles within a few ticks.
          await new Promise((resolve) => setImmediate(resolve));
        } else if (step.kind === "acquire") {
          started({ kind: "acquire", name: step.name });
          const handle = await manager.acquire(step.name);
          held.set(step.name, handle.id);
          resolved({ kind: "acquire", name: step.name, id: handle.id });
        } else {
          const event: LockEvent = { kind: "release", name: step.name, id: held.get(step.name) };
          started(event);
          await manager.release(step.name);
          held.delete(step.name);
          resolved(event);
        }
      }
      for (const [name, id] of held) {
        const event: LockEvent = { kind: "release", name, id };
        started(event);
        await manager.release(name);
        resolved(event);
      }
    },
    check: (context) => checkRecovery(layout, names, context),
  });
}

/** The common scenario: two locks, one taken twice, released in another order. */
export const TWO_LOCKS: readonly LockStep[] = Object.freeze([
  { kind: "acquire", name: "alpha" },
  { kind: "acquire", name: "beta" },
  { kind: "release", name: "alpha" },
  { kind: "acquire", name: "alpha" },
  { kind: "release", name: "beta" },
]);

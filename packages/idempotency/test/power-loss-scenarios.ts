// Power-loss runs of the idempotency index: a scenario of transitions runs on
// core's crash-state filesystem (the journal, its rotations, the snapshot
// store and the owner lock all on it), a power cut is simulated after every
// filesystem call under every model (prefix, order-keeping subset, torn
// write), and a new process recovers from each crash image. Used by
// power-loss.test.ts (and a findings file, when there are any).
//
// What the index promises across a power cut, as checked here:
// 1. initialize() never throws: a power cut is not damage (no image may
//    raise INDEX_CORRUPT), and verifyIdempotencyIndex() calls every image intact.
// 2. Every transition whose promise resolved is found: the key's status is
//    the one its last resolved transition left, or the outcome of a
//    transition on it that started later; the entry carries what was written
//    (intentSeq, result, error); no key is there that no call wrote.
// 3. No key whose markCompleted() (or a settle as completed, or markFailed)
//    resolved is ever claimable again by markPending(), takeover or not,
//    unless a reset() of it started afterwards; a key left pending by the
//    dead process is not claimed either until reconcilePending() hands it out.
// 4. A second recovery from the same image finds the same entries, and the
//    recovered index takes new transitions that the next process finds.
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import {
  type CrashCheckContext,
  type CrashExplorationLimits,
  type CrashExplorationReport,
  type CrashScenarioContext,
  type CrashStateFileSystem,
  createCrashStateFileSystem,
  exploreCrashStates,
  type FileSystem,
  type FileSystemCall,
  ManualClock,
} from "@beauvoir/core";
import { LockManager } from "@beauvoir/locks";
import { ResilientJsonStore } from "@beauvoir/resilient-store";
import {
  exploreEveryKillPoint,
  type KilledRunsReport,
  runKilledProcess,
} from "../../core/test/power-loss-kill-points.js";
import {
  type IdempotencyEntry,
  IdempotencyIndex,
  type IdempotencySnapshot,
  type IdempotencyStatus,
  verifyIdempotencyIndex,
} from "../src/index.js";

/** One transition of a scenario, on a key named by `name` (see {@link keyOf}). */
export type IndexOperation =
  | { readonly kind: "pending"; readonly name: string; readonly intentSeq: number }
  | { readonly kind: "completed"; readonly name: string }
  | { readonly kind: "failed"; readonly name: string }
  | { readonly kind: "reset"; readonly name: string }
  | { readonly kind: "settle"; readonly name: string; readonly status: "completed" | "failed" };

/** A scenario: groups of transitions; those of a group start at once (they share fsyncs). */
export type IndexScenario = readonly (readonly IndexOperation[])[];

/** Where the index lives, and what exists before the scenario. */
export interface IndexLayout {
  /** The index directory. */
  readonly dir: string;
  /** Directories that exist, durably, before the scenario (the rest are missing). */
  readonly existingDirectories: readonly string[];
  /** Keys an earlier process completed, durably (and closed cleanly), before the scenario. */
  readonly earlierCompleted?: readonly string[];
  /** @default 1000 (no compaction in these short runs) */
  readonly compactionThreshold?: number;
  /** The owner lock's directory, e.g. boot's shared one. @default `{dir}/locks` */
  readonly lockDir?: string;
  /** A snapshot store of the caller's at this path (a `ResilientJsonStore`). @default the index's own, `{dir}/snapshot.json` */
  readonly snapshotPath?: string;
  /**
   * A first process runs the scenario and is killed (SIGKILL: the page cache
   * stays) after this many of its calls; a second one then runs the scenario
   * again on the same disk, with other keys. The power cut comes later.
   */
  readonly killedAfterCalls?: number;
}

export const START = Date.UTC(2026, 4, 1, 10);
const keepEverything = {
  redact: (text: string) => text,
  redactAny: (value: unknown) => value,
};

/** The key of a name in the scenarios: a generated key, as a caller would make it. */
export const keyOf = (name: string): string =>
  IdempotencyIndex.generateKey("add_labels", "acme/widgets", name, { name });
/** The result a scenario's markCompleted() stores for `name` (long enough to cross a sector). */
export const resultOf = (name: string) => ({
  name,
  labels: Array.from({ length: 12 }, (_, n) => `label-${name}-${n}`),
});
const errorOf = (name: string): string => `failed ${name}`;

/** Takes any lock of an earlier process: every pid it judges is dead (the machine rebooted, or that process was killed). */
function locksFor(layout: IndexLayout, fs: FileSystem, clock: ManualClock, bootId: string) {
  return new LockManager({
    lockDir: layout.lockDir ?? join(layout.dir, "locks"),
    fs,
    clock,
    bootId,
    isProcessAlive: () => false,
  });
}

/**
 * A new index on `fs`, as a new process would open it.
 * @param bootId - written into its owner lock.
 */
export function openIndex(
  layout: IndexLayout,
  fs: FileSystem,
  clock: ManualClock,
  bootId = "boot-after-power-cut",
): IdempotencyIndex {
  return new IdempotencyIndex({
    dir: layout.dir,
    fs,
    clock,
    redactor: keepEverything,
    locks: locksFor(layout, fs, clock, bootId),
    ...(layout.snapshotPath === undefined
      ? {}
      : {
          store: new ResilientJsonStore<IdempotencySnapshot>({
            path: layout.snapshotPath,
            fs,
            clock,
          }),
        }),
    compactionThreshold: layout.compactionThreshold ?? 1_000,
  });
}

/** Runs one transition and checks the index's answer. */
export async function perform(index: IdempotencyIndex, operation: IndexOperation): Promise<void> {
  const key = keyOf(operation.name);
  switch (operation.kind) {
    case "pending": {
      const claim = await index.markPending(key, operation.intentSeq);
      if (!claim.claimed)
        throw new Error(`markPending(${operation.name}) was not claimed: ${claim.reason}`);
      return;
    }
    case "completed":
      return index.markCompleted(key, resultOf(operation.name));
    case "failed":
      return index.markFailed(key, errorOf(operation.name));
    case "reset":
      await index.reset(key);
      return;
    case "settle":
      await index.settle(
        key,
        operation.status === "completed"
          ? { status: "completed", result: resultOf(operation.name) }
          : { status: "failed", error: errorOf(operation.name) },
      );
  }
}

/** The status a transition leaves its key in (`absent` after a reset). */
const outcomeOf = (operation: IndexOperation): IdempotencyStatus | "absent" => {
  switch (operation.kind) {
    case "pending":
      return "pending";
    case "completed":
    case "failed":
      return operation.kind;
    case "reset":
      return "absent";
    case "settle":
      return operation.status;
  }
};

/** Checks that `entry` holds what `operation` wrote. */
function checkContent(name: string, entry: IdempotencyEntry, operation: IndexOperation): void {
  const wrong = (what: string) => {
    throw new Error(`${name}: ${what} after recovery: ${JSON.stringify(entry)}`);
  };
  if (operation.kind === "pending" && entry.intentSeq !== operation.intentSeq) wrong("intentSeq");
  if (entry.status === "completed" && !isDeepStrictEqual(entry.result, resultOf(name))) {
    wrong("result");
  }
  if (entry.status === "failed" && entry.error !== errorOf(name)) wrong("error");
}

/**
 * Promises 2 and 3 on a recovered index.
 * @returns the entries, as text, to compare two recoveries.
 */
async function checkEntries(
  layout: IndexLayout,
  index: IdempotencyIndex,
  { promised, started }: Pick<CrashCheckContext<IndexOperation>, "promised" | "started">,
): Promise<string> {
  const names = [
    ...new Set([...(layout.earlierCompleted ?? []), ...started.map((operation) => operation.name)]),
  ];
  const found = new Map<string, IdempotencyEntry>();
  for (const name of names) {
    const onKey = (operation: IndexOperation) => operation.name === name;
    const startedOnKey = started.filter(onKey);
    const last = promised.filter(onKey).at(-1);
    const initial = layout.earlierCompleted?.includes(name) ? "completed" : "absent";
    const allowedOperations =
      last === undefined ? startedOnKey : startedOnKey.slice(startedOnKey.lastIndexOf(last));
    const allowed = [...(last === undefined ? [initial] : []), ...allowedOperations.map(outcomeOf)];
    const entry = await index.check(keyOf(name));
    const status = entry?.status ?? "absent";
    if (!allowed.includes(status)) {
      throw new Error(
        `${name}: recovered ${status}, allowed ${JSON.stringify(allowed)} (last resolved: ${JSON.stringify(last ?? null)})`,
      );
    }
    if (entry) {
      // The transition that left this status: the last allowed one with that outcome.
      const writer = [...allowedOperations]
        .reverse()
        .find((operation) => outcomeOf(operation) === status);
      if (writer) checkContent(name, entry, writer);
      found.set(name, entry);
    }
  }
  if (index.size !== found.size) {
    throw new Error(
      `the index holds ${index.size} entries, the scenario wrote ${found.size} of them`,
    );
  }
  // Promise 3: nothing settled is claimable, and a dead owner's pending key is not either.
  const released = new Set((await index.reconcilePending()).map((entry) => entry.key));
  for (const [name, entry] of found) {
    for (const takeover of [false, true]) {
      if (entry.status === "pending" && (takeover || released.has(entry.key))) continue;
      const claim = await index.markPending(entry.key, 999_999, { takeover });
      if (claim.claimed) {
        throw new Error(
          `${name} (${entry.status}) was claimed again by markPending(takeover: ${takeover})`,
        );
      }
    }
    if (entry.status === "pending" && !released.has(entry.key)) {
      throw new Error(
        `${name} is pending after the cut, but reconcilePending() did not hand it out`,
      );
    }
  }
  return JSON.stringify([...found.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

async function recover(
  layout: IndexLayout,
  fs: CrashStateFileSystem,
  clock: ManualClock,
  context: Pick<CrashCheckContext<IndexOperation>, "promised" | "started">,
): Promise<string> {
  const index = openIndex(layout, fs, clock);
  try {
    try {
      await index.initialize();
    } catch (error) {
      const { code, kind } = error as { code?: string; kind?: string };
      throw new Error(
        `initialize() threw ${code ?? ""} ${kind ?? ""}: ${(error as Error).message}`,
      );
    }
    return await checkEntries(layout, index, context);
  } finally {
    await index.close();
  }
}

/**
 * How much each crash image is checked: `"thorough"`, promises 1 to 4;
 * `"promises"`, 1 to 3 (one recovery: for the many runs of a killed first
 * process, whose images are mostly those of the runs without one).
 */
export type CheckDepth = "thorough" | "promises";

/** Promises 1 to 4 (or 1 to 3) on one crash image. */
async function checkRecovery(
  layout: IndexLayout,
  context: CrashCheckContext<IndexOperation>,
  depth: CheckDepth,
): Promise<void> {
  const clock = new ManualClock(context.crashedAt + 1_000);
  const image = context.freshImage();
  // A directory the cut took away (nothing was promised in it yet) is not one to verify.
  const present = await image.stat(layout.dir).then(
    () => true,
    () => false,
  );
  const store =
    layout.snapshotPath === undefined
      ? {}
      : {
          store: new ResilientJsonStore<IdempotencySnapshot>({
            path: layout.snapshotPath,
            fs: image,
            clock,
          }),
        };
  const verified = present
    ? await verifyIdempotencyIndex({ dir: layout.dir, fs: image, clock, ...store })
    : undefined;
  if (verified && !verified.intact) {
    throw new Error(`verifyIdempotencyIndex() found damage: ${JSON.stringify(verified.problems)}`);
  }
  const first = await recover(layout, context.fs, clock, context);
  if (depth === "promises") return;
  const second = await recover(layout, context.freshImage(), clock, context);
  if (second !== first)
    throw new Error(`two recoveries of one image disagree:\n${first}\n${second}`);
  // The index goes on: a new side effect, completed, is found by the next process.
  const after = openIndex(layout, context.fs, clock);
  const key = keyOf("after-the-cut");
  try {
    await after.initialize();
    await after.markPending(key, 1);
    await after.markCompleted(key, { done: true });
  } finally {
    await after.close();
  }
  const next = openIndex(layout, context.fs, clock);
  try {
    await next.initialize();
    const entry = await next.check(key);
    if (entry?.status !== "completed")
      throw new Error(`the key completed after the cut is ${entry?.status}`);
  } finally {
    await next.close();
  }
}

/** Limits of every index run: small enough for well under a few seconds per run on a loaded machine. */
export const INDEX_LIMITS: CrashExplorationLimits = Object.freeze({
  maxSubsets: 32,
  sectorTearsPerWrite: 4,
  randomTearsPerWrite: 1,
  maxStates: 20_000,
});

/** Limits of each run of a killed first process (there is one run per kill point). */
export const KILLED_LIMITS: CrashExplorationLimits = Object.freeze({
  maxSubsets: 8,
  sectorTearsPerWrite: 2,
  randomTearsPerWrite: 1,
  maxStates: 2_000,
});

/**
 * Runs `scenario` on an index opened on `indexFs` (the groups in order, the
 * transitions of a group at once), then closes it.
 */
export async function runScenario(
  layout: IndexLayout,
  scenario: IndexScenario,
  { track }: Pick<CrashScenarioContext<IndexOperation>, "track">,
  clock: ManualClock,
  indexFs: FileSystem,
): Promise<void> {
  const index = openIndex(layout, indexFs, clock, "boot-before-power-cut");
  try {
    await index.initialize();
    for (const group of scenario) {
      clock.advance(1);
      await Promise.all(
        group.map((operation) => track(operation, () => perform(index, operation))),
      );
    }
  } finally {
    await index.close();
  }
}

async function writeEarlierIndex(
  fs: CrashStateFileSystem,
  layout: IndexLayout,
  clock: ManualClock,
) {
  for (const directory of layout.existingDirectories)
    await fs.mkdir(directory, { recursive: true });
  const earlier = layout.earlierCompleted ?? [];
  if (earlier.length === 0) return;
  const index = openIndex(layout, fs, clock, "boot-of-the-earlier-run");
  await index.initialize();
  for (const name of earlier) {
    await perform(index, { kind: "pending", name, intentSeq: 1 });
    await perform(index, { kind: "completed", name });
  }
  await index.close();
}

/**
 * Explores every crash state of a scenario from the given layout.
 * @param layout - the index directory and what exists before.
 * @param scenario - groups of transitions, in order.
 * @param limits - bounds of the exploration.
 * @param depth - how much each image is checked.
 * @returns the exploration's report.
 */
export function explorePowerLoss(
  layout: IndexLayout,
  scenario: IndexScenario,
  limits: CrashExplorationLimits = INDEX_LIMITS,
  depth: CheckDepth = "thorough",
): Promise<CrashExplorationReport> {
  return exploreIndexRun(
    layout,
    async (context, clock) => {
      if (layout.killedAfterCalls !== undefined) {
        await runKilledProcess(context.fs, layout.killedAfterCalls, (killed) =>
          runScenario(layout, renamed(scenario, "killed"), context, clock, killed),
        );
      }
      await runScenario(layout, scenario, context, clock, context.fs);
    },
    limits,
    depth,
  );
}

/**
 * Explores every crash state of a run written by hand (a fail stop and a
 * new instance): `run` records what it was promised on the context, and
 * closes every index it opens.
 */
export function exploreIndexRun(
  layout: IndexLayout,
  run: (context: CrashScenarioContext<IndexOperation>, clock: ManualClock) => Promise<void>,
  limits: CrashExplorationLimits = INDEX_LIMITS,
  depth: CheckDepth = "thorough",
): Promise<CrashExplorationReport> {
  const clock = new ManualClock(START);
  return exploreCrashStates<IndexOperation>({
    fileSystem: { clock },
    limits,
    setup: (fs) => writeEarlierIndex(fs, layout, clock),
    scenario: (context) => run(context, clock),
    check: (context) => checkRecovery(layout, context, depth),
  });
}

/** The same scenario on other keys (for a second process running it again). */
function renamed(scenario: IndexScenario, prefix: string): IndexScenario {
  return scenario.map((group) =>
    group.map((operation) => ({ ...operation, name: `${prefix}-${operation.name}` })),
  );
}

/** `count` keys, each claimed then completed, one after the other. */
export function completions(count: number, prefix = "k"): IndexOperation[][] {
  return Array.from({ length: count }, (_, index) => {
    const name = `${prefix}-${index + 1}`;
    return [
      [{ kind: "pending", name, intentSeq: index + 1 }],
      [{ kind: "completed", name }],
    ] as IndexOperation[][];
  }).flat();
}

/** `writers` keys claimed at once, then settled at once (one in four failed). */
export function concurrentWriters(writers: number, prefix = "w"): IndexOperation[][] {
  const names = Array.from({ length: writers }, (_, index) => `${prefix}-${index + 1}`);
  return [
    names.map((name, index) => ({ kind: "pending", name, intentSeq: 100 + index })),
    names.map((name, index) =>
      index % 4 === 3 ? { kind: "failed", name } : { kind: "completed", name },
    ),
  ];
}

/** The calls one uninterrupted run of `scenario` makes from `layout`. */
export async function scenarioCalls(
  layout: IndexLayout,
  scenario: IndexScenario,
): Promise<readonly FileSystemCall[]> {
  const clock = new ManualClock(START);
  const fs = createCrashStateFileSystem({ clock });
  await writeEarlierIndex(fs, layout, clock);
  const before = fs.calls.length;
  await runScenario(layout, scenario, { track: (_value, run) => run() }, clock, fs);
  return fs.calls.slice(before);
}

/**
 * For each kill point of an uninterrupted run (0, and every call that
 * changed something): a first process runs `scenario` and is killed after
 * that call, a second one runs it on other keys, and every crash state of
 * the whole is checked (promises 1 to 3, {@link KILLED_LIMITS}).
 */
export async function exploreKilledFirstProcess(
  layout: IndexLayout,
  scenario: IndexScenario,
): Promise<KilledRunsReport> {
  return exploreEveryKillPoint(await scenarioCalls(layout, scenario), (killedAfterCalls) =>
    explorePowerLoss({ ...layout, killedAfterCalls }, scenario, KILLED_LIMITS, "promises"),
  );
}

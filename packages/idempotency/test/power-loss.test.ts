// Power loss, simulated with core's crash-state filesystem: a power cut after
// every filesystem call of a scenario of transitions (the journal, its
// rotations, the snapshot store and the owner lock all on that filesystem),
// under each model (prefix, order-keeping subset, torn write), and a new
// process recovering from each crash image. What is checked (see
// power-loss-scenarios.ts): initialize() never throws and verify calls every
// image intact (a power cut is not damage), every resolved transition is
// found, nothing settled is claimable again by markPending(), a dead owner's
// pending key waits for reconcilePending(), and the index goes on.
//
// Limits (INDEX_LIMITS): 32 subsets per crash point, 4 sector tears and 1
// random tear per pending write, 20,000 states per run.
import { createCrashStateFileSystem, createFaultyFileSystem, ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { checkIndexFailStop } from "./power-loss-fail-stop.js";
import {
  completions,
  concurrentWriters,
  exploreKilledFirstProcess,
  explorePowerLoss,
  type IndexLayout,
  type IndexScenario,
  keyOf,
  openIndex,
  START,
  scenarioCalls,
} from "./power-loss-scenarios.js";

const existing: IndexLayout = {
  dir: "/srv/idempotency",
  existingDirectories: ["/srv/idempotency"],
};
/** boot's way: the owner lock in a shared lock directory, the snapshot in a store of the caller's. */
const sharedElsewhere: IndexLayout = {
  dir: "/srv/idempotency",
  existingDirectories: ["/srv/idempotency", "/srv/locks", "/srv/state"],
  lockDir: "/srv/locks",
  snapshotPath: "/srv/state/idempotency-snapshot.json",
};

const cases: Array<[string, IndexLayout, IndexScenario]> = [
  ["3 keys claimed and completed in an existing, empty directory", existing, completions(3)],
  [
    "2 keys in a directory missing two levels deep (the index creates them)",
    { dir: "/srv/agent/idempotency", existingDirectories: ["/srv"] },
    completions(2),
  ],
  [
    "compaction every 2 records (compactionThreshold 2): journal rotations, snapshots, deletions",
    { ...existing, compactionThreshold: 2 },
    completions(4),
  ],
  [
    "6 concurrent writers sharing fsyncs, one in four failed, compaction every 3 records",
    { ...existing, compactionThreshold: 3 },
    concurrentWriters(6),
  ],
  [
    "reset() and settle(): a completed key reset and claimed again, settlements of known and unknown keys",
    { ...existing, compactionThreshold: 3 },
    [
      [{ kind: "pending", name: "a", intentSeq: 1 }],
      [{ kind: "completed", name: "a" }],
      [{ kind: "reset", name: "a" }],
      [{ kind: "pending", name: "a", intentSeq: 2 }],
      [{ kind: "settle", name: "b", status: "completed" }],
      [{ kind: "settle", name: "a", status: "failed" }],
      [{ kind: "pending", name: "c", intentSeq: 3 }],
      [{ kind: "failed", name: "c" }],
    ],
  ],
  [
    "over the snapshot and journal of an earlier, cleanly closed run (compactionThreshold 2)",
    { ...existing, earlierCompleted: ["old-1", "old-2", "old-3"], compactionThreshold: 2 },
    completions(2),
  ],
  [
    "the owner lock and the snapshot store outside the index directory (compactionThreshold 2)",
    { ...sharedElsewhere, compactionThreshold: 2 },
    completions(3),
  ],
];

describe("power loss during markPending(), markCompleted(), markFailed(), reset(), settle() (crash-state filesystem)", () => {
  it.each(cases)("%s: every resolved transition is recovered", async (name, layout, scenario) => {
    const report = await explorePowerLoss(layout, scenario);
    console.info(`${name}: ${report.summary}`);
    expect(report.failures.map((failure) => failure.message)).toEqual([]);
    expect(report.truncated).toBe(false);
    expect(report.crashPoints).toBe(report.calls + 1);
    expect(report.promisesResolved).toBe(scenario.flat().length);
    expect(report.statesByModel.torn).toBeGreaterThan(0);
    expect(report.statesByModel.subset).toBeGreaterThan(0);
  });
});

describe("compaction happens inside the runs", () => {
  it("rotates the journal, writes snapshots and deletes old journals with compactionThreshold 2", async () => {
    const calls = await scenarioCalls({ ...existing, compactionThreshold: 2 }, completions(4));
    const journal = /journal\.\d+\.jsonl$/;
    const linked = calls.filter(
      (call) => call.operation === "link" && journal.test(call.destination ?? ""),
    );
    const deleted = calls.filter((call) => call.operation === "unlink" && journal.test(call.path));
    const snapshots = calls.filter(
      (call) => call.operation === "rename" && call.destination?.endsWith("snapshot.json"),
    );
    expect(linked.length).toBeGreaterThanOrEqual(3);
    expect(deleted.length).toBeGreaterThanOrEqual(1);
    expect(snapshots.length).toBeGreaterThanOrEqual(3);
  });
});

describe("a process killed (SIGKILL) after any of its calls, the next process, then a power cut", () => {
  // Was a finding: with the owner lock and the snapshot store outside the
  // index directory (boot's way), a first process's compaction linked
  // journal.1.jsonl and was SIGKILLed before the directory fsync. The next
  // process appended to journal.1 (the newest) and nothing made its name
  // durable: its resolved markPending() was lost at the next power cut (a
  // lost markCompleted() would make the key claimable again). initialize()
  // now fsyncs the directory before appending to an existing journal.
  it("keeps a transition the next process appended to a journal the killed one linked", async () => {
    const layout: IndexLayout = { ...sharedElsewhere, compactionThreshold: 1 };
    const clock = new ManualClock(START);
    const fs = createCrashStateFileSystem({ clock });
    for (const directory of layout.existingDirectories)
      await fs.mkdir(directory, { recursive: true });
    fs.syncAll();
    let linked = false;
    const killed = createFaultyFileSystem({
      base: fs,
      inject: (call) => {
        if (linked) return { crash: true };
        if (call.operation === "link" && call.destination?.endsWith("journal.1.jsonl"))
          linked = true;
        return undefined;
      },
    });
    const first = openIndex(layout, killed, clock, "killed");
    await first.initialize();
    await first.markPending(keyOf("a"), 1).catch(() => {});
    await first.close().catch(() => {});
    expect(linked).toBe(true);
    const next = openIndex({ ...layout, compactionThreshold: 1_000 }, fs, clock, "next");
    await next.initialize();
    await next.markPending(keyOf("b"), 2);
    const afterPowerCut = openIndex(layout, fs.durableImage(), clock, "after-power-cut");
    await afterPowerCut.initialize();
    expect((await afterPowerCut.check(keyOf("b")))?.status).toBe("pending");
    await afterPowerCut.close();
    await next.close();
  });

  it.each([
    [
      "the index's own lock and snapshot, compaction every 2 records",
      { ...existing, compactionThreshold: 2 },
    ],
    [
      "the owner lock and the snapshot store outside, compaction every 2 records",
      { ...sharedElsewhere, compactionThreshold: 2 },
    ],
  ] as Array<[string, IndexLayout]>)(
    "%s: every resolved transition of the next process is recovered",
    async (name, layout) => {
      const report = await exploreKilledFirstProcess(layout, completions(1));
      console.info(`killed first process, ${name}: ${report.summary}`);
      expect(report.failures).toEqual([]);
      expect(report.runs).toBeGreaterThan(20);
    },
    // About 3,700 crash states each: a few seconds on an idle 2-core machine,
    // several times that when the machine is shared.
    120_000,
  );
});

describe("fsync failures fail stop, as Linux fails an fsync (its pages never reach the disk)", () => {
  it("refuses every transition after the failed fsync; a new instance finds exactly the resolved ones, and so does the disk", () =>
    checkIndexFailStop());
});

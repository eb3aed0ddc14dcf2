// Power loss, simulated with core's crash-state filesystem: a power cut after
// every filesystem call of the scenario, under each model (the pending
// operations reach the disk as a prefix, as an order-keeping subset, or as a
// prefix ending in a torn write), and a fresh store recovering from each
// crash image. Every resolved set() (or clear()) is found after recovery, or
// a newer one that had started; recovery never throws, agrees with itself,
// and the store takes a new write. Failures caused by known gaps are in
// power-loss-findings.test.ts.
import { describe, expect, it } from "vitest";
import {
  explorePowerLoss,
  type StoreLayout,
  type StoreOperation,
  sets,
} from "./power-loss-scenarios.js";

const cases: Array<[string, StoreLayout, StoreOperation[]]> = [
  [
    "4 set() calls into an existing, empty directory",
    { path: "/srv/store/state.json", existingDirectories: ["/srv/store"] },
    sets(4),
  ],
  [
    "3 set() calls over the primary and bak of an earlier run",
    { path: "/srv/store/state.json", existingDirectories: ["/srv/store"], earlierStates: [-2, -1] },
    sets(3),
  ],
  [
    "3 set() calls whose directory is missing (one level; the store creates it and fsyncs its parent)",
    { path: "/srv/store/state.json", existingDirectories: ["/srv"] },
    sets(3),
  ],
  [
    "4 set() calls with short writes of at most 256 bytes",
    { path: "/srv/store/state.json", existingDirectories: ["/srv/store"], maxBytesPerWrite: 256 },
    sets(4),
  ],
  [
    "3 set() calls started at once",
    { path: "/srv/store/state.json", existingDirectories: ["/srv/store"], concurrent: true },
    sets(3),
  ],
  [
    // With a bak in place, clear() can bring an older state back: see power-loss-findings.test.ts.
    "set(), clear(), set() on a new store",
    { path: "/srv/store/state.json", existingDirectories: ["/srv/store"] },
    [{ kind: "set", n: 1 }, { kind: "clear" }, { kind: "set", n: 2 }],
  ],
];

describe("power loss during set() (crash-state filesystem)", () => {
  it.each(cases)(
    "%s: every resolved call is recovered, or a newer one",
    async (_name, layout, operations) => {
      const report = await explorePowerLoss(layout, operations);
      console.info(`${_name}: ${report.summary}`);
      expect(report.failures.map((failure) => failure.message)).toEqual([]);
      expect(report.truncated).toBe(false);
      expect(report.promisesResolved).toBe(operations.length);
      expect(report.crashPoints).toBe(report.calls + 1);
      // Every call is a crash point, and each model added states of its own.
      expect(report.statesByModel.prefix).toBeGreaterThanOrEqual(report.promisesResolved);
      expect(report.statesByModel.torn).toBeGreaterThan(0);
    },
  );
});

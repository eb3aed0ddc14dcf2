// Power loss, simulated with core's crash-state filesystem: a power cut after
// every filesystem call of a scenario of acquires and releases, under each
// model (prefix, order-keeping subset, torn write), and a new boot recovering
// from each crash image. What is checked (see power-loss-scenarios.ts): a
// resolved acquire() left its complete record on disk; a resolved release()
// may come back, complete; the next boot takes every lock at once; after the
// grace period recovery leaves no file behind. Failures caused by known gaps
// are in power-loss-findings.test.ts.
import { describe, expect, it } from "vitest";
import {
  explorePowerLoss,
  type LockLayout,
  type LockStep,
  TWO_LOCKS,
} from "./power-loss-scenarios.js";

const cases: Array<[string, LockLayout, readonly LockStep[]]> = [
  [
    "two locks taken, released and taken again in an existing directory",
    { lockDir: "/run/agent/locks", existingDirectories: ["/run/agent/locks"] },
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

// Issue 12, finding 10 at boot level: a power cut after any filesystem call of
// a first boot on a missing data directory and its first step (boot's own
// directories, the probe, the instance lock, the audit trail, the index, the
// stores, last-boot.json) never loses the step's completion: a recovery boot
// on what the disk kept answers `deduplicated`, and never runs it again.
import { exploreCrashStates } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { boot } from "../src/index.js";

const DATA_DIR = "/srv/agent/data";
const silent = { level: "silent" as const };

describe("power loss during a first boot and its first step", () => {
  it("every crash state: the completed step is never run again", async () => {
    let sideEffects = 0;
    const step = (run: () => Promise<unknown>) => ({
      action: "add_labels",
      scope: "acme/widgets",
      resource: "issue-1",
      params: { labels: ["bug"] },
      run,
    });
    const report = await exploreCrashStates<string>({
      setup: (fs) => fs.mkdir("/srv", { recursive: true }),
      scenario: async ({ fs, track }) => {
        const app = await boot({ dataDir: DATA_DIR, fs, log: silent });
        await track("labelled", () => app.executor.execute(step(async () => ["bug"])));
        await app.shutdown();
      },
      check: async ({ fs, promised }) => {
        // After a power cut every process that held a lock is gone.
        const app = await boot({
          dataDir: DATA_DIR,
          fs,
          log: silent,
          locks: { isProcessAlive: () => false },
        });
        try {
          const outcome = await app.executor.execute(
            step(async () => {
              sideEffects++;
              return ["bug"];
            }),
          );
          if (promised.includes("labelled") && outcome.status === "executed") {
            throw new Error("the step completed before the cut ran again");
          }
        } finally {
          await app.shutdown();
        }
      },
      limits: { maxSubsets: 8, sectorTearsPerWrite: 1, randomTearsPerWrite: 1 },
    });
    console.info(`boot power loss: ${report.summary}`);
    expect(report.failures.map((failure) => failure.message)).toEqual([]);
    expect(report.statesExplored).toBeGreaterThan(100);
    expect(sideEffects).toBeGreaterThan(0); // states cut before the step: it runs once there
  }, 600_000);
});

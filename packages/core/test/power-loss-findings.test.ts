// FINDINGS: power-loss checks of core that FAIL on today's code, kept apart so
// the rest of the suite stays green. Each test states the exact reproducer;
// they are not to be weakened or skipped.
import { describe, expect, it } from "vitest";
import { createCrashStateFileSystem, ensureDurableDirectory } from "../src/index.js";

describe("FINDING: ensureDurableDirectory() trusts a level that a killed process created", () => {
  // Reproducer: /srv exists (durable). A first process mkdirs /srv/agent and
  // is SIGKILLed before fsyncing /srv (the page cache keeps /srv/agent, the
  // disk does not). The next process calls ensureDurableDirectory(fs,
  // "/srv/agent/audit"): /srv/agent exists, so only /srv/agent/audit is made
  // and /srv/agent fsynced; /srv is never fsynced, and a power cut takes
  // /srv/agent away with everything fsynced below it. (The function already
  // fsyncs the parent of an existing target for this reason, but not the
  // parents of the levels above it.) The audit trail hits it:
  // audit-trail/test/power-loss-findings.test.ts, "killed … (two missing
  // levels)".
  it("makes every level of the path durable, whoever created it", async () => {
    const fs = createCrashStateFileSystem();
    await fs.mkdir("/srv", { recursive: true });
    fs.syncAll();
    await fs.mkdir("/srv/agent", { recursive: true }); // the killed process
    await ensureDurableDirectory(fs, "/srv/agent/audit");
    const afterPowerCut = fs.durableImage();
    await expect(afterPowerCut.stat("/srv/agent/audit")).resolves.toBeDefined();
  });

  it("makes an existing path durable when a killed process created two of its levels", async () => {
    const fs = createCrashStateFileSystem();
    await fs.mkdir("/srv", { recursive: true });
    fs.syncAll();
    await fs.mkdir("/srv/agent/audit", { recursive: true }); // the killed process
    await ensureDurableDirectory(fs, "/srv/agent/audit");
    await expect(fs.durableImage().stat("/srv/agent/audit")).resolves.toBeDefined();
  });
});

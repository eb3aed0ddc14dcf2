// Power-loss checks of core's own helpers, on the crash-state filesystem.
import { describe, expect, it } from "vitest";
import { createCrashStateFileSystem, ensureDurableDirectory } from "../src/index.js";

describe("ensureDurableDirectory() across a power cut, after a killed process created some levels", () => {
  // Was a finding: /srv exists (durable). A first process mkdirs /srv/agent and
  // is SIGKILLed before fsyncing /srv (the page cache keeps /srv/agent, the
  // disk does not). The next process calls ensureDurableDirectory(fs,
  // "/srv/agent/audit"): /srv/agent exists, so only /srv/agent/audit is made
  // and /srv/agent fsynced; /srv was never fsynced, and a power cut took
  // /srv/agent away with everything fsynced below it. The parent of every
  // level is fsynced now, whoever created the level.
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

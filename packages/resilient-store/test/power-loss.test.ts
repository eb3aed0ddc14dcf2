// Power loss, simulated with core's crash-state filesystem: a power cut after
// every filesystem call of the scenario, under each model (the pending
// operations reach the disk as a prefix, as an order-keeping subset, or as a
// prefix ending in a torn write), and a fresh store recovering from each
// crash image. Every resolved set() (or clear()) is found after recovery, or
// a newer one that had started; recovery never throws, agrees with itself,
// and the store takes a new write. The runs that were findings (two missing
// directory levels; clear() over a bak) pass since the store's fixes and are
// kept here.
import {
  createCrashStateFileSystem,
  createFaultyFileSystem,
  type FileSystem,
  type FileSystemCall,
  ManualClock,
} from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { ResilientJsonStore } from "../src/index.js";
import {
  explorePowerLoss,
  type StoreLayout,
  type StoreOperation,
  sets,
  stateOf,
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
    // Was a finding (F10): only the last level's parent was fsynced, so /srv/agent could vanish.
    "3 set() calls whose directory is missing two levels deep (each level made durable in its parent)",
    { path: "/srv/agent/store/state.json", existingDirectories: ["/srv"] },
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

describe("power loss during clear() over a primary and a bak", () => {
  // Was a finding: set(1) and set(2) resolved (primary = 2, bak = 1), then
  // clear() unlinked the bak and the primary and fsynced the directory once.
  // A power cut before that fsync could keep the primary's unlink and lose
  // the bak's (two names, independent until the fsync: the subset model), and
  // recovery served state 1 although set(2) had resolved. clear() now makes
  // the bak's unlink durable before it unlinks the primary.
  it("never serves the bak's older state after a power cut in clear()", async () => {
    const report = await explorePowerLoss(
      { path: "/srv/store/state.json", existingDirectories: ["/srv/store"], earlierStates: [1, 2] },
      [{ kind: "clear" }],
    );
    console.info(`clear() after two sets: ${report.summary}`);
    expect(report.failures.map((failure) => failure.message)).toEqual([]);
    expect(report.truncated).toBe(false);
    expect(report.crashPoints).toBe(report.calls + 1);
    expect(report.promisesResolved).toBe(1);
  });
});

describe("a store directory two levels deep survives a power cut", () => {
  // Was a finding (F10): /srv exists (durable); set() on
  // /srv/agent/store/state.json resolved, and a power cut that kept only what
  // was made durable lost /srv/agent (its entry in /srv was never fsynced),
  // and with it the state.
  it("keeps a resolved set() when only what was made durable survives", async () => {
    const fs = createCrashStateFileSystem({ clock: new ManualClock(1_700_000_000_000) });
    await fs.mkdir("/srv", { recursive: true });
    fs.syncAll();
    await new ResilientJsonStore({ path: "/srv/agent/store/state.json", fs }).set(stateOf(1));
    const recovered = await new ResilientJsonStore<ReturnType<typeof stateOf>>({
      path: "/srv/agent/store/state.json",
      fs: fs.durableImage(),
    }).get();
    expect(recovered?.n).toBe(1);
  });
});

type TestState = ReturnType<typeof stateOf>;
const STORE_PATH = "/srv/store/state.json";

/**
 * Runs `set(earlier…)` durably, then `set(killedWrite)` on a writer killed
 * (SIGKILL: the page cache stays) where `killAt` says, then a fresh store's
 * get() in the next process.
 * @returns what that get() served, and what a store reads after a power cut
 *   that kept only what was made durable.
 */
async function servedThenPowerCut(
  earlier: readonly number[],
  killedWrite: number,
  killAt: (call: FileSystemCall) => boolean,
): Promise<{ served: number | undefined; afterPowerCut: number | undefined }> {
  const clock = new ManualClock(1_700_000_000_000);
  const fs = createCrashStateFileSystem({ clock });
  await fs.mkdir("/srv/store", { recursive: true });
  fs.syncAll();
  const open = (on: FileSystem) =>
    new ResilientJsonStore<TestState>({ path: STORE_PATH, fs: on, clock });
  for (const n of earlier) await open(fs).set(stateOf(n));
  let killed = false;
  const killing = createFaultyFileSystem({
    base: fs,
    inject: (call) => {
      if (killed) return { crash: true };
      killed = killAt(call);
      return undefined;
    },
  });
  await expect(open(killing).set(stateOf(killedWrite))).rejects.toThrow();
  const served = (await open(fs).get())?.n;
  const afterPowerCut = (await open(fs.durableImage()).get())?.n;
  return { served, afterPowerCut };
}

describe("a state get() served after a writer was killed survives a power cut", () => {
  // Found by the index's power-loss runs (a process killed while writing its
  // snapshot, then the next process): set(1) writes state.json.{pid}.tmp and
  // the process is SIGKILLed before the tmp's fsync (the page cache keeps the
  // complete file). The next process's get() found that complete tmp, newer
  // than everything, served it and renamed it to state.json (directory
  // fsynced), but its data was never fsynced: a power cut then left
  // state.json empty, and what get() served was gone (the index that built
  // on that snapshot found it damaged). The tmp is now fsynced before it is promoted.
  it("keeps what get() served from a killed writer's tmp file", async () => {
    const outcome = await servedThenPowerCut([], 1, (call) => call.operation === "write");
    expect(outcome).toEqual({ served: 1, afterPowerCut: 1 });
  });

  // The same class: set(1) resolved; set(2) renames the tmp over state.json
  // and the process is SIGKILLed before the directory fsync. The next
  // process's get() served state 2 (the page cache has the rename), but
  // nothing made that rename durable: a power cut brought back state 1
  // after state 2 was served. The store now fsyncs its directory when it
  // first reads the files a previous process left.
  it("keeps what get() served when the writer's last rename was not fsynced", async () => {
    const outcome = await servedThenPowerCut(
      [1],
      2,
      (call) => call.operation === "rename" && call.destination === STORE_PATH,
    );
    expect(outcome).toEqual({ served: 2, afterPowerCut: 2 });
  });
});

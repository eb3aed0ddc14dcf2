// Power loss, simulated with core's crash-state filesystem: a power cut after
// every filesystem call of a scenario of records, under each model (prefix,
// order-keeping subset, torn write), and a fresh AuditTrail recovering from
// each crash image. What is checked (see power-loss-scenarios.ts): every
// resolved intent, result, denial and signing switch is in the history,
// nothing else is, initialize() never throws (no crash image is damage: none
// may raise AUDIT_CORRUPT), verifyChain() is valid, pending intents and the
// dedupeKey index are right, and the trail goes on.
//
// Limits (AUDIT_LIMITS): 32 subsets per crash point, 4 sector tears and 1
// random tear per pending write, 20,000 states per run; every run here stays
// far below them (a few hundred states, under a second).
import {
  createCrashStateFileSystem,
  createFaultyFileSystem,
  FailStoppedError,
  ManualClock,
} from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { AuditTrail } from "../src/index.js";
import { checkFailStop } from "./power-loss-fail-stop.js";
import {
  type AuditLayout,
  type AuditOperation,
  type AuditScenario,
  concurrentWriters,
  exploreAuditRun,
  exploreKilledFirstProcess,
  explorePowerLoss,
  openTrail,
  pairs,
  perform,
  START,
} from "./power-loss-scenarios.js";

const keepEverything = { redactAny: (value: unknown) => value };

const existing: AuditLayout = {
  path: "/srv/audit/audit.jsonl",
  existingDirectories: ["/srv/audit"],
};
const KEY = "k".repeat(32);

const cases: Array<[string, AuditLayout, AuditScenario]> = [
  ["4 intent/result pairs into an existing, empty directory", existing, pairs(4)],
  [
    "intents, results, denials and dry runs mixed (dry runs are fsynced by the next durable record)",
    existing,
    [
      [{ kind: "dryRun", id: "dry-1" }],
      [{ kind: "intent", id: "i-1" }],
      [{ kind: "dryRun", id: "dry-2" }],
      [{ kind: "dryRun", id: "dry-3" }],
      [{ kind: "denied", id: "d-1" }],
      [{ kind: "result", id: "i-1-done", of: "i-1" }],
      [{ kind: "intent", id: "i-2" }],
    ],
  ],
  ["4 concurrent writers sharing group-commit fsyncs", existing, concurrentWriters(4)],
  ["8 concurrent writers sharing group-commit fsyncs", existing, concurrentWriters(8)],
  [
    "rotation every 2 records (maxSizeBytes 1,000), 3 segments made in the run",
    { ...existing, maxSizeBytes: 1_000 },
    pairs(4),
  ],
  [
    "rotation with concurrent writers (maxSizeBytes 1,500)",
    { ...existing, maxSizeBytes: 1_500 },
    [...concurrentWriters(3), ...pairs(2, "later")],
  ],
  [
    "rotation over an earlier history of 3 pairs (maxSizeBytes 1,000)",
    { ...existing, earlierPairs: 3, maxSizeBytes: 1_000 },
    pairs(2),
  ],
  [
    "two missing directory levels (the trail creates them)",
    { path: "/srv/agent/audit/audit.jsonl", existingDirectories: ["/srv"] },
    pairs(2),
  ],
  [
    "continuing an earlier history whose last line is torn (recovery cuts it)",
    { ...existing, earlierPairs: 2, earlierTornTail: true },
    pairs(2),
  ],
  ["an HMAC key from the first record", { ...existing, hmacKey: KEY }, pairs(3)],
  [
    "startSigning() over an unsigned earlier history, then signed records",
    { ...existing, earlierPairs: 2, earlierUnsigned: true, hmacKey: KEY },
    [[{ kind: "startSigning", id: "switch" }], ...pairs(2)],
  ],
  [
    "short writes of at most 256 bytes (each record takes two writes)",
    { ...existing, maxBytesPerWrite: 256 },
    pairs(2),
  ],
];

describe("power loss during recordIntent(), recordResult(), recordDenied() (crash-state filesystem)", () => {
  it.each(cases)("%s: every resolved record is recovered", async (name, layout, scenario) => {
    const report = await explorePowerLoss(layout, scenario);
    console.info(`${name}: ${report.summary}`);
    expect(report.failures.map((failure) => failure.message)).toEqual([]);
    expect(report.truncated).toBe(false);
    expect(report.crashPoints).toBe(report.calls + 1);
    expect(report.promisesResolved).toBeGreaterThan(0);
    expect(report.statesByModel.prefix).toBeGreaterThanOrEqual(report.promisesResolved / 8);
    expect(report.statesByModel.torn).toBeGreaterThan(0);
  });
});

describe("power loss around a fail stop (an fsync fails, the trail is reopened and goes on)", () => {
  it("every record resolved before the failed fsync or after the reopen is recovered", async () => {
    const report = await exploreAuditRun(existing, async ({ fs, track, started }, clock) => {
      let failNextSync = false;
      const faulty = createFaultyFileSystem({
        base: fs,
        inject: (call) => {
          if (!failNextSync || call.operation !== "sync") return undefined;
          failNextSync = false;
          return { error: "EIO" };
        },
      });
      const trail = openTrail(existing, faulty, clock);
      const seqs = new Map<string, number>();
      const run = (operation: AuditOperation) =>
        track(operation, () => perform(trail, operation, seqs, async () => {}));
      try {
        await trail.initialize();
        await run({ kind: "intent", id: "i-1" });
        await run({ kind: "result", id: "i-1-done", of: "i-1" });
        await run({ kind: "intent", id: "i-2" });
        failNextSync = true;
        const batch = (["b-1", "b-2", "b-3"] as const).map((id) => {
          const operation: AuditOperation = { kind: "intent", id };
          started(operation);
          return perform(trail, operation, seqs, async () => {}).catch((error: unknown) => error);
        });
        for (const error of await Promise.all(batch)) {
          expect(FailStoppedError.isInstance(error)).toBe(true);
        }
        await trail.initialize();
        await run({ kind: "result", id: "i-2-done", of: "i-2" });
        await run({ kind: "intent", id: "i-3" });
      } finally {
        await trail.close();
      }
    });
    console.info(`fail stop and reopen: ${report.summary}`);
    expect(report.failures.map((failure) => failure.message)).toEqual([]);
    expect(report.truncated).toBe(false);
    expect(report.promisesResolved).toBe(5);
    expect(report.statesByModel.torn).toBeGreaterThan(0);
  });
});

describe("a process killed (SIGKILL) after any of its calls, the next process, then a power cut", () => {
  // Was a finding: /srv/audit exists (durable). A first process's
  // initialize() creates /srv/audit/audit.jsonl and is SIGKILLed before the
  // fsync of /srv/audit that makes the new name durable (the page cache keeps
  // the empty file). The next process found the file and skipped that fsync
  // (the directory was fsynced only when the file was created); its
  // recordIntent() resolved, and a power cut lost the name and the record
  // with it. The directory is now fsynced at every initialize().
  it("keeps a resolved recordIntent() of the next process across a power cut", async () => {
    const clock = new ManualClock(START);
    const fs = createCrashStateFileSystem({ clock });
    await fs.mkdir("/srv/audit", { recursive: true });
    fs.syncAll();
    const path = "/srv/audit/audit.jsonl";
    const killed = createFaultyFileSystem({
      base: fs,
      inject: (call) =>
        call.operation === "fsyncDirectory" && call.path === "/srv/audit"
          ? { crash: true }
          : undefined,
    });
    const first = new AuditTrail({ path, fs: killed, clock, redactor: keepEverything });
    await expect(first.initialize()).rejects.toThrow();
    await first.close();
    const next = new AuditTrail({ path, fs, clock, redactor: keepEverything });
    await next.initialize();
    const seq = await next.recordIntent({ action: "a", target: "t", params: {} });
    await next.close();
    const afterPowerCut = new AuditTrail({
      path,
      fs: fs.durableImage(),
      clock,
      redactor: keepEverything,
    });
    const report = await afterPowerCut.initialize();
    await afterPowerCut.close();
    expect(report.lastSeq).toBe(seq);
  });

  it("keeps every resolved record when the first process was killed after any of its calls (existing directory)", async () => {
    const layout: AuditLayout = {
      path: "/srv/audit/audit.jsonl",
      existingDirectories: ["/srv/audit"],
    };
    const report = await exploreKilledFirstProcess(layout, pairs(1));
    console.info(`killed first process, existing directory: ${report.summary}`);
    expect(report.failures).toEqual([]);
    expect(report.runs).toBeGreaterThan(5);
  });
});

describe("fsync failures fail stop, as Linux fails an fsync (its pages never reach the disk)", () => {
  // Was a finding: recordIntent(i-1) … resolve; the next fsync of
  // audit.jsonl fails with EIO while 4 intents share it (all reject with
  // FAIL_STOPPED, as they must). On Linux the pages of that fsync are now
  // clean but not on the disk, and the file still reads back with the 4
  // lines. initialize() again (or close() and a new AuditTrail) read them
  // from the page cache, counted them as history and chained the next
  // records onto them; those were fsynced, the 4 lines never were: the disk
  // then had zeros in the middle of the file, and the next initialize()
  // after a power cut threw AUDIT_CORRUPT (malformed_line) with resolved
  // records behind the damage. The writer now cuts the file back to its
  // size at the last fsync that succeeded when an fsync fails.
  it.each(["a batch of 4 intents", "the dry-run timer"] as const)(
    "fsync of %s fails, initialize() again",
    (failed) => checkFailStop(failed, "initialize() again"),
  );
  it.each(["a batch of 4 intents", "the dry-run timer"] as const)(
    "fsync of %s fails, close() and a new AuditTrail",
    (failed) => checkFailStop(failed, "close() and a new AuditTrail"),
  );
});

describe("a directory level created by a process killed before fsyncing its parent", () => {
  // Was a finding (fixed in core's ensureDurableDirectory, which now fsyncs
  // the parent of every level): only /srv exists (durable); the trail's path is
  // /srv/agent/audit/audit.jsonl. A first process's initialize() mkdirs
  // /srv/agent and is SIGKILLed before fsyncing /srv. The next process's
  // initialize() calls ensureDurableDirectory(/srv/agent/audit) from core,
  // which sees /srv/agent, creates only /srv/agent/audit and fsyncs
  // /srv/agent, never /srv: its resolved records are lost with /srv/agent
  // by a power cut.
  it("keeps every resolved record when the first process was killed after any of its calls (two missing levels)", async () => {
    const layout: AuditLayout = {
      path: "/srv/agent/audit/audit.jsonl",
      existingDirectories: ["/srv"],
    };
    const report = await exploreKilledFirstProcess(layout, pairs(1));
    console.info(`killed first process, two missing levels: ${report.summary}`);
    expect(report.failures).toEqual([]);
    expect(report.runs).toBeGreaterThan(5);
  });
});

// Issue 11, finding 4 at boot level: every file a full boot, steps, a
// workflow, a SIGKILLed child and a recovery boot leave behind is 0600, every
// directory 0700, whatever the umask.
import { lstat, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boot } from "../src/index.js";
import { runSomeSteps } from "./boot-data-dir.js";
import { crashWorkflow, readEffects, reconcilerFor } from "./fixtures/crash-workflow.mjs";
import { spawnCrashWorker } from "./spawn-crash-worker.js";

let root: string;
let previousUmask: number | undefined;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-file-modes-"));
  // A permissive umask: the modes must come from the toolkit, not from the umask.
  previousUmask = process.umask(0);
});
afterAll(async () => {
  if (previousUmask !== undefined) process.umask(previousUmask);
  await rm(root, { recursive: true, force: true });
});

async function walk(path: string): Promise<Array<{ path: string; mode: number; kind: string }>> {
  const stat = await lstat(path);
  const kind = stat.isDirectory() ? "directory" : stat.isFile() ? "file" : "other";
  const entries = [{ path, mode: stat.mode & 0o777, kind }];
  if (stat.isDirectory()) {
    for (const name of await readdir(path)) entries.push(...(await walk(join(path, name))));
  }
  return entries;
}

describe("files 0600 and directories 0700, everywhere boot writes", () => {
  it("after boot + steps + a workflow + a SIGKILL mid-step + a recovery boot with more steps", async () => {
    const dataDir = join(root, "data");
    const effectsFile = join(root, "effects.log");
    // A real crash first: a child boots, starts the workflow and is killed with its key pending.
    const crash = await spawnCrashWorker({
      dataDir,
      crashAfterStep: "pending",
      action: "add_issue_comment",
      effectsFile,
    });
    expect(crash.exit).toBe("SIGKILL");
    // What the killed child left (its locks among them), before anything recovers it.
    const leftByCrash = await walk(dataDir);
    expect(leftByCrash.some((entry) => entry.path.endsWith("boot-instance.lock"))).toBe(true);
    expect(leftByCrash.filter((entry) => entry.kind === "file" && entry.mode !== 0o600)).toEqual(
      [],
    );
    expect(
      leftByCrash.filter((entry) => entry.kind === "directory" && entry.mode !== 0o700),
    ).toEqual([]);
    // The recovery boot, with its own steps and workflow, rotating the audit file.
    const app = await boot({
      dataDir,
      log: { level: "silent" },
      auditTrail: { maxSizeBytes: 2_000 },
      idempotency: { compactionThreshold: 4 },
      workflows: [crashWorkflow("add_issue_comment", effectsFile)],
      reconcilers: { add_issue_comment: reconcilerFor(effectsFile) },
    });
    try {
      expect(app.mode).toBe("autonomous");
      await app.workflows.resumeUnfinished();
      await runSomeSteps(app, "b");
      await runSomeSteps(app, "c");
    } finally {
      await app.shutdown();
    }
    expect(readEffects(effectsFile)).toHaveLength(1);

    const entries = await walk(dataDir);
    const files = entries.filter((entry) => entry.kind === "file");
    const directories = entries.filter((entry) => entry.kind === "directory");
    // Every kind of file boot leaves: rotated audit segments, journals, snapshots, stores, baks, last-boot.
    const names = files.map((entry) => entry.path.slice(dataDir.length + 1));
    for (const expected of [
      /^audit\/audit\.\d{8}T/,
      /^idempotency\/journal\./,
      /^idempotency\/snapshot\.json$/,
      /^stores\/workflow-run\./,
      /\.bak$/,
      /^last-boot\.json$/,
    ]) {
      expect(
        names.some((name) => expected.test(name)),
        String(expected),
      ).toBe(true);
    }
    expect(entries.filter((entry) => entry.kind === "other")).toEqual([]);
    expect(files.filter((entry) => entry.mode !== 0o600)).toEqual([]);
    expect(directories.filter((entry) => entry.mode !== 0o700)).toEqual([]);
    console.info(
      `file modes: ${leftByCrash.length} entries after the crash, ${files.length} files and ${directories.length} directories after recovery`,
    );
  });
});

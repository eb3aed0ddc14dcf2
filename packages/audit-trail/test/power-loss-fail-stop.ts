// The fail-stop runs of the audit trail: an fsync fails (as on Linux: its
// dirty pages are marked clean and never reach the disk, see core/test/
// power-loss-fsync-failure.ts); every call after it rejects with
// FailStoppedError and no fsync is retried; a reopened trail (initialize()
// again, or a new AuditTrail after close()) finds exactly the records whose
// promises resolved, and the disk holds them once it goes on.
import {
  createCrashStateFileSystem,
  FailStoppedError,
  type FileSystem,
  ManualClock,
} from "@beauvoir/core";
import { expect } from "vitest";
import { createFsyncFailureFileSystem } from "../../core/test/power-loss-fsync-failure.js";
import type { AuditTrail } from "../src/index.js";
import {
  type AuditLayout,
  type AuditOperation,
  checkHistory,
  openTrail,
  perform,
  readHistory,
  START,
} from "./power-loss-scenarios.js";

const layout: AuditLayout = { path: "/srv/audit/audit.jsonl", existingDirectories: ["/srv/audit"] };

/** How the stopped trail is reopened. */
export type Reopen = "initialize() again" | "close() and a new AuditTrail";

/** What failed: the fsync of a batch of durable records, or the dry-run timer's. */
export type FailedFsync = "a batch of 4 intents" | "the dry-run timer";

/**
 * Runs the fail-stop sequence and checks every step: resolved records
 * before the failure; the failed fsync; the refusals; the disk; the reopen;
 * records after it; the disk again.
 */
export async function checkFailStop(failed: FailedFsync, reopen: Reopen): Promise<void> {
  const opened: AuditTrail[] = [];
  try {
    await failStop(failed, reopen, opened);
  } finally {
    // A failed expectation must not leave the file claimed for the next test.
    for (const trail of opened) await trail.close().catch(() => {});
  }
}

async function failStop(failed: FailedFsync, reopen: Reopen, opened: AuditTrail[]): Promise<void> {
  const clock = new ManualClock(START);
  const crashFs = createCrashStateFileSystem({ clock });
  await crashFs.mkdir("/srv/audit", { recursive: true });
  crashFs.syncAll();
  const fs = createFsyncFailureFileSystem(crashFs);
  const promised: AuditOperation[] = [];
  const started: AuditOperation[] = [];
  const seqs = new Map<string, number>();
  const run = async (trail: AuditTrail, operation: AuditOperation) => {
    started.push(operation);
    await perform(trail, operation, seqs, async () => {});
    promised.push(operation);
  };

  const open = (on: FileSystem) => {
    const trail = openTrail(layout, on, clock);
    opened.push(trail);
    return trail;
  };
  let trail = open(fs);
  await trail.initialize();
  await run(trail, { kind: "intent", id: "i-1" });
  await run(trail, { kind: "result", id: "i-1-done", of: "i-1" });
  await run(trail, { kind: "denied", id: "d-1" });
  await run(trail, { kind: "intent", id: "i-2" });

  fs.failNextSync(layout.path);
  let stopped: unknown[];
  if (failed === "a batch of 4 intents") {
    const batch = ["b-1", "b-2", "b-3", "b-4"].map((id) =>
      run(trail, { kind: "intent", id }).then(
        () => undefined,
        (error: unknown) => error,
      ),
    );
    stopped = await Promise.all(batch);
  } else {
    // A dry run resolves before its fsync: recording it is no promise that it is durable.
    const dryRun: AuditOperation = { kind: "dryRun", id: "dry-1" };
    started.push(dryRun);
    await perform(trail, dryRun, seqs, async () => {});
    clock.advance(100);
    stopped = [await run(trail, { kind: "intent", id: "b-1" }).catch((error: unknown) => error)];
  }
  for (const error of stopped) expect(FailStoppedError.isInstance(error)).toBe(true);

  // Every later call is refused, and no fsync is tried again.
  const syncs = fs.syncCalls;
  for (const operation of [
    { kind: "intent", id: "late-1" },
    { kind: "result", id: "late-2", of: "i-2" },
    { kind: "denied", id: "late-3" },
    { kind: "dryRun", id: "late-4" },
  ] as AuditOperation[]) {
    started.push(operation);
    await expect(perform(trail, operation, seqs, async () => {})).rejects.toSatisfy(
      FailStoppedError.isInstance,
    );
  }
  expect(fs.syncCalls).toBe(syncs);

  // The disk holds every resolved record, and nothing more.
  const ids = (records: { target: string; phase: string; result?: unknown }[]) =>
    records.map((record) =>
      record.phase === "result" ? (record.result as { id: string }).id : record.target,
    );
  const resolvedIds = () => promised.map((operation) => operation.id);
  expect(ids(await readHistory(await fs.diskImage(), layout.path))).toEqual(resolvedIds());

  // Reopened, the trail finds exactly the records whose promises resolved.
  if (reopen === "initialize() again") {
    await trail.initialize();
  } else {
    await trail.close().catch(() => {});
    trail = open(fs);
    await trail.initialize();
  }
  expect(ids(await readHistory(fs, layout.path))).toEqual(resolvedIds());
  await checkHistory(layout, trail, fs, { promised, started });

  // It goes on, and after everything is flushed the disk holds every resolved record.
  await run(trail, { kind: "result", id: "i-2-done", of: "i-2" });
  await run(trail, { kind: "intent", id: "i-3" });
  await trail.close();
  const disk = await fs.diskImage();
  const recovered = open(disk);
  await recovered.initialize();
  await checkHistory(layout, recovered, disk, { promised, started });
  await recovered.close();
  expect(ids(await readHistory(disk, layout.path))).toEqual(resolvedIds());
}

// The fail-stop run of the idempotency index: an fsync of the journal fails
// as Linux fails it (its dirty pages are marked clean and never reach the
// disk, see core/test/power-loss-fsync-failure.ts); every later transition
// rejects with FailStoppedError and no fsync is retried; a new instance (the
// way to reopen an index) finds exactly the transitions whose promises
// resolved, and the disk holds them once it goes on.
import {
  createCrashStateFileSystem,
  FailStoppedError,
  type FileSystem,
  ManualClock,
} from "@beauvoir/core";
import { expect } from "vitest";
import { createFsyncFailureFileSystem } from "../../core/test/power-loss-fsync-failure.js";
import type { IdempotencyIndex } from "../src/index.js";
import {
  type IndexLayout,
  type IndexOperation,
  keyOf,
  openIndex,
  perform,
  START,
} from "./power-loss-scenarios.js";

const layout: IndexLayout = { dir: "/srv/idempotency", existingDirectories: ["/srv/idempotency"] };
const JOURNAL = "/srv/idempotency/journal.0.jsonl";

/** Each key's status, as `{ name: status }`, for the names given. */
async function statuses(
  index: IdempotencyIndex,
  names: readonly string[],
): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const name of names) found[name] = (await index.check(keyOf(name)))?.status ?? "absent";
  return found;
}

/**
 * Runs the fail-stop sequence and checks every step: resolved transitions
 * before the failure; the failed fsync (shared by two transitions); the
 * refusals; the disk; a new instance; transitions after it; the disk again.
 */
export async function checkIndexFailStop(): Promise<void> {
  const opened: IdempotencyIndex[] = [];
  try {
    await failStop(opened);
  } finally {
    // A failed expectation must not leave an index open for the next test.
    for (const index of opened) await index.close().catch(() => {});
  }
}

async function failStop(opened: IdempotencyIndex[]): Promise<void> {
  const clock = new ManualClock(START);
  const crashFs = createCrashStateFileSystem({ clock });
  await crashFs.mkdir(layout.dir, { recursive: true });
  crashFs.syncAll();
  const fs = createFsyncFailureFileSystem(crashFs);
  const open = async (on: FileSystem, bootId: string) => {
    const index = openIndex(layout, on, clock, bootId);
    opened.push(index);
    await index.initialize();
    return index;
  };
  const names = ["a", "b", "c", "d", "e"];
  const index = await open(fs, "first");
  const run = (operation: IndexOperation) => perform(index, operation);
  await run({ kind: "pending", name: "a", intentSeq: 1 });
  await run({ kind: "completed", name: "a" });
  await run({ kind: "pending", name: "b", intentSeq: 2 });
  const resolved = { a: "completed", b: "pending", c: "absent", d: "absent", e: "absent" };

  fs.failNextSync(JOURNAL);
  const batch = await Promise.all(
    [
      { kind: "pending", name: "c", intentSeq: 3 },
      { kind: "completed", name: "b" },
    ].map((operation) =>
      run(operation as IndexOperation).then(
        () => undefined,
        (error: unknown) => error,
      ),
    ),
  );
  for (const error of batch) expect(FailStoppedError.isInstance(error)).toBe(true);

  // Every later transition is refused, and no fsync is tried again.
  const syncs = fs.syncCalls;
  for (const operation of [
    { kind: "pending", name: "d", intentSeq: 4 },
    { kind: "failed", name: "b" },
    { kind: "reset", name: "a" },
    { kind: "settle", name: "e", status: "completed" },
  ] as IndexOperation[]) {
    await expect(run(operation)).rejects.toSatisfy(FailStoppedError.isInstance);
  }
  expect(fs.syncCalls).toBe(syncs);
  await index.close().catch(() => {});

  // The disk holds the resolved transitions, and nothing more.
  const disk = await open(await fs.diskImage(), "after-the-failure");
  expect(await statuses(disk, names)).toEqual(resolved);
  await disk.close();

  // A new instance finds exactly the transitions whose promises resolved.
  const reopened = await open(fs, "reopened");
  expect(await statuses(reopened, names)).toEqual(resolved);
  // It goes on, and after a clean close the disk holds every resolved transition.
  await perform(reopened, { kind: "pending", name: "d", intentSeq: 5 });
  await perform(reopened, { kind: "completed", name: "d" });
  await reopened.close();
  const after = await open(await fs.diskImage(), "after-a-power-cut");
  expect(await statuses(after, names)).toEqual({ ...resolved, d: "completed" });
}

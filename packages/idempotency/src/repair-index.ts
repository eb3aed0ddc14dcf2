import { basename, join } from "node:path";
import { ensureDurableDirectory, type FileSystem, type Logger } from "@beauvoir/core";
import { createDefaultLocks, snapshotStoreFor } from "./default-dependencies.js";
import type { IndexProblem } from "./errors.js";
import { createJournal, indexIo, journalName } from "./journal-files.js";
import { readIndex } from "./open-journal.js";
import { IDEMPOTENCY_INDEX_DEFAULTS, type OwnerLockProvider } from "./options.js";
import { requireDirectory, resolveDependencies } from "./resolve-options.js";
import type { IdempotencySnapshot } from "./snapshot.js";
import type { VerifyIndexOptions } from "./verify-index.js";

/** Options of {@link repairIdempotencyIndex}. */
export interface RepairIndexOptions extends VerifyIndexOptions {
  /**
   * Lock manager for the owner lock: a repair never runs while an index owns the directory.
   * @default a `LockManager` on `{dir}/locks`
   */
  locks?: OwnerLockProvider | undefined;
  /** Name of the owner lock. @default "idempotency-index" */
  lockName?: string | undefined;
}

/** What {@link repairIdempotencyIndex} did. */
export interface IndexRepairReport {
  /** The directory repaired. */
  readonly dir: string;
  /** Whether anything was changed (false: there was no damage). */
  readonly repaired: boolean;
  /** The damage found before the repair. */
  readonly problems: readonly IndexProblem[];
  /** Every file moved aside, from where to where. */
  readonly moved: ReadonlyArray<{ readonly from: string; readonly to: string }>;
  /** The directory holding what was moved aside. */
  readonly quarantineDir: string | null;
  /** Entries the repaired index holds. */
  readonly entries: number;
  /** The repaired index's last seq. */
  readonly lastSeq: number;
}

/**
 * Repairs a damaged index directory on an operator's request. It takes the
 * owner lock (so it refuses while an index has the directory open), rebuilds
 * every entry that can still be read (the snapshot, then every readable record
 * in seq order, skipping damaged lines), and makes that the index: a new
 * journal, and a snapshot of it written twice, so the store's backup is the
 * repaired state too. Then it moves every old journal, damaged or not, byte
 * for byte, into `{dir}/quarantine/{time}/`, and reports what it moved. Nothing
 * is deleted. A directory without damage is left as it is.
 *
 * Transitions that stood in damaged lines are lost from the index (the
 * quarantined files keep their bytes): a key whose completion was lost is
 * pending again and goes through `reconcilePending()`, a key whose claim was
 * lost is unknown again. Check those against the audit trail.
 * @param options - the directory, and the store and locks when not the defaults.
 * @returns what was found and moved.
 * @throws `LockHeldError` when an index has the directory open.
 * @throws `SymlinkRefusedError`, `IndexIoError` or the store's errors when a file cannot be used.
 * @example
 * ```ts
 * const report = await repairIdempotencyIndex({ dir: "/var/lib/agent/idempotency" });
 * for (const { from, to } of report.moved) console.log(`moved ${from} to ${to}`);
 * ```
 */
export async function repairIdempotencyIndex(
  options: RepairIndexOptions,
): Promise<IndexRepairReport> {
  const dir = requireDirectory(options.dir);
  const {
    fs,
    clock,
    logger,
    store: given,
    locks: givenLocks,
    lockName,
  } = resolveDependencies(options);
  await indexIo("list", dir, () => fs.readdir(dir));
  const { store, snapshotFile } = snapshotStoreFor({
    dir,
    store: given,
    maxSizeBytes: options.snapshotMaxBytes ?? IDEMPOTENCY_INDEX_DEFAULTS.snapshotMaxBytes,
    logger,
    clock,
    fs,
  });
  const locks =
    givenLocks ?? createDefaultLocks({ lockDir: join(dir, "locks"), logger, clock, fs });
  const lock = await indexIo("lock", dir, () => locks.acquire(lockName), true);
  try {
    const recovered = await readIndex({ dir, fs, store, logger, snapshotFile });
    const found = {
      dir,
      problems: recovered.problems,
      entries: recovered.entries.size,
      lastSeq: recovered.lastSeq,
    };
    if (recovered.problems.length === 0) {
      return { ...found, repaired: false, moved: [], quarantineDir: null };
    }
    const generation =
      Math.max(
        recovered.snapshot?.generation ?? 0,
        ...recovered.journals.map((journal) => journal.generation),
      ) + 1;
    const { lastSeq } = recovered;
    // The new journal first: a snapshot always finds the journal it continues from.
    const created = await indexIo("create", join(dir, journalName(generation)), () =>
      createJournal(fs, dir, generation, lastSeq),
    );
    await created.handle.close();
    const snapshot: IdempotencySnapshot = {
      format: 2,
      generation,
      lastSeq,
      previous: { generation, lastSeq },
      entries: [...recovered.entries.values()],
    };
    // Twice: the store's backup then holds the repaired state as well.
    await store.set(snapshot);
    await store.set(snapshot);
    const quarantineDir = await quarantineDirectory(fs, dir, clock.now());
    const journals = recovered.journals.map((journal) => journal.path);
    const moved = await moveAside(fs, dir, journals, quarantineDir, logger);
    logger.warn("idempotency: index repaired; damaged journals moved aside", {
      quarantineDir,
      moved: moved.length,
      problems: recovered.problems.length,
    });
    return { ...found, repaired: true, moved, quarantineDir };
  } finally {
    await lock.release();
  }
}

/** A fresh `{dir}/quarantine/{time}` directory, durable in its parent. */
async function quarantineDirectory(fs: FileSystem, dir: string, now: number): Promise<string> {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, "-");
  const root = join(dir, "quarantine");
  const existing = new Set(await fs.readdir(root).catch(() => [] as string[]));
  let name = stamp;
  for (let attempt = 2; existing.has(name); attempt += 1) name = `${stamp}-${attempt}`;
  const target = join(root, name);
  await indexIo("create", target, () => ensureDurableDirectory(fs, target));
  return target;
}

/** Renames each file into `quarantineDir`, byte for byte, then makes both directories durable. */
async function moveAside(
  fs: FileSystem,
  dir: string,
  paths: readonly string[],
  quarantineDir: string,
  logger: Logger,
): Promise<Array<{ from: string; to: string }>> {
  const moved: Array<{ from: string; to: string }> = [];
  for (const from of paths) {
    const to = join(quarantineDir, basename(from));
    await indexIo("move", from, () => fs.rename(from, to));
    moved.push({ from, to });
    logger.info("idempotency: journal moved aside", { from, to });
  }
  // The new names first: a power cut must not leave a file in neither place.
  await indexIo("sync", quarantineDir, () => fs.fsyncDirectory(quarantineDir));
  await indexIo("sync", dir, () => fs.fsyncDirectory(dir));
  return moved;
}

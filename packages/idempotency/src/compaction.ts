import type { FileSystem, Logger } from "@beauvoir/core";
import type { IdempotencyEntry } from "./entry.js";
import type { EntryTable } from "./entry-table.js";
import { createJournal, JournalRotationError, removeIfPresent } from "./journal-files.js";
import type { JournalWriter } from "./journal-writer.js";
import type { SnapshotStore } from "./options.js";
import type { JournalSummary } from "./recovery.js";
import type { SnapshotPosition } from "./snapshot.js";

/** What {@link Compactor} starts from, as recovery found it. */
export interface CompactorOptions {
  readonly dir: string;
  readonly fs: FileSystem;
  readonly store: SnapshotStore;
  readonly logger: Logger;
  /** The generation of the journal being appended to (or the highest one in use). */
  readonly generation: number;
  /** The journals on disk, oldest first. */
  readonly journals: readonly JournalSummary[];
  /** The snapshot loaded at open, if any. */
  readonly lastSnapshot: SnapshotPosition | null;
  /** The oldest snapshot the store may still serve (its backup), when known. */
  readonly retainFrom: SnapshotPosition | null;
}

/**
 * Folds the journal into snapshots and decides which journals may go.
 *
 * A compaction, run between two journal batches: (1) creates the next journal
 * whole (header fsynced, linked into place, directory fsynced) and switches
 * the writer to it; (2) writes the snapshot, which records the journal it
 * continues from and the snapshot it replaces; (3) deletes the journals no
 * snapshot the store may still serve needs. The store keeps the replaced
 * snapshot as its backup, and reads the backup when the snapshot is damaged:
 * so the journals that backup continues from are kept until a newer snapshot
 * has been written twice (the backup is then newer than them too).
 *
 * Every crash point is safe: a journal is deleted only when two durable
 * snapshots cover it, and a record found in both a snapshot and a journal is
 * skipped by its seq.
 */
export class Compactor {
  readonly #options: CompactorOptions;
  readonly #journals: JournalSummary[];
  #generation: number;
  #lastSnapshot: SnapshotPosition | null;
  #retainFrom: SnapshotPosition | null;
  #cleanupBroken = false;
  #queued = false;

  /** @param options - the directory, store and what recovery found. */
  constructor(options: CompactorOptions) {
    this.#options = options;
    this.#journals = [...options.journals];
    this.#generation = options.generation;
    this.#lastSnapshot = options.lastSnapshot;
    this.#retainFrom = options.retainFrom;
  }

  /**
   * Queues a compaction between two journal batches, unless one is queued
   * already. A failure is logged; the journals keep everything.
   * @param writer - the journal writer.
   * @param table - the entries; its `recordsSinceSnapshot` is brought down.
   */
  schedule(writer: JournalWriter, table: EntryTable): void {
    if (this.#queued) return;
    this.#queued = true;
    this.run(writer, table, "compact")
      .catch(() => {})
      .finally(() => {
        this.#queued = false;
      });
  }

  /**
   * Compacts, or only writes a snapshot (on close), between two journal
   * batches, when a record came since the last snapshot. Failures are logged
   * and rethrown.
   * @param writer - the journal writer.
   * @param table - the entries; its `recordsSinceSnapshot` is brought down.
   * @param kind - `"compact"` (new journal and snapshot) or `"snapshot"`.
   * @returns once done.
   */
  run(writer: JournalWriter, table: EntryTable, kind: "compact" | "snapshot"): Promise<void> {
    const { logger } = this.#options;
    return writer
      .exclusive(async () => {
        const replaced = table.recordsSinceSnapshot;
        if (replaced === 0) return;
        try {
          if (kind === "compact") await this.compact(writer, table.durable.values());
          else await this.snapshot(writer, table.durable.values());
        } finally {
          // Also after a failure: the next attempt waits for another threshold's worth.
          table.recordsSinceSnapshot -= replaced;
        }
      })
      .catch((error: unknown) => {
        if (writer.failure) {
          logger.error("idempotency: compaction failed; the index stopped accepting writes", {
            error,
          });
        } else {
          logger.warn("idempotency: compaction failed; the journal keeps growing", { error });
        }
        throw error;
      });
  }

  /**
   * Rotates the journal, writes a snapshot of `entries` and removes the
   * journals no longer needed. Call it inside `writer.exclusive()`, so
   * `entries` and `writer.lastSeq` describe the same point.
   * @param writer - the journal writer.
   * @param entries - the durable entries.
   * @returns whether a snapshot was written.
   * @throws what the rotation threw; when the new journal may already exist,
   *   the writer is stopped first (records must not follow it in the old one).
   */
  async compact(writer: JournalWriter, entries: Iterable<IdempotencyEntry>): Promise<boolean> {
    const { dir, fs } = this.#options;
    const lastSeq = writer.lastSeq;
    const generation = this.#generation + 1;
    let created: Awaited<ReturnType<typeof createJournal>>;
    try {
      created = await createJournal(fs, dir, generation, lastSeq);
    } catch (error) {
      if (error instanceof JournalRotationError) writer.stop(error.cause);
      throw error;
    }
    const previous = writer.replaceFile(created.handle, created.path, created.length);
    await previous.close().catch(() => {});
    const ended = this.#journals.at(-1);
    if (ended) this.#journals[this.#journals.length - 1] = { ...ended, lastSeq };
    this.#journals.push({ path: created.path, generation, lastSeq, hasHeader: true });
    this.#generation = generation;
    const written = await this.writeSnapshot(generation, lastSeq, entries);
    if (written) await this.removeUnneeded();
    return written;
  }

  /**
   * Writes a snapshot of `entries` continuing from the journal being appended
   * to, without starting a new one (on close: the journal a restart appends
   * to then holds nothing the snapshot lacks). Call it inside `writer.exclusive()`.
   * @param writer - the journal writer.
   * @param entries - the durable entries.
   * @returns whether the snapshot is durable.
   */
  async snapshot(writer: JournalWriter, entries: Iterable<IdempotencyEntry>): Promise<boolean> {
    const written = await this.writeSnapshot(this.#generation, writer.lastSeq, entries);
    if (written) await this.removeUnneeded();
    return written;
  }

  /**
   * Writes a snapshot continuing from journal `generation`. A failure is
   * logged, not thrown: the journals still hold everything.
   * @param generation - the journal whose records follow the snapshot.
   * @param lastSeq - the last seq the snapshot holds.
   * @param entries - the entries at that seq.
   * @returns whether the snapshot is durable.
   */
  async writeSnapshot(
    generation: number,
    lastSeq: number,
    entries: Iterable<IdempotencyEntry>,
  ): Promise<boolean> {
    const replaced = this.#lastSnapshot;
    try {
      await this.#options.store.set({
        format: 2,
        generation,
        lastSeq,
        previous: replaced,
        entries: [...entries],
      });
    } catch (error) {
      this.#options.logger.warn(
        "idempotency: could not write the snapshot; the journals keep everything",
        { error },
      );
      return false;
    }
    // The store now serves this snapshot, or the one it replaced as a backup.
    if (replaced) this.#retainFrom = replaced;
    this.#lastSnapshot = { generation, lastSeq };
    return true;
  }

  /**
   * Deletes, oldest first, the journals whose records every snapshot the
   * store may serve already holds. One unlink and one directory fsync at a
   * time, so a crash never leaves a newer journal deleted and an older one
   * not (that would look like missing records). Failures are logged.
   */
  async removeUnneeded(): Promise<void> {
    const floor = this.#retainFrom;
    const { dir, fs, logger } = this.#options;
    while (floor && !this.#cleanupBroken) {
      const oldest = this.#journals[0];
      if (
        oldest === undefined ||
        this.#journals.length === 1 ||
        oldest.generation >= floor.generation ||
        oldest.lastSeq > floor.lastSeq
      ) {
        return;
      }
      try {
        await removeIfPresent(fs, oldest.path);
        await fs.fsyncDirectory(dir);
      } catch (error) {
        // Harmless: a journal left behind is replayed and skipped by seq.
        this.#cleanupBroken = true;
        logger.warn("idempotency: could not remove an old journal", {
          file: oldest.path,
          error,
        });
        return;
      }
      this.#journals.shift();
    }
  }
}

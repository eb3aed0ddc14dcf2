import { join } from "node:path";
import { type FileHandleLike, type FileSystem, type Logger, openPrivateFile } from "@beauvoir/core";
import { Compactor } from "./compaction.js";
import { IndexCorruptError } from "./errors.js";
import { createJournal, indexIo, journalName, readJournalFiles } from "./journal-files.js";
import { JournalWriter } from "./journal-writer.js";
import type { SnapshotStore } from "./options.js";
import { type JournalSummary, type RecoveredIndex, recoverIndex } from "./recovery.js";

/** Where the index's files are and how to reach them. */
export interface JournalLocation {
  readonly dir: string;
  readonly fs: FileSystem;
  readonly store: SnapshotStore;
  readonly logger: Logger;
  /** The snapshot's file, for messages. */
  readonly snapshotFile: string;
}

/** An index directory, recovered and ready to append to. */
export interface OpenedJournal {
  readonly recovered: RecoveredIndex;
  readonly writer: JournalWriter;
  readonly compactor: Compactor;
}

/**
 * Reads the snapshot and every journal and checks them.
 * @param location - the directory and its store.
 * @returns what recovery found (problems included).
 */
export async function readIndex(location: JournalLocation): Promise<RecoveredIndex> {
  const { dir, fs, store, snapshotFile } = location;
  const stored = await store.get();
  const journals = await readJournalFiles(fs, dir);
  return recoverIndex({ dir, stored, snapshotFile, journals });
}

/**
 * Opens an index directory for appending. Nothing is changed until the whole
 * directory has been read and found free of damage; then the only repairs are
 * those a crash calls for: the newest journal's torn tail is cut (and a
 * missing final newline added), a journal with a header is started when the
 * newest one has none (a fresh directory, or one written by 0.1), and a
 * snapshot is written when there is none.
 * @param location - the directory and its store.
 * @returns the recovered state, the writer and the compactor.
 * @throws {@link IndexCorruptError} on damage (nothing changed).
 * @throws `SymlinkRefusedError`, `IndexIoError` or the store's errors when a file cannot be used.
 */
export async function openJournal(location: JournalLocation): Promise<OpenedJournal> {
  const { dir, fs, store, logger } = location;
  const recovered = await readIndex(location);
  const [first, ...more] = recovered.problems;
  if (first) throw new IndexCorruptError([first, ...more]);
  const { snapshot, lastSeq } = recovered;
  const journals: JournalSummary[] = [...recovered.journals];
  const newest = journals.at(-1);
  const snapshotGeneration = snapshot?.generation ?? 0;
  let writer: JournalWriter;
  let writing: number;
  // Appending goes on in the newest journal when it and the snapshot are of
  // this format; otherwise (a fresh directory, files of 0.1, a lost snapshot)
  // a journal with a header is started and a snapshot written.
  const appendToNewest = newest?.hasHeader === true && snapshot?.format === 2;
  if (newest && appendToNewest) {
    const handle = await indexIo("open", newest.path, () =>
      openPrivateFile(fs, newest.path, "append"),
    );
    const length = await indexIo("repair", newest.path, () => endCleanly(handle, recovered, logger))
      .then(async (cleanLength) => {
        // The newest journal may have been linked by a process killed before
        // its directory fsync: its name is made durable before anything is
        // appended to it (the snapshot store and the owner lock may live in
        // other directories, whose fsyncs do not cover this one).
        await indexIo("sync", dir, () => fs.fsyncDirectory(dir));
        return cleanLength;
      })
      .catch(async (error: unknown) => {
        await handle.close().catch(() => {});
        throw error;
      });
    writer = new JournalWriter(handle, newest.path, length, lastSeq);
    writing = newest.generation;
  } else {
    if (newest && recovered.tornTail) {
      const { path } = recovered.tornTail;
      await indexIo("repair", path, async () => {
        const handle = await openPrivateFile(fs, path, "update");
        try {
          await endCleanly(handle, recovered, logger);
        } finally {
          await handle.close();
        }
      });
    }
    writing = Math.max((newest?.generation ?? -1) + 1, snapshotGeneration);
    const path = join(dir, journalName(writing));
    const created = await indexIo("create", path, () => createJournal(fs, dir, writing, lastSeq));
    writer = new JournalWriter(created.handle, created.path, created.length, lastSeq);
    journals.push({ path: created.path, generation: writing, lastSeq, hasHeader: true });
  }
  const compactor = new Compactor({
    dir,
    fs,
    store,
    logger,
    generation: Math.max(writing, snapshotGeneration),
    journals,
    lastSnapshot: snapshot && { generation: snapshot.generation, lastSeq: snapshot.lastSeq },
    retainFrom: recovered.retainFrom,
  });
  if (!appendToNewest) await compactor.writeSnapshot(writing, lastSeq, recovered.entries.values());
  await compactor.removeUnneeded();
  return { recovered, writer, compactor };
}

/**
 * Cuts the newest journal's torn tail, or adds the newline its last record
 * lacks, so the next append starts a line of its own.
 * @returns the journal's length afterwards.
 */
async function endCleanly(
  handle: FileHandleLike,
  recovered: RecoveredIndex,
  logger: Logger,
): Promise<number> {
  const { tornTail } = recovered;
  const { size } = await handle.stat();
  if (tornTail) {
    await handle.truncate(tornTail.offset);
    await handle.sync();
    logger.warn("idempotency: cut the torn tail of the journal (a write the crash interrupted)", {
      file: tornTail.path,
      droppedBytes: tornTail.bytes,
    });
    return tornTail.offset;
  }
  if (recovered.missingNewline) {
    const newline = Buffer.from("\n");
    await handle.write(newline, 0, 1, size);
    await handle.sync();
    return size + 1;
  }
  return size;
}

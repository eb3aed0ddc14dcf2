import { createHash } from "node:crypto";
import { join } from "node:path";
import { type FileSystem, isErrnoError, openPrivateFile } from "@beauvoir/core";
import type { IdempotencyEntry } from "@beauvoir/idempotency";
import { inspectStore } from "@beauvoir/resilient-store";
import { servedFile } from "./store-state.js";

/** The largest snapshot the index's own store accepts (its `snapshotMaxBytes` default). */
const SNAPSHOT_MAX_BYTES = 268_435_456;

/** What {@link readIndexEntries} found. */
export interface IndexEntries {
  /** Every key the index holds, by key. */
  entries: Map<string, IdempotencyEntry>;
  /** Journal lines left out (a bad checksum, a torn tail): `verifyIdempotencyIndex` says what they are. */
  skippedLines: number;
}

const JOURNAL = /^journal\.(\d+)\.jsonl$/;
const RECORD_LINE = /^\{"sum":"([0-9a-f]{16})","record":(.*)\}$/;

type JournalRecord =
  | { seq: number; type: "put"; entry: IdempotencyEntry }
  | { seq: number; type: "evict"; keys: string[] }
  | { seq: number; type: "reset"; key: string };

/**
 * The entries of an idempotency index directory, read without the owner
 * lock and without changing anything (the snapshot through
 * `inspectStore`, which moves nothing): what an index opened now would hold,
 * for display. Lines whose checksum does not match are left out; whether the
 * directory is damaged is `verifyIdempotencyIndex`'s answer.
 *
 * (The index package has no read-only listing of its entries; this follows
 * its documented format: a snapshot `{ lastSeq, entries }` and journal lines
 * `{"sum":"<16 hex>","record":{…}}`, `sum` the start of the SHA-256 of the
 * record's bytes.)
 * @param fs - the filesystem.
 * @param dir - the index directory.
 * @returns the entries; none when the directory does not exist.
 */
export async function readIndexEntries(fs: FileSystem, dir: string): Promise<IndexEntries> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readOnce(fs, dir);
    } catch (error) {
      // A running index deletes old journals after a compaction: read it again.
      if (!isErrnoError(error, "ENOENT") || attempt === READ_ATTEMPTS) throw error;
    }
  }
}

/** How many times a read that raced a running index's compaction is tried. */
const READ_ATTEMPTS = 3;

async function readOnce(fs: FileSystem, dir: string): Promise<IndexEntries> {
  const result: IndexEntries = { entries: new Map(), skippedLines: 0 };
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (error) {
    if (isErrnoError(error, "ENOENT")) return result;
    throw error;
  }
  const inspection = await inspectStore({
    path: join(dir, "snapshot.json"),
    fs,
    maxSizeBytes: SNAPSHOT_MAX_BYTES,
  });
  const snapshot = servedFile(inspection)?.state as
    | { lastSeq?: number; entries?: IdempotencyEntry[] }
    | undefined;
  for (const entry of snapshot?.entries ?? []) result.entries.set(entry.key, entry);
  const afterSeq = snapshot?.lastSeq ?? 0;
  const journals = names
    .map((name) => ({ name, generation: Number(JOURNAL.exec(name)?.[1] ?? Number.NaN) }))
    .filter((journal) => !Number.isNaN(journal.generation))
    .sort((left, right) => left.generation - right.generation);
  for (const { name } of journals) {
    const content = await readJournal(fs, join(dir, name));
    for (const line of content.split("\n")) {
      const record = decode(line);
      if (record === undefined) {
        if (line.length > 0 && !line.includes('"journal":')) result.skippedLines++;
        continue;
      }
      if (record.seq <= afterSeq) continue;
      if (record.type === "put") result.entries.set(record.entry.key, record.entry);
      else if (record.type === "reset") result.entries.delete(record.key);
      else for (const key of record.keys) result.entries.delete(key);
    }
  }
  return result;
}

async function readJournal(fs: FileSystem, path: string): Promise<string> {
  const handle = await openPrivateFile(fs, path, "read");
  try {
    return (await handle.readFile()).toString("utf8");
  } finally {
    await handle.close();
  }
}

function decode(line: string): JournalRecord | undefined {
  const match = RECORD_LINE.exec(line);
  if (!match) return undefined;
  const [, sum, body] = match;
  if (createHash("sha256").update(body!).digest("hex").slice(0, 16) !== sum) return undefined;
  try {
    const record = JSON.parse(body!) as JournalRecord;
    return typeof record?.seq === "number" ? record : undefined;
  } catch {
    return undefined;
  }
}

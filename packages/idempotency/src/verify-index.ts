import { join } from "node:path";
import { type Clock, type FileSystem, isErrnoError, type Logger } from "@beauvoir/core";
import { inspectedSnapshotStore } from "./default-dependencies.js";
import { IndexIoError, type IndexProblem } from "./errors.js";
import { readIndex } from "./open-journal.js";
import { IDEMPOTENCY_INDEX_DEFAULTS, type SnapshotStore } from "./options.js";
import { readOnlyView } from "./read-only-view.js";
import type { RecoveredIndex } from "./recovery.js";
import { requireDirectory, resolveDependencies } from "./resolve-options.js";

/** How many times a read that raced a running index's compaction is tried. */
const VERIFY_ATTEMPTS = 3;

/** Options of {@link verifyIdempotencyIndex}. */
export interface VerifyIndexOptions {
  /** The index directory. */
  dir: string;
  /**
   * The snapshot store the index uses. The default store is not opened but
   * inspected (`inspectStore`), so a damaged snapshot is reported, never moved.
   * @default a `ResilientJsonStore` at `{dir}/snapshot.json`
   */
  store?: SnapshotStore | undefined;
  /** Largest snapshot the default store accepts. @default 268_435_456 */
  snapshotMaxBytes?: number | undefined;
  /** @default nodeFileSystem */
  fs?: FileSystem | undefined;
  /** Used by `repairIdempotencyIndex` for the quarantine names. @default systemClock */
  clock?: Clock | undefined;
  /** @default silentLogger */
  logger?: Logger | undefined;
}

/** What {@link verifyIdempotencyIndex} found. */
export interface IndexVerifyReport {
  /** The directory checked. */
  readonly dir: string;
  /** No damage: `initialize()` would open it. */
  readonly intact: boolean;
  /** Every piece of damage, in file order. */
  readonly problems: readonly IndexProblem[];
  /** A torn tail `initialize()` would cut (a write a crash interrupted), if any. */
  readonly tornTail: { readonly file: string; readonly bytes: number } | null;
  /** Entries the directory holds (rebuilt as far as possible when damaged). */
  readonly entries: {
    readonly total: number;
    readonly pending: number;
    readonly completed: number;
    readonly failed: number;
  };
  /** The last seq of the history. */
  readonly lastSeq: number;
  /** The snapshot read, if any. */
  readonly snapshot: { readonly generation: number; readonly lastSeq: number } | null;
  /** The journals, oldest first. */
  readonly journals: readonly string[];
  /** What the snapshot store said while reading (a damaged snapshot, its backup served). */
  readonly notes: readonly string[];
}

/**
 * Checks an index directory without changing anything and without taking the
 * owner lock, so it works while the index is open. It reads what
 * `initialize()` reads and reports every problem, not only the first.
 * @param options - the directory (and the store, when it is not the default).
 * @returns the report.
 * @throws `SymlinkRefusedError`, `IndexIoError` or the store's errors when a file cannot be read.
 * @example
 * ```ts
 * const report = await verifyIdempotencyIndex({ dir: "/var/lib/agent/idempotency" });
 * if (!report.intact) for (const problem of report.problems) console.error(problem.detail);
 * ```
 */
export async function verifyIdempotencyIndex(
  options: VerifyIndexOptions,
): Promise<IndexVerifyReport> {
  const dir = requireDirectory(options.dir);
  const { fs, logger, store: given } = resolveDependencies(options);
  const notes: string[] = [];
  const listening: Logger = {
    debug: (message, data) => logger.debug(message, data),
    info: (message, data) => logger.info(message, data),
    warn: (message, data) => {
      notes.push(message);
      logger.warn(message, data);
    },
    error: (message, data) => {
      notes.push(message);
      logger.error(message, data);
    },
  };
  for (let attempt = 1; ; attempt += 1) {
    // A fresh view and store each time: what one attempt read must not meet what the next one reads.
    const view = readOnlyView(fs);
    const maxSizeBytes = options.snapshotMaxBytes ?? IDEMPOTENCY_INDEX_DEFAULTS.snapshotMaxBytes;
    const snapshotFile = given?.path ?? join(dir, "snapshot.json");
    // The default store's own recovery would quarantine a damaged file; an inspection only reads.
    const store =
      given ??
      inspectedSnapshotStore({
        path: snapshotFile,
        maxSizeBytes,
        fs,
        note: (message) => listening.warn(message),
      });
    notes.length = 0;
    try {
      const recovered = await readIndex({ dir, fs: view, store, logger: listening, snapshotFile });
      return summarize(dir, recovered, notes);
    } catch (error) {
      // A running index may delete an old journal between the listing and the read.
      const vanished = IndexIoError.isInstance(error) && isErrnoError(error.cause, "ENOENT");
      if (!vanished || attempt === VERIFY_ATTEMPTS || error.path === dir) throw error;
    }
  }
}

/**
 * The report of a recovered directory.
 * @param dir - the directory.
 * @param recovered - what recovery found.
 * @param notes - what the store said.
 * @returns the report.
 */
export function summarize(
  dir: string,
  recovered: RecoveredIndex,
  notes: readonly string[] = [],
): IndexVerifyReport {
  const counts = { total: 0, pending: 0, completed: 0, failed: 0 };
  for (const entry of recovered.entries.values()) {
    counts.total += 1;
    counts[entry.status] += 1;
  }
  const { snapshot, tornTail } = recovered;
  return {
    dir,
    intact: recovered.problems.length === 0,
    problems: recovered.problems,
    tornTail: tornTail ? { file: tornTail.path, bytes: tornTail.bytes } : null,
    entries: counts,
    lastSeq: recovered.lastSeq,
    snapshot: snapshot ? { generation: snapshot.generation, lastSeq: snapshot.lastSeq } : null,
    journals: recovered.journals.map((journal) => journal.path),
    notes,
  };
}

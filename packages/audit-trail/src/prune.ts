import { basename } from "node:path";
import { type FileSystem, type Logger, nodeFileSystem, silentLogger } from "@beauvoir/core";
import type { AuditRecord, PrunedSegment } from "./audit-record.js";
import { AuditTrail, checkpointWriters } from "./audit-trail.js";
import { AuditWriteError } from "./errors.js";
import { readHistoryFile } from "./history-file-reader.js";
import { layoutOf, listSegments } from "./segments.js";

/** Options of {@link pruneAuditHistory}. */
export interface PruneAuditHistoryOptions {
  /** The history's current file, e.g. `/var/lib/agent/audit/audit.jsonl`. */
  path: string;
  /** Rotated files whose last record is older than this are removed. */
  before: Date;
  /** The history's key: the checkpoint record is signed like every other record. */
  hmacKey?: string | Uint8Array | undefined;
  /** Only report what would be removed; write and remove nothing. @default false */
  dryRun?: boolean | undefined;
  /** @default nodeFileSystem */
  fs?: FileSystem | undefined;
  /** @default silentLogger */
  logger?: Logger | undefined;
}

/** A rotated file a prune removed (or would remove). */
export interface PrunedFile {
  file: string;
  firstSeq: number;
  lastSeq: number;
  /** `ts` of its last record. */
  lastTs: string;
  bytes: number;
}

/** What {@link pruneAuditHistory} did. */
export interface AuditPruneReport {
  /** The files removed, oldest first (those that would be, with `dryRun`). */
  pruned: PrunedFile[];
  /** Seq of the checkpoint record written; absent when nothing was pruned (or `dryRun`). */
  checkpointSeq?: number;
  /** The first seq the history keeps. */
  firstSeq: number;
  /** Seq of its last record. */
  lastSeq: number;
}

/**
 * Removes the oldest rotated files of a history, those whose last record is
 * older than `before`, and keeps the rest verifiable: it first verifies the
 * whole history (as `initialize()` does, under the key if given), appends a
 * `checkpoint` record naming every file it is about to remove (by its last
 * record's seq and hash, fsynced), then removes them oldest first, fsyncing
 * the directory after each. A history whose oldest file continues a removed
 * one verifies only when a checkpoint record later in it names that file; a
 * prune cut short by a crash leaves a prefix removed, which the checkpoint
 * covers too. The current file is never removed, and a file is removed only
 * together with every file before it.
 *
 * Takes the file like a writer (refused while a trail of this process has
 * it); stop the writing process first (`beauvoir audit prune` takes boot's
 * instance lock). The idempotency index may look up results in the audit
 * trail within its TTL (7 days by default): prune only older files.
 * @param options - the file, the date, the key.
 * @returns the files removed and the checkpoint's seq.
 * @throws {@link AuditCorruptError} when the history does not verify (nothing is changed).
 * @throws {@link AuditFileInUseError}, {@link AuditReadError}, {@link AuditWriteError}, `FailStoppedError` as for `AuditTrail`.
 * @throws TypeError when `before` is not a valid date.
 * @example
 * ```ts
 * const { pruned } = await pruneAuditHistory({
 *   path: "/var/lib/agent/audit/audit.jsonl",
 *   before: new Date(Date.now() - 90 * 86_400_000),
 * });
 * ```
 */
export async function pruneAuditHistory(
  options: PruneAuditHistoryOptions,
): Promise<AuditPruneReport> {
  const before = options?.before;
  if (!(before instanceof Date) || Number.isNaN(before.getTime())) {
    throw new TypeError("before must be a valid Date");
  }
  const fs = options.fs ?? nodeFileSystem;
  const logger = options.logger ?? silentLogger;
  const layout = layoutOf(options.path);
  const trail = new AuditTrail({
    path: options.path,
    maxSizeBytes: Number.POSITIVE_INFINITY,
    redactor: { redactAny: (value: unknown) => value },
    fs,
    logger,
    ...(options.hmacKey === undefined ? {} : { hmacKey: options.hmacKey }),
  });
  try {
    // Verifies the whole history and takes the file for this prune.
    const recovery = await trail.initialize();
    const names = await listSegments(fs, layout);
    const files = names.map((name) => `${layout.directory}/${name}`);
    const pruned: PrunedFile[] = [];
    const segments: PrunedSegment[] = [];
    for (const file of files) {
      const buffer = await readHistoryFile(fs, file);
      const bounds = buffer && boundsOf(buffer);
      if (!bounds || Date.parse(bounds.last.ts) >= before.getTime()) break;
      pruned.push({
        file,
        firstSeq: bounds.first.seq,
        lastSeq: bounds.last.seq,
        lastTs: bounds.last.ts,
        bytes: buffer.length,
      });
      segments.push({ lastSeq: bounds.last.seq, lastHash: bounds.last.hash });
    }
    const firstSeq =
      pruned.length > 0 ? pruned[pruned.length - 1]!.lastSeq + 1 : firstSeqOf(recovery);
    if (pruned.length === 0 || options.dryRun) {
      return { pruned, firstSeq, lastSeq: recovery.lastSeq };
    }
    const checkpointSeq = await checkpointWriters.get(trail)!(segments, before.toISOString());
    for (const { file } of pruned) {
      try {
        await fs.unlink(file);
        await fs.fsyncDirectory(layout.directory);
      } catch (error) {
        throw new AuditWriteError(
          "unlink",
          file,
          `Could not remove ${basename(file)}; the checkpoint at seq ${checkpointSeq} covers it, run the prune again`,
          error,
        );
      }
      logger.info("Audit file pruned", { file, checkpointSeq });
    }
    return { pruned, checkpointSeq, firstSeq, lastSeq: checkpointSeq };
  } finally {
    await trail.close();
  }
}

function firstSeqOf(recovery: { historyRecords: number; lastSeq: number }): number {
  return recovery.lastSeq - recovery.historyRecords + 1;
}

/** The first and last records of a verified file. */
function boundsOf(buffer: Buffer): { first: AuditRecord; last: AuditRecord } | undefined {
  const firstEnd = buffer.indexOf(10);
  if (firstEnd === -1) return undefined;
  const lastStart = buffer.lastIndexOf(10, buffer.length - 2) + 1;
  return {
    first: JSON.parse(buffer.toString("utf8", 0, firstEnd)) as AuditRecord,
    last: JSON.parse(buffer.toString("utf8", lastStart, buffer.length - 1)) as AuditRecord,
  };
}

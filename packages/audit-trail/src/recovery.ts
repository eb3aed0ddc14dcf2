import { type FileHandleLike, type FileSystem, isErrnoError, type Logger } from "@beauvoir/core";
import type { AuditRecord, IntentResult } from "./audit-record.js";
import { type ChainBreakReason, type ScanResult, scanChain } from "./chain-scanner.js";
import { AuditHmacMismatchError, AuditReadError, AuditWriteError } from "./errors.js";
import { type HistoryLayout, listSegments } from "./segments.js";

/** What `initialize()` found and repaired. */
export interface RecoveryReport {
  /** Valid records kept in the current file. */
  records: number;
  /** Records cut from the end of the current file (torn, unparsable, or breaking the chain). */
  recordsLost: number;
  /** Bytes cut from the end of the current file. */
  truncatedBytes: number;
  /** Why records were cut, when they were. */
  reason?: ChainBreakReason;
  /** 1-based line where the cut starts, when records were cut. */
  brokenAtLine?: number;
  /** Seq of the last record of the history (0 when there is none). */
  lastSeq: number;
  /** Intents without a result: see `getPendingIntents()`. */
  pendingIntents: number;
  /** Rotated files found next to the current one. */
  segments: number;
  /** True when the current file did not exist and was created. */
  created: boolean;
}

/** @internal The in-memory tail rebuilt from disk. */
export interface RecoveredTail {
  report: RecoveryReport;
  handle: FileHandleLike;
  fileSize: number;
  /** Seq of the last record in the history (0 when none). */
  lastSeq: number;
  /** Hash of the last record of the current file; undefined when the file is empty. */
  lastHash: string | undefined;
  /** For an empty current file that follows rotated ones: the link its first record carries. */
  pendingLink: string | undefined;
  /** Seq the current file's first record has (or will have). */
  currentFirstSeq: number;
  openIntents: Map<number, AuditRecord>;
  results: Map<number, IntentResult>;
  segments: string[];
}

/** @internal What recovery needs. */
export interface RecoveryContext {
  fs: FileSystem;
  layout: HistoryLayout;
  hmacKey: Uint8Array | undefined;
  logger: Logger;
}

/**
 * Reads the current file, keeps the longest prefix whose chain holds, cuts the
 * rest, and rebuilds the tail: last seq and hash, open intents, the
 * intent→result index. HMAC mismatches are cut only at the tail (after the last
 * record the key verifies); elsewhere they throw, leaving the file untouched.
 */
export async function recoverTail(context: RecoveryContext): Promise<RecoveredTail> {
  const { fs, layout, hmacKey, logger } = context;
  try {
    await fs.mkdir(layout.directory, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new AuditWriteError(
      "mkdir",
      layout.directory,
      `Could not create ${layout.directory}`,
      error,
    );
  }
  let buffer: Buffer;
  let existed = true;
  try {
    buffer = await fs.readFile(layout.current);
  } catch (error) {
    if (!isErrnoError(error, "ENOENT")) throw new AuditReadError(layout.current, error);
    buffer = Buffer.alloc(0);
    existed = false;
  }
  const segments = await listSegments(fs, layout);

  const results = new Map<number, IntentResult>();
  const indexResults = (record: AuditRecord) => {
    if (record.phase !== "result") return;
    const entry: IntentResult = { hasResult: true };
    if (record.error !== undefined) entry.error = record.error;
    if (record.result !== undefined) entry.result = record.result;
    results.set(record.intentSeq!, entry);
  };
  let scan = scanChain(buffer, { hmacKey, hmacPolicy: "collect", onRecord: indexResults });
  let keepBytes = scan.break ? scan.validBytes : buffer.length;
  let lost = scan.linesAfterBreak;
  let reason = scan.break?.reason;
  let brokenAtLine = scan.break?.line;

  const mismatch = scan.firstHmacMismatch;
  if (mismatch) {
    const verifiedBefore = scan.hmacVerified.some((index) => index < mismatch.index);
    const verifiedAfter = scan.hmacVerified.some((index) => index > mismatch.index);
    if (verifiedAfter || !verifiedBefore) {
      throw new AuditHmacMismatchError(
        mismatch.seq,
        layout.current,
        verifiedBefore || verifiedAfter
          ? `Record ${mismatch.seq} does not verify under the HMAC key but later records do: the file was rewritten in the middle or the key changed; the file is left as it is`
          : `No record verifies under the HMAC key from record ${mismatch.seq} on: is it the right key? The file is left as it is`,
      );
    }
    // Records after the last one the key verifies were appended without the key: cut them.
    const prefix = buffer.subarray(0, mismatch.offset);
    results.clear();
    const rescan: ScanResult = scanChain(prefix, {
      hmacKey,
      hmacPolicy: "collect",
      onRecord: indexResults,
    });
    lost = scan.records - rescan.records + scan.linesAfterBreak;
    keepBytes = mismatch.offset;
    reason = "hmac_mismatch";
    brokenAtLine = mismatch.line;
    scan = rescan;
  }

  const handle = await openForAppend(fs, layout, existed);
  const truncatedBytes = buffer.length - keepBytes;
  if (truncatedBytes > 0) {
    try {
      await handle.truncate(keepBytes);
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => {});
      throw new AuditWriteError(
        "truncate",
        layout.current,
        `Could not cut the damaged tail of ${layout.current}`,
        error,
      );
    }
  }

  let lastSeq = scan.lastSeq ?? 0;
  let pendingLink: string | undefined;
  if (scan.lastSeq === undefined && segments.length > 0) {
    const newest = await readSegmentTail(fs, layout, segments[segments.length - 1]!, logger);
    lastSeq = newest.lastSeq;
    pendingLink = newest.lastHash;
  }

  const report: RecoveryReport = {
    records: scan.records,
    recordsLost: lost,
    truncatedBytes,
    lastSeq,
    pendingIntents: scan.openIntents.size,
    segments: segments.length,
    created: !existed,
  };
  if (truncatedBytes > 0) {
    report.reason = reason!;
    report.brokenAtLine = brokenAtLine!;
    logger.warn(`Audit trail recovery cut ${lost} record(s) from the end of the file`, {
      path: layout.current,
      recordsLost: lost,
      truncatedBytes,
      reason,
      line: brokenAtLine,
    });
  }
  return {
    report,
    handle,
    fileSize: keepBytes,
    lastSeq,
    lastHash: scan.lastHash,
    pendingLink,
    currentFirstSeq: scan.firstSeq ?? lastSeq + 1,
    openIntents: scan.openIntents,
    results,
    segments,
  };
}

/** Opens the current file for appending, creating it with mode 0600 and making its name durable. */
export async function openForAppend(
  fs: FileSystem,
  layout: HistoryLayout,
  existed: boolean,
): Promise<FileHandleLike> {
  let handle: FileHandleLike;
  try {
    handle = await fs.open(layout.current, "a", 0o600);
  } catch (error) {
    throw new AuditWriteError("open", layout.current, `Could not open ${layout.current}`, error);
  }
  if (!existed) {
    try {
      await fs.fsyncDirectory(layout.directory);
    } catch (error) {
      await handle.close().catch(() => {});
      throw new AuditWriteError(
        "fsync",
        layout.directory,
        `Could not fsync ${layout.directory}`,
        error,
      );
    }
  }
  return handle;
}

/** Seq and hash of the last valid record of a rotated file, for the link of the next file. */
async function readSegmentTail(
  fs: FileSystem,
  layout: HistoryLayout,
  name: string,
  logger: Logger,
): Promise<{ lastSeq: number; lastHash: string | undefined }> {
  const path = `${layout.directory}/${name}`;
  let buffer: Buffer;
  try {
    buffer = await fs.readFile(path);
  } catch (error) {
    throw new AuditReadError(path, error);
  }
  const scan = scanChain(buffer);
  if (scan.break) {
    // Rotated files are fsynced before they are renamed; damage here is for
    // verifyChain() to report, not for recovery to repair.
    logger.warn("The newest rotated audit file does not verify; linking to its last valid record", {
      path,
      reason: scan.break.reason,
      line: scan.break.line,
    });
  }
  return { lastSeq: scan.lastSeq ?? 0, lastHash: scan.lastHash };
}

import { basename } from "node:path";
import {
  ensureDurableDirectory,
  type FileHandleLike,
  type FileSystem,
  type Logger,
} from "@beauvoir/core";
import type { AuditRecord } from "./audit-record.js";
import type { ChainBreakReason } from "./chain-scanner.js";
import { openCurrentFile } from "./current-file.js";
import { AuditCorruptError, AuditWriteError } from "./errors.js";
import { readHistoryFile } from "./history-file-reader.js";
import { type HistoryScan, scanHistory } from "./history-scan.js";
import { type StoredResult, storedResultOf } from "./result-index.js";
import { type HistoryLayout, listSegments } from "./segments.js";

/** What `initialize()` found and repaired. */
export interface RecoveryReport {
  /** Valid records in the current file (after a torn last line was cut). */
  records: number;
  /** Records in the whole history: every rotated file and the current one, all verified. */
  historyRecords: number;
  /** Records cut from the end of the current file: 1 when its last line was torn, else 0. */
  recordsLost: number;
  /** Bytes cut from the end of the current file. */
  truncatedBytes: number;
  /** Why something was cut, when it was: `malformed_line` (a torn last line). */
  reason?: ChainBreakReason;
  /** 1-based line where the cut starts, when something was cut. */
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

/** @internal The state rebuilt from disk. */
export interface RecoveredHistory {
  report: RecoveryReport;
  handle: FileHandleLike;
  fileSize: number;
  lastSeq: number;
  /** Hash of the current file's last record; undefined when it is empty. */
  lastHash: string | undefined;
  /** For an empty current file after rotated ones: the link its first record carries. */
  pendingLink: string | undefined;
  /** Seq the current file's first record has (or will have). */
  currentFirstSeq: number;
  openIntents: Map<number, AuditRecord>;
  /** Results of the current file, by intent seq. */
  results: Map<number, StoredResult>;
  /** The intent seq of the latest result of each dedupeKey, over the whole history. */
  byDedupeKey: Map<string, number>;
  /** Rotated files, oldest first, with their first seq. */
  segments: { name: string; firstSeq: number }[];
  /** Under a key, with `allowUncoveredUnsigned`: unsigned records no switch covers yet. */
  uncoveredUnsigned: number;
}

/** @internal What recovery needs. */
export interface RecoveryContext {
  fs: FileSystem;
  layout: HistoryLayout;
  hmacKey: Uint8Array | undefined;
  logger: Logger;
  /** Accept unsigned records no switch covers (only to write the switch). */
  allowUncoveredUnsigned?: boolean;
}

/**
 * Makes the directory durable, verifies the whole history (every rotated
 * file, then the current file, as one chain, with HMACs under a key), and
 * rebuilds the in-memory state. The one thing it repairs is a torn last line
 * of the current file (no newline: a write that did not finish, whose record
 * was never acknowledged), which it cuts. Any other damage throws
 * {@link AuditCorruptError} before anything is written, leaving every file
 * exactly as it was.
 */
export async function recoverHistory(context: RecoveryContext): Promise<RecoveredHistory> {
  const { fs, layout, hmacKey, logger } = context;
  try {
    await ensureDurableDirectory(fs, layout.directory);
  } catch (error) {
    throw new AuditWriteError(
      "mkdir",
      layout.directory,
      `Could not create ${layout.directory} durably`,
      error,
    );
  }
  const segmentNames = await listSegments(fs, layout);
  const files = [...segmentNames.map((name) => `${layout.directory}/${name}`), layout.current];
  const currentIndex = files.length - 1;

  const results = new Map<number, StoredResult>();
  const byDedupeKey: RecoveredHistory["byDedupeKey"] = new Map();
  let existed = true;
  const scan: HistoryScan = await scanHistory(files, {
    mode: "history",
    hmacKey,
    allowTornTail: true,
    allowUncoveredUnsigned: context.allowUncoveredUnsigned ?? false,
    read: async (file) => {
      const buffer = await readHistoryFile(fs, file);
      if (buffer === undefined && file === layout.current) existed = false;
      return buffer;
    },
    onRecord: (record, fileIndex, closedIntent) => {
      if (record.phase !== "result") return;
      if (fileIndex === currentIndex) results.set(record.intentSeq!, storedResultOf(record));
      const dedupeKey = closedIntent?.dedupeKey;
      if (dedupeKey !== undefined) byDedupeKey.set(dedupeKey, record.intentSeq!);
    },
  });
  if (scan.break) throw new AuditCorruptError(scan.break, describeDamage(scan));

  const current = scan.files[currentIndex]!;
  const handle = await openCurrentFile(fs, layout, existed);
  const torn = scan.tornTail;
  if (torn) {
    try {
      await handle.truncate(torn.offset);
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => {});
      throw new AuditWriteError(
        "truncate",
        layout.current,
        `Could not cut the torn last line of ${layout.current}`,
        error,
      );
    }
    logger.warn(
      "Audit trail recovery cut 1 record(s): a torn last line, from a write that did not finish",
      {
        path: layout.current,
        recordsLost: 1,
        truncatedBytes: torn.bytes,
        line: torn.line,
      },
    );
  }

  const lastSeq = scan.lastSeq ?? 0;
  const segments = segmentNames.map((name, index) => ({
    name,
    firstSeq: scan.files[index]!.firstSeq!,
  }));
  const report: RecoveryReport = {
    records: current.records,
    historyRecords: scan.records,
    recordsLost: torn ? 1 : 0,
    truncatedBytes: torn?.bytes ?? 0,
    lastSeq,
    pendingIntents: current.records > 0 ? scan.openIntents.size : 0,
    segments: segmentNames.length,
    created: !existed,
  };
  if (torn) {
    report.reason = "malformed_line";
    report.brokenAtLine = torn.line;
  }
  return {
    report,
    handle,
    fileSize: torn ? torn.offset : current.bytes,
    lastSeq,
    lastHash: current.lastHash,
    pendingLink: current.lastHash === undefined ? scan.lastHash : undefined,
    currentFirstSeq: current.firstSeq ?? lastSeq + 1,
    openIntents: current.records > 0 ? scan.openIntents : new Map(),
    results,
    byDedupeKey,
    segments,
    uncoveredUnsigned: scan.uncovered?.count ?? 0,
  };
}

function describeDamage(scan: HistoryScan): string {
  const problem = scan.break!;
  const at = problem.seq === undefined ? "" : ` (seq ${problem.seq})`;
  return `The audit history is damaged at ${problem.file} line ${problem.line}${at}: ${problem.reason}: ${problem.detail}. Nothing was cut or changed; ${scan.records} record(s) before it verify. Look at ${basename(problem.file)}, then run beauvoir-audit repair to move the damaged part aside`;
}

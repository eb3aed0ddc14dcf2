import type { AuditRecord } from "./audit-record.js";
import {
  type ChainBreak,
  type FirstRecordExpectation,
  type ScanResult,
  scanChain,
} from "./chain-scanner.js";
import { GENESIS } from "./record-line.js";

/** Where a record sits in a history. */
export interface RecordPlace {
  /** Index of its file in the list scanned. */
  fileIndex: number;
  file: string;
  /** 1-based line in the file. */
  line: number;
  /** Byte offset of the line's start. */
  offset: number;
}

/** The first problem of a history: a {@link ChainBreak} and the file it is in. */
export interface HistoryBreak extends ChainBreak {
  file: string;
  fileIndex: number;
  /** Records of the history that passed before it. */
  recordsBefore: number;
}

/** What one file of a history held. */
export interface FileSummary {
  file: string;
  /** False when the file does not exist (the current file may not). */
  present: boolean;
  bytes: number;
  /** Records that passed. */
  records: number;
  /** Bytes of the records that passed (where a torn tail starts). */
  validBytes: number;
  firstSeq?: number;
  lastSeq?: number;
  lastHash?: string;
  valid: boolean;
}

/** A last line of the last file without its newline, accepted with `allowTornTail`. */
export interface TornTail {
  file: string;
  /** 1-based line of the torn line. */
  line: number;
  /** Where the torn line starts: the size to cut the file to. */
  offset: number;
  /** Bytes of the torn line. */
  bytes: number;
}

/** Options of {@link scanHistory}. */
export interface HistoryScanOptions {
  /** Reads one file; `undefined` means it does not exist. */
  read: (file: string) => Promise<Buffer | undefined>;
  /** `history`: the first file starts the history (seq 1); `standalone`: a single file that may continue another. */
  mode: "history" | "standalone";
  /**
   * Check HMACs. Every record must then be signed, except unsigned records
   * that a later (signed) `signing_started` record covers.
   */
  hmacKey?: Uint8Array | undefined;
  /** Every record must be signed, switch or not. Needs `hmacKey`. */
  requireHmac?: boolean | undefined;
  /** A last line of the last file without its newline is reported as {@link HistoryScan.tornTail}, not as a break. */
  allowTornTail?: boolean | undefined;
  /** Under a key, unsigned records no switch covers are reported as {@link HistoryScan.uncovered}, not as a break. */
  allowUncoveredUnsigned?: boolean | undefined;
  /**
   * Called for each record that passes, in history order, with the index of
   * its file and, for a result, the intent it closes. (Positional arguments:
   * this runs once per record of the whole history.)
   */
  onRecord?:
    | ((record: AuditRecord, fileIndex: number, closedIntent: AuditRecord | undefined) => void)
    | undefined;
  /** Called with bytes scanned so far in the current file. */
  onProgress?: ((fileIndex: number, bytes: number) => void) | undefined;
}

/** What {@link scanHistory} found. */
export interface HistoryScan {
  files: FileSummary[];
  /** Records that passed (every record when there is no break). */
  records: number;
  signedRecords: number;
  bytes: number;
  /** Seq and hash of the last record that passed. */
  lastSeq?: number;
  lastHash?: string;
  /** The first problem, in history order. */
  break?: HistoryBreak;
  tornTail?: TornTail;
  /** With `allowUncoveredUnsigned`: the first unsigned record no switch covers, and how many such records follow the last switch. */
  uncovered?: RecordPlace & { seq: number; count: number };
  /** Intents of the last file scanned that have no result (all intents are in the last file: rotation waits for them). */
  openIntents: Map<number, AuditRecord>;
}

/**
 * Walks the files of a history in order as one chain: each file's records,
 * then the link of the next file to the last record before it, seqs running
 * on across files; a rotated file (any file but the last) must not be empty.
 * Under a key, tracks which unsigned records a `signing_started` record
 * covers. Files are read one at a time.
 */
export async function scanHistory(
  files: string[],
  options: HistoryScanOptions,
): Promise<HistoryScan> {
  const { hmacKey, requireHmac = false } = options;
  const scan: HistoryScan = {
    files: [],
    records: 0,
    signedRecords: 0,
    bytes: 0,
    openIntents: new Map(),
  };
  let first: FirstRecordExpectation =
    options.mode === "history" ? { kind: "head-or-pruned" } : { kind: "standalone" };
  let uncovered: Uncovered | undefined;
  // The oldest file continues a removed one: a checkpoint must let that one go.
  let prunedHead: PrunedHead | undefined;
  const checkCoverage = hmacKey !== undefined && !requireHmac;

  const fail = (problem: ChainBreak, fileIndex: number): HistoryScan => {
    // A head no checkpoint covers, or an unsigned record nothing covers,
    // comes before this break: it is the first problem.
    if (prunedHead) return failPrunedHead(scan, prunedHead);
    if (uncovered && !options.allowUncoveredUnsigned) return failUncovered(scan, uncovered);
    scan.break = { ...problem, file: files[fileIndex]!, fileIndex, recordsBefore: scan.records };
    return scan;
  };

  for (const [fileIndex, file] of files.entries()) {
    const isLast = fileIndex === files.length - 1;
    const buffer = await options.read(file);
    if (buffer === undefined) {
      scan.files.push({ file, present: false, bytes: 0, records: 0, validBytes: 0, valid: true });
      continue;
    }
    if (!isLast && buffer.length === 0 && options.mode === "history") {
      scan.files.push({ file, present: true, bytes: 0, records: 0, validBytes: 0, valid: false });
      const seq = scan.lastSeq === undefined ? 1 : scan.lastSeq + 1;
      return fail(
        {
          reason: "empty_segment",
          detail: "a rotated file holds no record: it was truncated",
          line: 1,
          offset: 0,
          seq,
        },
        fileIndex,
      );
    }
    let fileRecords = 0;
    const report = options.onRecord;
    const onRecord =
      checkCoverage || report || first.kind === "head-or-pruned" || prunedHead
        ? (
            record: AuditRecord,
            line: number,
            offset: number,
            closedIntent: AuditRecord | undefined,
          ) => {
            if (record.previousSegmentHash !== undefined && first.kind === "head-or-pruned") {
              prunedHead = {
                file,
                fileIndex,
                line,
                offset,
                seq: record.seq,
                link: record.previousSegmentHash,
              };
            } else if (prunedHead && record.phase === "checkpoint" && letsGo(record, prunedHead)) {
              prunedHead = undefined;
            }
            if (checkCoverage) {
              if (record.hmac === undefined) {
                if (uncovered) uncovered.count++;
                else {
                  uncovered = {
                    fileIndex,
                    file,
                    line,
                    offset,
                    seq: record.seq,
                    recordsBefore: scan.records + fileRecords,
                    hashBefore:
                      record.prevHash === GENESIS ? record.previousSegmentHash : record.prevHash,
                    count: 1,
                  };
                }
              } else if (record.phase === "signing_started") {
                uncovered = undefined;
              }
            }
            fileRecords++;
            report?.(record, fileIndex, closedIntent);
          }
        : undefined;
    const result: ScanResult = scanChain(buffer, {
      hmacKey,
      requireHmac,
      first,
      onRecord,
      onProgress: options.onProgress && ((bytes) => options.onProgress!(fileIndex, bytes)),
    });
    scan.bytes += buffer.length;
    scan.records += result.records;
    scan.signedRecords += result.signedRecords;
    scan.openIntents = result.openIntents;
    const summary: FileSummary = {
      file,
      present: true,
      bytes: buffer.length,
      records: result.records,
      validBytes: result.validBytes,
      valid: result.break === undefined,
    };
    if (result.lastSeq !== undefined) {
      summary.firstSeq = result.firstSeq!;
      summary.lastSeq = result.lastSeq;
      summary.lastHash = result.lastHash!;
      scan.lastSeq = result.lastSeq;
      scan.lastHash = result.lastHash!;
      first = { kind: "continues", seq: result.lastSeq, hash: result.lastHash! };
    }
    scan.files.push(summary);
    if (result.break) {
      if (result.break.torn && isLast && options.allowTornTail) {
        summary.valid = true;
        scan.tornTail = {
          file,
          line: result.break.line,
          offset: result.break.offset,
          bytes: buffer.length - result.break.offset,
        };
      } else {
        return fail(result.break, fileIndex);
      }
    }
  }
  if (prunedHead) return failPrunedHead(scan, prunedHead);
  if (uncovered) {
    if (!options.allowUncoveredUnsigned) return failUncovered(scan, uncovered);
    const { recordsBefore: _recordsBefore, hashBefore: _hashBefore, ...place } = uncovered;
    scan.uncovered = place;
  }
  return scan;
}

/** The first record of a history that continues a removed file. */
interface PrunedHead extends RecordPlace {
  seq: number;
  /** Its `previousSegmentHash`: the hash of the removed file's last record. */
  link: string;
}

/** Whether a checkpoint record names the removed file the head continues. */
function letsGo(checkpoint: AuditRecord, head: PrunedHead): boolean {
  return (checkpoint.prunedSegments ?? []).some(
    (segment) => segment.lastSeq === head.seq - 1 && segment.lastHash === head.link,
  );
}

function failPrunedHead(scan: HistoryScan, head: PrunedHead): HistoryScan {
  scan.break = {
    reason: "history_head_missing",
    detail: `the oldest file starts at seq ${head.seq}, continuing a file that is missing, and no checkpoint record lets that file go (deleted by hand, or pruned without a checkpoint)`,
    line: head.line,
    offset: head.offset,
    seq: head.seq,
    file: head.file,
    fileIndex: head.fileIndex,
    recordsBefore: 0,
  };
  scan.records = 0;
  delete scan.lastSeq;
  delete scan.lastHash;
  for (const summary of scan.files.slice(head.fileIndex)) summary.valid = false;
  return scan;
}

/** The first unsigned record (under a key) that no switch covers yet. */
interface Uncovered extends RecordPlace {
  seq: number;
  recordsBefore: number;
  /** Hash of the record before it, when there is one. */
  hashBefore: string | undefined;
  count: number;
}

function failUncovered(scan: HistoryScan, uncovered: Uncovered): HistoryScan {
  scan.break = {
    reason: "hmac_missing",
    detail:
      "under the key every record must be signed, and no signing_started record after this unsigned one covers it (a history written before the key was configured needs beauvoir-audit start-signing once; otherwise the chain was rewritten without the key)",
    line: uncovered.line,
    offset: uncovered.offset,
    seq: uncovered.seq,
    file: uncovered.file,
    fileIndex: uncovered.fileIndex,
    recordsBefore: uncovered.recordsBefore,
  };
  scan.records = uncovered.recordsBefore;
  if (uncovered.seq > 1) {
    scan.lastSeq = uncovered.seq - 1;
    scan.lastHash = uncovered.hashBefore!;
  } else {
    delete scan.lastSeq;
    delete scan.lastHash;
  }
  for (const summary of scan.files.slice(uncovered.fileIndex)) summary.valid = false;
  return scan;
}

import { type FileSystem, isErrnoError, nodeFileSystem } from "@beauvoir/core";
import { type ChainBreakReport, listChainBreaks } from "./chain-breaks.js";
import type { ChainBreakReason } from "./chain-scanner.js";
import { AuditReadError } from "./errors.js";
import { readHistoryFile, readNamedFile } from "./history-file-reader.js";
import { type FileSummary, scanHistory } from "./history-scan.js";
import { toKeyBytes } from "./hmac-key.js";
import { type HistoryLayout, historiesIn, historyFiles } from "./segments.js";

/** One file's part of a {@link ChainVerification}. */
export interface SegmentVerification {
  /** Path of the file. */
  file: string;
  /** Records in it that passed (all of them when `valid`). */
  records: number;
  /** Seq of its first and last valid records; absent when it has none. */
  firstSeq?: number;
  lastSeq?: number;
  /** Its size in bytes. */
  bytes: number;
  /** Whether the whole file passed, including its link to the file before. */
  valid: boolean;
}

/** What a verification found. */
export interface ChainVerification {
  /** True when every record of every file passed. */
  valid: boolean;
  /** Records that passed before the first problem (all records when valid). */
  records: number;
  /** Seq of the first bad record (the seq it should have had), when it can be told. */
  brokenAt?: number;
  /** Why the chain is broken; see {@link ChainBreakReason}. */
  reason?: ChainBreakReason;
  /** Human-readable detail of the break. */
  detail?: string;
  /** File holding the first bad record. */
  file?: string;
  /** 1-based line of the first bad record in `file`. */
  line?: number;
  /** Seq and hash of the last record that passed. */
  lastSeq?: number;
  lastHash?: string;
  /** Records carrying an HMAC (checked only when a key was given). */
  signedRecords: number;
  /** Bytes read. */
  bytes: number;
  /** Each file checked, in history order (rotated files oldest first, then the current one). */
  segments: SegmentVerification[];
  /**
   * With `allBreaks`: every break, in history order, the first one included
   * (at most 100; `breaksTruncated` says the list was cut there).
   */
  breaks?: ChainBreakReport[];
  breaksTruncated?: boolean;
}

/** Options of {@link verifyAuditFile}. */
export interface VerifyAuditFileOptions {
  /**
   * Check HMACs with this key (a string is used as UTF-8). Every record must
   * then be signed, except unsigned records written before a recorded
   * `signing_started` switch.
   */
  hmacKey?: string | Uint8Array | undefined;
  /** Fail on any unsigned record, switch or not. Needs `hmacKey`. @default false */
  requireHmac?: boolean | undefined;
  /** Called as bytes are checked, for progress display. */
  onProgress?: ((bytesDone: number, bytesTotal: number) => void) | undefined;
  /**
   * On a broken history, go on after the first break and list every one in
   * `breaks` (the scan resumes at the line after each break). @default false
   */
  allBreaks?: boolean | undefined;
  /** Injectable filesystem. @default nodeFileSystem */
  fs?: FileSystem | undefined;
}

/** @internal What verifying a list of files in history order needs. */
export interface VerifyFilesOptions {
  hmacKey?: Uint8Array | undefined;
  requireHmac?: boolean | undefined;
  onProgress?: ((bytesDone: number, bytesTotal: number) => void) | undefined;
  /** `history`: the first file starts the history; `standalone`: one file on its own. */
  mode: "history" | "standalone";
  /** List every break, not only the first. */
  allBreaks?: boolean | undefined;
  /** Reads one file; `undefined` when it does not exist (skipped). @default never through a link; missing files skipped */
  read?: ((file: string) => Promise<Buffer | undefined>) | undefined;
}

/**
 * Verifies an audit file, or every history in a directory (rotated files and
 * the current file, walked as one chain: each file's first record must carry
 * the hash of the previous file's last record, and seqs run on across files).
 * Files inside a directory are never read through a symbolic link.
 *
 * @param path - an audit file (checked on its own), or a directory.
 * @param options - HMAC key, strictness, progress callback, fs.
 * @returns what was found; `valid: false` with `brokenAt`, `reason`, `file` and
 *   `line` on the first problem.
 * @throws {@link AuditReadError} when the path cannot be read.
 * @throws SymlinkRefusedError (`SYMLINK_REFUSED`) for a link in place of a file of a directory's history.
 * @throws RangeError when `hmacKey` is empty, TypeError when `requireHmac` has no key.
 * @example
 * ```ts
 * const result = await verifyAuditFile("/var/lib/agent/audit.jsonl", { hmacKey: process.env.AUDIT_KEY });
 * if (!result.valid) console.error(`broken at seq ${result.brokenAt}: ${result.reason}`);
 * ```
 */
export async function verifyAuditFile(
  path: string,
  options: VerifyAuditFileOptions = {},
): Promise<ChainVerification> {
  const fs = options.fs ?? nodeFileSystem;
  const hmacKey =
    options.hmacKey === undefined ? undefined : toKeyBytes(options.hmacKey, "hmacKey");
  if (options.requireHmac && !hmacKey) throw new TypeError("requireHmac needs an hmacKey");
  const base = {
    hmacKey,
    requireHmac: options.requireHmac,
    onProgress: options.onProgress,
    allBreaks: options.allBreaks,
  };
  let names: string[] | undefined;
  try {
    names = await fs.readdir(path);
  } catch (error) {
    if (!isErrnoError(error, "ENOTDIR")) throw new AuditReadError(path, error);
  }
  if (names === undefined) {
    return verifyFiles(fs, [path], {
      ...base,
      mode: "standalone",
      read: (file) => readNamedFile(fs, file),
    });
  }
  const layouts = historiesIn(path, names);
  const fileLists = await Promise.all(layouts.map((layout) => historyFiles(fs, layout)));
  return verifyFiles(fs, fileLists, { ...base, mode: "history" });
}

/**
 * @internal Verifies files in history order. `files` is one history, or a list
 * of histories (each verified as its own chain, results added up).
 */
export async function verifyFiles(
  fs: FileSystem,
  files: string[] | string[][],
  options: VerifyFilesOptions,
): Promise<ChainVerification> {
  const histories = (files.length > 0 && Array.isArray(files[0]) ? files : [files]) as string[][];
  const read = options.read ?? ((file: string) => readHistoryFile(fs, file));
  // Files are read one at a time (a directory may hold many 10 MiB segments);
  // their sizes are known up front only for the progress callback.
  const bytesTotal = options.onProgress ? await totalSize(fs, histories.flat()) : 0;
  const total: ChainVerification = {
    valid: true,
    records: 0,
    signedRecords: 0,
    bytes: 0,
    segments: [],
  };
  for (const history of histories) {
    const bytesBefore = total.bytes;
    const fileStarts: number[] = [];
    let offsetSoFar = bytesBefore;
    const scan = await scanHistory(history, {
      read: async (file) => {
        const buffer = await read(file);
        fileStarts.push(offsetSoFar);
        offsetSoFar += buffer?.length ?? 0;
        return buffer;
      },
      mode: options.mode,
      hmacKey: options.hmacKey,
      requireHmac: options.requireHmac,
      onProgress:
        options.onProgress &&
        ((fileIndex, bytes) => options.onProgress!(fileStarts[fileIndex]! + bytes, bytesTotal)),
    });
    total.bytes += scan.bytes;
    total.records += scan.records;
    total.signedRecords += scan.signedRecords;
    for (const summary of scan.files) if (summary.present) total.segments.push(segmentOf(summary));
    if (scan.break) {
      const broken: ChainVerification = {
        ...total,
        valid: false,
        reason: scan.break.reason,
        detail: scan.break.detail,
        file: scan.break.file,
        line: scan.break.line,
      };
      if (scan.break.seq !== undefined) broken.brokenAt = scan.break.seq;
      if (scan.lastSeq !== undefined) {
        broken.lastSeq = scan.lastSeq;
        broken.lastHash = scan.lastHash!;
      }
      if (options.allBreaks) {
        const listed = await listChainBreaks(
          history,
          scan.break,
          scan.lastSeq === undefined ? undefined : { seq: scan.lastSeq, hash: scan.lastHash! },
          { read, hmacKey: options.hmacKey, requireHmac: options.requireHmac },
        );
        broken.breaks = listed.breaks;
        broken.breaksTruncated = listed.truncated;
      }
      return broken;
    }
    if (scan.lastSeq !== undefined) {
      total.lastSeq = scan.lastSeq;
      total.lastHash = scan.lastHash!;
    }
  }
  return total;
}

/**
 * @internal Verifies a history from disk, and that it still ends with the last
 * record its writer wrote (`tail_mismatch` otherwise: the end was cut behind
 * the writer's back).
 */
export async function verifyWrittenHistory(
  fs: FileSystem,
  layout: HistoryLayout,
  hmacKey: Uint8Array | undefined,
  written: { lastSeq: number; lastHash: string | undefined },
): Promise<ChainVerification> {
  const verification = await verifyFiles(fs, await historyFiles(fs, layout), {
    hmacKey,
    mode: "history",
  });
  const { lastSeq, lastHash } = written;
  if (
    verification.valid &&
    lastSeq > 0 &&
    (verification.lastSeq !== lastSeq || verification.lastHash !== lastHash)
  ) {
    return {
      ...verification,
      valid: false,
      brokenAt: (verification.lastSeq ?? 0) + 1,
      reason: "tail_mismatch",
      detail: `the history ends at seq ${verification.lastSeq ?? 0}, but this trail wrote up to seq ${lastSeq}`,
      file: layout.current,
    };
  }
  return verification;
}

function segmentOf(summary: FileSummary): SegmentVerification {
  const segment: SegmentVerification = {
    file: summary.file,
    records: summary.records,
    bytes: summary.bytes,
    valid: summary.valid,
  };
  if (summary.firstSeq !== undefined) {
    segment.firstSeq = summary.firstSeq;
    segment.lastSeq = summary.lastSeq!;
  }
  return segment;
}

async function totalSize(fs: FileSystem, files: string[]): Promise<number> {
  let sum = 0;
  for (const file of files) {
    try {
      sum += (await fs.stat(file)).size;
    } catch {
      // A file that cannot be stat'ed is reported when it is read.
    }
  }
  return sum;
}

import { type FileSystem, isErrnoError, nodeFileSystem } from "@beauvoir/core";
import type { AuditRecord } from "./audit-record.js";
import {
  type ChainBreakReason,
  type FirstRecordExpectation,
  type ScanResult,
  scanChain,
} from "./chain-scanner.js";
import { AuditReadError } from "./errors.js";
import { toKeyBytes } from "./hmac-key.js";
import { historiesIn, historyFiles } from "./segments.js";

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
}

/** Options of {@link verifyAuditFile}. */
export interface VerifyAuditFileOptions {
  /** Check HMACs with this key (a string is used as UTF-8). Unsigned records written before a key was used still pass. */
  hmacKey?: string | Uint8Array;
  /** Fail on any unsigned record. Needs `hmacKey`. @default false */
  requireHmac?: boolean;
  /** Called as bytes are checked, for progress display. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** Injectable filesystem. @default nodeFileSystem */
  fs?: FileSystem;
}

/** @internal What verifying a list of files in history order needs. */
export interface VerifyFilesOptions {
  hmacKey?: Uint8Array;
  requireHmac?: boolean;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** `history`: the first file starts the history; `standalone`: one file on its own. */
  mode: "history" | "standalone";
  /** A missing file counts as empty (the current file right after a rotation). */
  missingIsEmpty?: boolean;
  onRecord?: (record: AuditRecord, file: string, line: number) => void;
}

/**
 * Verifies an audit file, or every history in a directory (rotated files and
 * the current file, walked as one chain: each file's first record must carry
 * the hash of the previous file's last record, and seqs run on across files).
 *
 * @param path - an audit file (checked on its own), or a directory.
 * @param options - HMAC key, strictness, progress callback, fs.
 * @returns what was found; `valid: false` with `brokenAt`, `reason`, `file` and
 *   `line` on the first problem.
 * @throws {@link AuditReadError} when the path cannot be read.
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
  const base = { hmacKey, requireHmac: options.requireHmac, onProgress: options.onProgress };
  let names: string[] | undefined;
  try {
    names = await fs.readdir(path);
  } catch (error) {
    if (!isErrnoError(error, "ENOTDIR")) throw new AuditReadError(path, error);
  }
  if (names === undefined) return verifyFiles(fs, [path], { ...base, mode: "standalone" });
  const layouts = historiesIn(path, names);
  const fileLists = await Promise.all(layouts.map((layout) => historyFiles(fs, layout)));
  return verifyFiles(fs, fileLists, { ...base, mode: "history", missingIsEmpty: true });
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
    let first: FirstRecordExpectation =
      options.mode === "history" ? { kind: "head" } : { kind: "standalone" };
    let lastSeq: number | undefined;
    let lastHash: string | undefined;
    for (const file of history) {
      const buffer = await readOrEmpty(fs, file, options);
      if (buffer === undefined) continue;
      const bytesBefore = total.bytes;
      const scan = scanChain(buffer, {
        hmacKey: options.hmacKey,
        requireHmac: options.requireHmac,
        first,
        onProgress:
          options.onProgress && ((bytes) => options.onProgress!(bytesBefore + bytes, bytesTotal)),
        onRecord: options.onRecord && ((record, line) => options.onRecord!(record, file, line)),
      });
      total.bytes += buffer.length;
      total.records += scan.records;
      total.signedRecords += scan.signedRecords;
      total.segments.push(segmentOf(file, buffer, scan));
      if (scan.lastSeq !== undefined) {
        lastSeq = scan.lastSeq;
        lastHash = scan.lastHash;
        first = { kind: "continues", seq: lastSeq, hash: lastHash! };
      }
      if (scan.break) {
        return {
          ...total,
          valid: false,
          brokenAt: scan.break.seq,
          reason: scan.break.reason,
          detail: scan.break.detail,
          file,
          line: scan.break.line,
          ...(lastSeq === undefined ? {} : { lastSeq, lastHash }),
        };
      }
    }
    if (lastSeq !== undefined) {
      total.lastSeq = lastSeq;
      total.lastHash = lastHash;
    }
  }
  return total;
}

function segmentOf(file: string, buffer: Buffer, scan: ScanResult): SegmentVerification {
  const segment: SegmentVerification = {
    file,
    records: scan.records,
    bytes: buffer.length,
    valid: scan.break === undefined,
  };
  if (scan.firstSeq !== undefined) {
    segment.firstSeq = scan.firstSeq;
    segment.lastSeq = scan.lastSeq;
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

async function readOrEmpty(
  fs: FileSystem,
  file: string,
  options: VerifyFilesOptions,
): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(file);
  } catch (error) {
    if (options.missingIsEmpty && isErrnoError(error, "ENOENT")) return undefined;
    throw new AuditReadError(file, error);
  }
}

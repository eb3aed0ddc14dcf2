import { AUDIT_PHASES, type AuditRecord } from "./audit-record.js";
import {
  digestsEqual,
  GENESIS,
  HASH_HMAC_SUFFIX_LENGTH,
  HASH_SUFFIX_LENGTH,
  hmacHex,
  isDigest,
  sha256Hex,
} from "./record-line.js";

/**
 * Why a chain is broken, in the order the checks run on a line:
 * - `malformed_line`: not JSON, not newline-terminated (a torn write), or the
 *   `hash`/`hmac` members are not the last ones in the documented layout;
 * - `hash_mismatch`: the SHA-256 of the canonical body differs from `hash`
 *   (any edited byte of any field lands here);
 * - `invalid_record`: the hash is right but a field has the wrong type;
 * - `seq_mismatch`: `seq` is not one more than the record before (or not 1 at
 *   the start of a history);
 * - `prev_hash_mismatch`: `prevHash` is not the previous record's `hash`
 *   (`"genesis"` for a file's first record): a record was removed, inserted or
 *   moved;
 * - `segment_link_mismatch`: a file's first record does not point at the last
 *   record of the file before it (a rotated file deleted, reordered or edited);
 * - `history_head_missing`: the oldest file present continues an older one that
 *   is gone, and no `checkpoint` record of the history lets that one go;
 * - `empty_segment`: a rotated file holds no record (rotation never leaves one
 *   empty: it was truncated);
 * - `orphan_result`: a result for an intent that is not open before it;
 * - `hmac_mismatch`: the HMAC does not match under the key;
 * - `hmac_missing`: under a key, an unsigned record that no later
 *   `signing_started` record covers (or any unsigned record, with
 *   `requireHmac`), as left by someone who rewrote the chain without the key;
 * - `tail_mismatch`: the file ends before the last record this process wrote.
 */
export type ChainBreakReason =
  | "malformed_line"
  | "hash_mismatch"
  | "invalid_record"
  | "seq_mismatch"
  | "prev_hash_mismatch"
  | "segment_link_mismatch"
  | "history_head_missing"
  | "empty_segment"
  | "orphan_result"
  | "hmac_mismatch"
  | "hmac_missing"
  | "tail_mismatch";

/** Where and why a scan stopped. */
export interface ChainBreak {
  reason: ChainBreakReason;
  /** Human-readable detail. */
  detail: string;
  /** 1-based line number in the file. */
  line: number;
  /** Byte offset of the start of the bad line. */
  offset: number;
  /** The seq the bad record should have had, when it can be told. */
  seq?: number;
  /**
   * True when the bad line is the last one and has no newline: the one shape a
   * write that did not finish leaves (every record is written with its `\n`).
   */
  torn?: true;
}

/** What a file's first record must link to. */
export type FirstRecordExpectation =
  /** Checked on its own: seq 1 unless the record says it continues a rotated file. */
  | { kind: "standalone" }
  /** The first file of a history: seq 1, no link. */
  | { kind: "head" }
  /**
   * The first file of a history that may have been pruned: seq 1 with no
   * link, or a link to a removed file (whether a `checkpoint` record lets
   * that file go is the history's question, see `scanHistory`).
   */
  | { kind: "head-or-pruned" }
  /**
   * Scanning on after a break, from a line in the middle of a file: the
   * first record is taken as it is (its seq and `prevHash` are not checked
   * against anything), and the chain is checked from there.
   */
  | { kind: "resync" }
  /** Continues a file whose last record is known. */
  | { kind: "continues"; seq: number; hash: string };

/** Options of {@link scanChain}. */
export interface ScanOptions {
  /**
   * Verify HMACs under this key. Signed records must verify; whether unsigned
   * ones are allowed is the history's question (see `scanHistory`), except
   * with `requireHmac`.
   */
  hmacKey?: Uint8Array | undefined;
  /** Every record must be signed. Needs `hmacKey`. */
  requireHmac?: boolean | undefined;
  /** @default standalone */
  first?: FirstRecordExpectation | undefined;
  /**
   * Called for each record that passes, in order, with its 1-based line and
   * the byte offset of the line's start. `closedIntent` is, for a result, the
   * intent record it closes.
   */
  onRecord?:
    | ((
        record: AuditRecord,
        line: number,
        offset: number,
        closedIntent: AuditRecord | undefined,
      ) => void)
    | undefined;
  /** Called now and then with the number of bytes scanned so far. */
  onProgress?: ((bytes: number) => void) | undefined;
  /** Intents open before the buffer (a scan resumed after a break), so their results are not orphans. */
  openIntents?: ReadonlyMap<number, AuditRecord> | undefined;
}

/** What {@link scanChain} found. */
export interface ScanResult {
  /** Records that passed every check, from the start of the buffer. */
  records: number;
  /** Bytes of those records (where a recovery truncates). */
  validBytes: number;
  /** Lines (including a torn last one) from the break to the end: the records a recovery loses. */
  linesAfterBreak: number;
  firstSeq?: number;
  lastSeq?: number;
  lastHash?: string;
  /** Records carrying an `hmac` member. */
  signedRecords: number;
  /** Intents of the valid part with no result after them, by seq. */
  openIntents: Map<number, AuditRecord>;
  break?: ChainBreak;
}

const PROGRESS_EVERY_LINES = 2_048;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const HASH_MEMBER = ',"hash":"';
const HMAC_MEMBER = '","hmac":"';

/**
 * Checks one audit file's bytes record by record: layout, hash, fields, seq,
 * `prevHash`, the link to the previous file, intent/result pairing and HMAC.
 * Stops at the first problem.
 *
 * The buffer is modified while a line is hashed (one byte is swapped and put
 * back), so callers must not share it with concurrent readers.
 */
export function scanChain(buffer: Buffer, options: ScanOptions = {}): ScanResult {
  const { hmacKey, requireHmac = false, onRecord, onProgress } = options;
  const first = options.first ?? { kind: "standalone" };
  const result: ScanResult = {
    records: 0,
    validBytes: 0,
    linesAfterBreak: 0,
    signedRecords: 0,
    openIntents: new Map(options.openIntents ?? []),
  };
  let previousHash: string | undefined;
  let previousSeq: number | undefined;
  let offset = 0;
  let line = 0;

  const stop = (reason: ChainBreakReason, detail: string, seq: number | undefined): ScanResult => {
    result.break = { reason, detail, line, offset };
    if (seq !== undefined) result.break.seq = seq;
    result.linesAfterBreak = countLines(buffer, offset);
    return result;
  };

  while (offset < buffer.length) {
    const lineStart = offset;
    line++;
    if (onProgress && line % PROGRESS_EVERY_LINES === 0) onProgress(offset);
    const end = buffer.indexOf(10, offset);
    const expectedSeq = previousSeq === undefined ? firstSeqOf(first) : previousSeq + 1;
    if (end === -1) {
      if (holdsRecordThenOtherBytes(buffer, offset)) {
        return stop(
          "malformed_line",
          "the last line is a whole record followed by other bytes where its newline belongs (damage: no torn write ends that way)",
          expectedSeq,
        );
      }
      stop("malformed_line", "the last line has no newline (a torn write)", expectedSeq);
      result.break!.torn = true;
      return result;
    }
    const text = buffer.toString("utf8", offset, end);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return stop("malformed_line", "the line is not valid JSON", expectedSeq);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return stop("malformed_line", "the line is not a JSON object", expectedSeq);
    }
    const record = parsed as AuditRecord;
    // A pruned history's head continues a removed file: it claims its own seq.
    const continuesPruned =
      first.kind === "head-or-pruned" &&
      previousSeq === undefined &&
      record.previousSegmentHash !== undefined &&
      isPositiveInteger(record.seq);
    const claimedSeq =
      (continuesPruned ? record.seq : expectedSeq) ??
      (isPositiveInteger(record.seq) ? record.seq : undefined);
    const { hash, hmac } = record;
    // Only the length is checked here: a hash (or, under a key, an HMAC) that
    // is not lowercase hex cannot equal the digest computed below.
    if (
      !hasDigestLength(hash) ||
      (hmac !== undefined && !(hmacKey ? hasDigestLength(hmac) : isDigest(hmac)))
    ) {
      return stop("malformed_line", "hash or hmac is not 64 lowercase hex digits", claimedSeq);
    }
    const suffixLength = hmac === undefined ? HASH_SUFFIX_LENGTH : HASH_HMAC_SUFFIX_LENGTH;
    if (!endsWithDigests(text, hash, hmac)) {
      return stop(
        "malformed_line",
        "hash and hmac are not the last members of the line",
        claimedSeq,
      );
    }
    // The canonical body is the line up to the hash member, closed with "}":
    // swap that one byte in place rather than copying the line.
    const bodyEnd = end - suffixLength;
    const saved = buffer[bodyEnd]!;
    buffer[bodyEnd] = CLOSE_BRACE;
    let hashMatches: boolean;
    let hmacMatches: boolean | undefined;
    try {
      const body = buffer.subarray(offset, bodyEnd + 1);
      hashMatches = sha256Hex(body) === hash;
      if (hashMatches && hmacKey && hmac !== undefined) {
        hmacMatches = digestsEqual(hmacHex(hmacKey, body), hmac);
      }
    } finally {
      buffer[bodyEnd] = saved;
    }
    if (!hashMatches) {
      return stop("hash_mismatch", "the record's bytes do not match its hash", claimedSeq);
    }
    const shapeProblem = describeShapeProblem(record);
    if (shapeProblem) return stop("invalid_record", shapeProblem, claimedSeq);

    if (previousSeq === undefined) {
      // After a break there is nothing to link to: the record before was the bad one.
      const problem = first.kind === "resync" ? undefined : checkFirstRecord(record, first);
      if (problem) return stop(problem.reason, problem.detail, claimedSeq);
    } else {
      if (record.previousSegmentHash !== undefined) {
        return stop(
          "invalid_record",
          "previousSegmentHash on a record that is not first in its file",
          claimedSeq,
        );
      }
      if (record.seq !== previousSeq + 1) {
        return stop("seq_mismatch", `seq ${record.seq} follows seq ${previousSeq}`, claimedSeq);
      }
      if (record.prevHash !== previousHash) {
        return stop(
          "prev_hash_mismatch",
          "prevHash is not the hash of the record before",
          claimedSeq,
        );
      }
    }

    if (hmac !== undefined) result.signedRecords++;
    if (hmacKey) {
      if (hmac === undefined) {
        if (requireHmac) return stop("hmac_missing", "the record is not signed", claimedSeq);
      } else if (!hmacMatches) {
        return stop("hmac_mismatch", "the HMAC does not match under the key", claimedSeq);
      }
    } else if (requireHmac) {
      return stop("hmac_missing", "requireHmac needs a key", claimedSeq);
    }

    let closedIntent: AuditRecord | undefined;
    if (record.phase === "intent") {
      result.openIntents.set(record.seq, record);
    } else if (record.phase === "result") {
      closedIntent = result.openIntents.get(record.intentSeq!);
      if (!closedIntent) {
        return stop(
          "orphan_result",
          `no open intent ${record.intentSeq} before this result`,
          claimedSeq,
        );
      }
      result.openIntents.delete(record.intentSeq!);
    }

    result.records++;
    result.firstSeq ??= record.seq;
    result.lastSeq = record.seq;
    result.lastHash = hash;
    previousSeq = record.seq;
    previousHash = hash;
    offset = end + 1;
    result.validBytes = offset;
    onRecord?.(record, line, lineStart, closedIntent);
  }
  onProgress?.(buffer.length);
  return result;
}

function firstSeqOf(first: FirstRecordExpectation): number | undefined {
  if (first.kind === "head") return 1;
  if (first.kind === "head-or-pruned") return 1;
  if (first.kind === "resync") return undefined;
  if (first.kind === "continues") return first.seq + 1;
  return undefined;
}

function checkFirstRecord(
  record: AuditRecord,
  first: FirstRecordExpectation,
): { reason: ChainBreakReason; detail: string } | undefined {
  if (record.prevHash !== GENESIS) {
    return {
      reason: "prev_hash_mismatch",
      detail: 'the first record of a file must have prevHash "genesis"',
    };
  }
  const link = record.previousSegmentHash;
  if (first.kind === "continues") {
    if (link !== first.hash) {
      return {
        reason: "segment_link_mismatch",
        detail: "previousSegmentHash is not the hash of the last record of the previous file",
      };
    }
    if (record.seq !== first.seq + 1) {
      return {
        reason: "seq_mismatch",
        detail: `seq ${record.seq} follows seq ${first.seq} of the previous file`,
      };
    }
    return undefined;
  }
  if (link !== undefined) {
    // A standalone file may continue one we were not given; the oldest file
    // of a history only with a checkpoint, which the history scan looks for.
    if (first.kind === "standalone") return undefined;
    if (first.kind === "head-or-pruned" && record.seq > 1) return undefined;
    return {
      reason: "history_head_missing",
      detail: `the oldest file starts at seq ${record.seq}, continuing a file that is missing`,
    };
  }
  if (record.seq !== 1) {
    return {
      reason: "seq_mismatch",
      detail: `the first record of a history has seq ${record.seq}, not 1`,
    };
  }
  return undefined;
}

/**
 * Whether `text` ends with `,"hash":"<hash>"}` or `,"hash":"<hash>","hmac":"<hmac>"}`,
 * checked in place (this runs once per line; building the suffix string would
 * allocate). The suffix is ASCII, so its characters are also its last bytes.
 */
function endsWithDigests(text: string, hash: string, hmac: string | undefined): boolean {
  const length = text.length;
  const suffixLength = hmac === undefined ? HASH_SUFFIX_LENGTH : HASH_HMAC_SUFFIX_LENGTH;
  const start = length - suffixLength;
  if (start < 1 || !text.startsWith(HASH_MEMBER, start) || !text.startsWith(hash, start + 9)) {
    return false;
  }
  if (hmac !== undefined) {
    if (!text.startsWith(HMAC_MEMBER, start + 73) || !text.startsWith(hmac, start + 83))
      return false;
  }
  return text.charCodeAt(length - 2) === QUOTE && text.charCodeAt(length - 1) === CLOSE_BRACE;
}

function hasDigestLength(value: unknown): value is string {
  return typeof value === "string" && value.length === 64;
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Field types a hashed record must have; a wrong one means a foreign or buggy writer. */
function describeShapeProblem(record: AuditRecord): string | undefined {
  if (!isPositiveInteger(record.seq)) return "seq is not a positive integer";
  // prevHash needs no check of its own: it must equal "genesis" or the hash of the record before.
  if (!AUDIT_PHASES.includes(record.phase)) return `unknown phase ${JSON.stringify(record.phase)}`;
  if (typeof record.ts !== "string") return "ts is not a string";
  if (typeof record.action !== "string") return "action is not a string";
  if (typeof record.target !== "string") return "target is not a string";
  if (!isPlainObject(record.params)) return "params is not an object";
  if (typeof record.dryRun !== "boolean") return "dryRun is not a boolean";
  if (record.dedupeKey !== undefined && typeof record.dedupeKey !== "string") {
    return "dedupeKey is not a string";
  }
  if (record.error !== undefined && typeof record.error !== "string")
    return "error is not a string";
  if (record.previousSegmentHash !== undefined && !isDigest(record.previousSegmentHash)) {
    return "previousSegmentHash is not a digest";
  }
  if (record.phase === "result") {
    if (!isPositiveInteger(record.intentSeq) || record.intentSeq >= record.seq) {
      return "a result's intentSeq is not the seq of an earlier record";
    }
  } else if (record.intentSeq !== undefined) {
    return `intentSeq on a ${record.phase} record`;
  }
  if (record.phase === "signing_started") {
    if (record.signedFromSeq !== record.seq)
      return "a signing_started record's signedFromSeq is not its own seq";
    if (record.hmac === undefined) return "a signing_started record is not signed";
  } else if (record.signedFromSeq !== undefined) {
    return `signedFromSeq on a ${record.phase} record`;
  }
  if (record.phase === "checkpoint") return describePrunedSegmentsProblem(record);
  if (record.prunedSegments !== undefined) return `prunedSegments on a ${record.phase} record`;
  return undefined;
}

/** A checkpoint names one or more earlier records, oldest first. */
function describePrunedSegmentsProblem(record: AuditRecord): string | undefined {
  const segments: unknown = record.prunedSegments;
  if (!Array.isArray(segments) || segments.length === 0) {
    return "a checkpoint record's prunedSegments is not a non-empty array";
  }
  let previous = 0;
  for (const segment of segments as unknown[]) {
    const { lastSeq, lastHash } = (isPlainObject(segment) ? segment : {}) as Record<
      string,
      unknown
    >;
    if (!isPositiveInteger(lastSeq) || lastSeq <= previous || lastSeq >= record.seq) {
      return "a checkpoint record's prunedSegments do not name earlier records, oldest first";
    }
    if (!isDigest(lastHash)) return "a checkpoint record's prunedSegments hold a bad lastHash";
    previous = lastSeq;
  }
  return undefined;
}

/** Lines from `offset` to the end, counting an unterminated last line. */
function countLines(buffer: Buffer, offset: number): number {
  let lines = 0;
  let position = offset;
  for (;;) {
    const end = buffer.indexOf(10, position);
    if (end === -1) break;
    lines++;
    position = end + 1;
  }
  return position < buffer.length ? lines + 1 : lines;
}

/** Closing braces tried, from the end, when telling a torn last line from a damaged one. */
const MAX_RECORD_ENDS_TRIED = 64;
const OPENING_BRACE = 0x7b;
const CLOSING_BRACE = 0x7d;

/**
 * Whether the unterminated last line starting at `offset` is a whole JSON
 * object followed by more bytes. A torn write leaves a prefix of
 * `record + "\n"`: at most the whole record without its newline, never
 * anything after the record. So a flipped or zeroed newline, or bytes after
 * the record, are damage to report, not a tail to cut.
 */
function holdsRecordThenOtherBytes(buffer: Buffer, offset: number): boolean {
  if (buffer[offset] !== OPENING_BRACE) return false;
  let end = buffer.length - 1;
  for (let tried = 0; tried < MAX_RECORD_ENDS_TRIED; tried++) {
    const brace = buffer.lastIndexOf(CLOSING_BRACE, end);
    if (brace <= offset) return false;
    end = brace - 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(buffer.toString("utf8", offset, brace + 1));
    } catch {
      continue;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return false;
    return brace < buffer.length - 1;
  }
  return false;
}

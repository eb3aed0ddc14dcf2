import { createHash } from "node:crypto";
import { type IdempotencyEntry, isIdempotencyEntry } from "./entry.js";

/**
 * A transition as written to the journal. `seq` grows by exactly one per
 * record across journal files, so a missing record shows as a gap.
 */
export type JournalRecord =
  | { readonly seq: number; readonly type: "put"; readonly entry: IdempotencyEntry }
  | { readonly seq: number; readonly type: "evict"; readonly keys: readonly string[] }
  | { readonly seq: number; readonly type: "reset"; readonly key: string };

/** A record before the writer gives it its `seq`. */
export type JournalDraft =
  | { readonly type: "put"; readonly entry: IdempotencyEntry }
  | { readonly type: "evict"; readonly keys: readonly string[] }
  | { readonly type: "reset"; readonly key: string };

/**
 * The first line of every journal file: which generation it is and the last
 * `seq` before its first record. A journal is created whole (header fsynced,
 * then linked into place), so a journal without its header was cut short.
 */
export interface JournalHeader {
  /** Journal layout version. */
  readonly format: 2;
  /** The `N` of `journal.N.jsonl`. */
  readonly generation: number;
  /** The `seq` of the last record before this journal; its first record is `afterSeq + 1`. */
  readonly afterSeq: number;
}

const LINE_PREFIX = '{"sum":"';
const SUM_LENGTH = 16;
const RECORD_MARKER = '","record":';
const HEADER_MARKER = '","journal":';
const NEWLINE = 0x0a;

function checksum(body: string): string {
  return createHash("sha256").update(body).digest("hex").slice(0, SUM_LENGTH);
}

function encode(marker: string, body: string): string {
  return `${LINE_PREFIX}${checksum(body)}${marker}${body}}\n`;
}

/**
 * Encodes one record as a journal line: `{"sum":"<16 hex>","record":{...}}\n`.
 * The checksum covers the exact bytes of the record's JSON, so a line torn by a
 * crash, or changed afterwards, is recognised on open.
 * @param record - the transition.
 * @returns the line, newline included.
 */
export function encodeJournalLine(record: JournalRecord): string {
  return encode(RECORD_MARKER, JSON.stringify(record));
}

/**
 * Encodes a journal's header line: `{"sum":"<16 hex>","journal":{...}}\n`.
 * @param header - the header.
 * @returns the line, newline included.
 */
export function encodeJournalHeader(header: JournalHeader): string {
  return encode(
    HEADER_MARKER,
    JSON.stringify({
      format: header.format,
      generation: header.generation,
      afterSeq: header.afterSeq,
    }),
  );
}

/** One line of a journal file, decoded. */
export type DecodedLine =
  | { readonly kind: "record"; readonly line: number; readonly record: JournalRecord }
  | { readonly kind: "header"; readonly line: number; readonly header: JournalHeader }
  | { readonly kind: "bad"; readonly line: number; readonly detail: string };

/** What {@link decodeJournal} found in a journal file. */
export interface DecodedJournal {
  /** The header, when the first line is one. */
  readonly header: JournalHeader | undefined;
  /** Every line, in file order (records, the header, bad lines). */
  readonly lines: readonly DecodedLine[];
  /**
   * Bytes after the last newline that can only be the start of a line whose
   * write did not finish (a torn tail). `undefined` when the file ends with a
   * newline, or when the bytes there are damage instead (then the last entry
   * of `lines` is a bad line).
   */
  readonly tornTail: { readonly line: number; readonly offset: number } | undefined;
  /** The file ends with a complete record whose newline is missing. */
  readonly missingNewline: boolean;
  /** Length of the file. */
  readonly length: number;
}

function decodeLine(text: string, line: number): DecodedLine {
  if (!text.startsWith(LINE_PREFIX) || !text.endsWith("}")) {
    return { kind: "bad", line, detail: "not a journal line" };
  }
  const sum = text.slice(LINE_PREFIX.length, LINE_PREFIX.length + SUM_LENGTH);
  const markerAt = LINE_PREFIX.length + SUM_LENGTH;
  const marker = text.startsWith(RECORD_MARKER, markerAt)
    ? RECORD_MARKER
    : text.startsWith(HEADER_MARKER, markerAt)
      ? HEADER_MARKER
      : undefined;
  if (marker === undefined) return { kind: "bad", line, detail: "not a journal line" };
  const body = text.slice(markerAt + marker.length, -1);
  if (checksum(body) !== sum) return { kind: "bad", line, detail: "checksum mismatch" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { kind: "bad", line, detail: "invalid JSON under a valid checksum" };
  }
  if (marker === HEADER_MARKER) {
    return isJournalHeader(parsed)
      ? { kind: "header", line, header: parsed }
      : { kind: "bad", line, detail: "unknown header shape" };
  }
  return isJournalRecord(parsed)
    ? { kind: "record", line, record: parsed }
    : { kind: "bad", line, detail: "unknown record shape" };
}

function isJournalHeader(value: unknown): value is JournalHeader {
  if (typeof value !== "object" || value === null) return false;
  const header = value as Record<string, unknown>;
  return (
    header.format === 2 &&
    Number.isSafeInteger(header.generation) &&
    (header.generation as number) >= 0 &&
    Number.isSafeInteger(header.afterSeq) &&
    (header.afterSeq as number) >= 0
  );
}

function isJournalRecord(value: unknown): value is JournalRecord {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  if (!Number.isSafeInteger(record.seq) || (record.seq as number) < 1) return false;
  switch (record.type) {
    case "put":
      return isIdempotencyEntry(record.entry);
    case "evict":
      return Array.isArray(record.keys) && record.keys.every((key) => typeof key === "string");
    case "reset":
      return typeof record.key === "string";
    default:
      return false;
  }
}

/** A crash can leave the start of a line, or (on some filesystems) zeros: nothing else. */
function couldBeTorn(tail: Buffer): boolean {
  if (tail.every((byte) => byte === 0)) return true;
  const text = tail.toString("latin1");
  return text.startsWith(LINE_PREFIX) || LINE_PREFIX.startsWith(text);
}

/**
 * Decodes a journal file line by line. It never stops early: a bad line is
 * reported as such and decoding goes on, so the caller can tell a torn tail
 * (only the bytes after the last newline, when they can be the start of a
 * line) from damage in the middle of the file.
 * @param content - the file's bytes.
 * @returns every line, decoded, and what the end of the file looks like.
 */
export function decodeJournal(content: Buffer): DecodedJournal {
  const lines: DecodedLine[] = [];
  let header: JournalHeader | undefined;
  let offset = 0;
  let lineNumber = 0;
  while (offset < content.length) {
    const end = content.indexOf(NEWLINE, offset);
    if (end === -1) break;
    lineNumber += 1;
    let decoded = decodeLine(content.toString("utf8", offset, end), lineNumber);
    if (decoded.kind === "header") {
      if (lineNumber === 1) header = decoded.header;
      else decoded = { kind: "bad", line: lineNumber, detail: "a header after the first line" };
    }
    lines.push(decoded);
    offset = end + 1;
  }
  if (offset === content.length) {
    return { header, lines, tornTail: undefined, missingNewline: false, length: content.length };
  }
  lineNumber += 1;
  const tail = content.subarray(offset);
  const whole = decodeLine(tail.toString("utf8"), lineNumber);
  if (whole.kind === "record") {
    lines.push(whole);
    return { header, lines, tornTail: undefined, missingNewline: true, length: content.length };
  }
  if (
    whole.kind === "header" ||
    decodeLine(tail.subarray(0, -1).toString("utf8"), lineNumber).kind !== "bad"
  ) {
    // A complete line whose newline turned into another byte: a write that
    // did not finish cannot produce that.
    lines.push({ kind: "bad", line: lineNumber, detail: "a complete line without its newline" });
  } else if (couldBeTorn(tail)) {
    return {
      header,
      lines,
      tornTail: { line: lineNumber, offset },
      missingNewline: false,
      length: content.length,
    };
  } else {
    lines.push({ kind: "bad", line: lineNumber, detail: "bytes after the last line" });
  }
  return { header, lines, tornTail: undefined, missingNewline: false, length: content.length };
}

/**
 * Applies a record to a map of entries, as replay and live transitions do.
 * @param entries - the entries, changed in place.
 * @param record - the transition (a draft works too: the seq plays no part).
 */
export function applyRecord(
  entries: Map<string, IdempotencyEntry>,
  record: JournalRecord | JournalDraft,
): void {
  switch (record.type) {
    case "put":
      entries.set(record.entry.key, Object.freeze({ ...record.entry }));
      break;
    case "evict":
      for (const key of record.keys) entries.delete(key);
      break;
    case "reset":
      entries.delete(record.key);
      break;
  }
}

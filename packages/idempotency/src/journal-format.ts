import { createHash } from "node:crypto";
import type { IdempotencyEntry } from "./entry.js";

/** A transition as written to the journal. `seq` grows by one per record across journal files. */
export type JournalRecord =
  | { readonly seq: number; readonly type: "put"; readonly entry: IdempotencyEntry }
  | { readonly seq: number; readonly type: "evict"; readonly keys: readonly string[] };

const LINE_PREFIX = '{"sum":"';
const SUM_LENGTH = 16;
const RECORD_MARKER = '","record":';

function checksum(body: string): string {
  return createHash("sha256").update(body).digest("hex").slice(0, SUM_LENGTH);
}

/**
 * Encodes one record as a journal line: `{"sum":"<16 hex>","record":{...}}\n`.
 * The checksum covers the exact bytes of the record's JSON, so a line torn by a
 * crash, or changed afterwards, is recognised on open.
 * @param record - the transition.
 * @returns the line, newline included.
 */
export function encodeJournalLine(record: JournalRecord): string {
  const body = JSON.stringify(record);
  return `${LINE_PREFIX}${checksum(body)}${RECORD_MARKER}${body}}\n`;
}

/** What {@link decodeJournal} found in a journal file. */
export interface DecodedJournal {
  /** The valid records, in file order. */
  readonly records: JournalRecord[];
  /** Length in bytes of the valid prefix; everything after it is a torn or corrupt tail. */
  readonly validBytes: number;
  /** Bytes after the valid prefix (0 for a clean file). */
  readonly droppedBytes: number;
  /** Why decoding stopped early, when it did. */
  readonly problem?: string;
}

function decodeLine(line: string): JournalRecord | string {
  if (!line.startsWith(LINE_PREFIX) || !line.endsWith("}")) return "malformed line";
  const sum = line.slice(LINE_PREFIX.length, LINE_PREFIX.length + SUM_LENGTH);
  const markerAt = LINE_PREFIX.length + SUM_LENGTH;
  if (line.slice(markerAt, markerAt + RECORD_MARKER.length) !== RECORD_MARKER)
    return "malformed line";
  const body = line.slice(markerAt + RECORD_MARKER.length, -1);
  if (checksum(body) !== sum) return "checksum mismatch";
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return "invalid JSON";
  }
  return isJournalRecord(parsed) ? parsed : "unknown record shape";
}

function isJournalRecord(value: unknown): value is JournalRecord {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  if (!Number.isSafeInteger(record.seq) || (record.seq as number) < 1) return false;
  if (record.type === "put") {
    const entry = record.entry as Record<string, unknown> | null;
    return (
      typeof entry === "object" &&
      entry !== null &&
      typeof entry.key === "string" &&
      (entry.status === "pending" || entry.status === "completed" || entry.status === "failed")
    );
  }
  return (
    record.type === "evict" &&
    Array.isArray(record.keys) &&
    record.keys.every((key) => typeof key === "string")
  );
}

/**
 * Decodes a journal file, stopping at the first line that is incomplete, fails
 * its checksum, or breaks the increasing `seq` order. Appends are sequential
 * and fsynced, so a crash can only damage the tail: everything from the first
 * bad line on is treated as that tail and dropped.
 * @param content - the file's bytes.
 * @returns the valid records and where the valid prefix ends.
 */
export function decodeJournal(content: Buffer): DecodedJournal {
  const records: JournalRecord[] = [];
  let offset = 0;
  let lastSeq = 0;
  let problem: string | undefined;
  while (offset < content.length) {
    const end = content.indexOf(0x0a, offset);
    if (end === -1) {
      problem = "incomplete last line";
      break;
    }
    const decoded = decodeLine(content.toString("utf8", offset, end));
    if (typeof decoded === "string") {
      problem = decoded;
      break;
    }
    if (decoded.seq <= lastSeq) {
      problem = `sequence went from ${lastSeq} back to ${decoded.seq}`;
      break;
    }
    lastSeq = decoded.seq;
    records.push(decoded);
    offset = end + 1;
  }
  const result: DecodedJournal = {
    records,
    validBytes: offset,
    droppedBytes: content.length - offset,
  };
  return problem === undefined ? result : { ...result, problem };
}

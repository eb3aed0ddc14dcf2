import { type FileSystem, isErrnoError } from "@beauvoir/core";
import type { AuditRecord } from "../audit-record.js";
import { AuditReadError } from "../errors.js";
import { historiesIn, historyFiles } from "../segments.js";
import { printable } from "./terminal-text.js";

/** Thrown for a path the tool cannot work with; the message is shown as is, exit code 2. */
export class UsageError extends Error {}

/**
 * The files of the history at `path`, oldest first: the file itself, or for a
 * directory the rotated files and current file of the one history it holds.
 */
export async function resolveHistory(fs: FileSystem, path: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(path);
  } catch (error) {
    if (isErrnoError(error, "ENOTDIR")) return [path];
    throw new AuditReadError(path, error);
  }
  const layouts = historiesIn(path, names);
  if (layouts.length === 0) throw new UsageError(`No audit files (*.jsonl) in ${path}`);
  if (layouts.length > 1) {
    throw new UsageError(
      `${path} holds several histories (${layouts.map((layout) => layout.stem).join(", ")}); pass a file`,
    );
  }
  return historyFiles(fs, layouts[0]!);
}

/** The records of one file, parsed without checking the chain; lines that do not parse are counted. */
export interface FileRecords {
  records: AuditRecord[];
  malformed: number;
  /** Bytes up to the end of the last complete line: where reading more should start. */
  completeBytes: number;
}

/** Reads one file's records leniently (for display, not for verification). A missing file has none. */
export async function readRecords(fs: FileSystem, file: string): Promise<FileRecords> {
  let buffer: Buffer;
  try {
    buffer = await fs.readFile(file);
  } catch (error) {
    if (isErrnoError(error, "ENOENT")) return { records: [], malformed: 0, completeBytes: 0 };
    throw new AuditReadError(file, error);
  }
  const completeBytes = buffer.lastIndexOf(10) + 1;
  return { ...parseLines(buffer.toString("utf8", 0, completeBytes)), completeBytes };
}

/** Parses complete JSONL lines; an unterminated last line is ignored (it may still be being written). */
export function parseLines(text: string): Omit<FileRecords, "completeBytes"> {
  const lines = text.split("\n");
  lines.pop();
  const result: Omit<FileRecords, "completeBytes"> = { records: [], malformed: 0 };
  for (const line of lines) {
    try {
      const value: unknown = JSON.parse(line);
      if (
        typeof value === "object" &&
        value !== null &&
        typeof (value as AuditRecord).seq === "number"
      ) {
        result.records.push(value as AuditRecord);
      } else {
        result.malformed++;
      }
    } catch {
      result.malformed++;
    }
  }
  return result;
}

/**
 * One line per record, for people: seq, time, phase, action, target, link,
 * error. Every field read from the file is escaped: a record cannot add a
 * line or send a terminal sequence.
 */
export function formatRecord(record: AuditRecord): string {
  let text = `#${printable(record.seq)} ${printable(record.ts)} ${printable(record.phase).padEnd(7)} ${printable(record.action)} ${printable(record.target)}`;
  if (record.intentSeq !== undefined) text += ` (intent #${printable(record.intentSeq)})`;
  if (record.error !== undefined) text += ` error: ${printable(record.error)}`;
  return text;
}

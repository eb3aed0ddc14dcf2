import { join } from "node:path";
import { type FileSystem, isErrnoError, nodeFileSystem } from "@beauvoir/core";
import type { AuditRecord } from "../audit-record.js";
import { AuditReadError } from "../errors.js";
import { historiesIn, historyFiles } from "../segments.js";
import { UsageError } from "./cli-errors.js";
import { printable } from "./terminal-text.js";

export { UsageError } from "./cli-errors.js";

/** Where boot keeps the history in its data directory. */
const BOOT_AUDIT_DIRECTORY = "audit";

/** What a path given on the command line turned out to be. */
export type LocatedHistory =
  | { kind: "file"; path: string }
  | { kind: "directory"; path: string; names: string[] };

/**
 * What `path` names: a file, or a directory of histories. A directory with
 * no `*.jsonl` file but an `audit/` directory is taken for boot's data
 * directory, and its `audit/` is used.
 * @throws {@link AuditReadError} when the path cannot be read (it does not exist, …).
 */
export async function locateHistory(fs: FileSystem, path: string): Promise<LocatedHistory> {
  let names: string[];
  try {
    names = await fs.readdir(path);
  } catch (error) {
    if (isErrnoError(error, "ENOTDIR")) return { kind: "file", path };
    throw new AuditReadError(path, error);
  }
  if (!names.some((name) => name.endsWith(".jsonl")) && names.includes(BOOT_AUDIT_DIRECTORY)) {
    const inner = join(path, BOOT_AUDIT_DIRECTORY);
    try {
      return { kind: "directory", path: inner, names: await fs.readdir(inner) };
    } catch (error) {
      if (!isErrnoError(error, "ENOTDIR")) throw new AuditReadError(inner, error);
    }
  }
  return { kind: "directory", path, names };
}

/**
 * The files of the history at `path`, oldest first: the file itself, or for a
 * directory (boot's data directory included) the rotated files and current
 * file of the one history it holds.
 */
export async function resolveHistory(fs: FileSystem, path: string): Promise<string[]> {
  const located = await locateHistory(fs, path);
  if (located.kind === "file") return [path];
  const layouts = historiesIn(located.path, located.names);
  if (layouts.length === 0)
    throw new UsageError(`No audit files (*.jsonl) in ${located.path}`, { showUsage: false });
  if (layouts.length > 1) {
    throw new UsageError(
      `${path} holds several histories (${layouts.map((layout) => layout.stem).join(", ")}); pass a file`,
      { showUsage: false },
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

/** What {@link readAuditRecords} read. */
export interface AuditRecordsRead {
  /** The history's files, oldest first. */
  files: string[];
  /** Every record that parses, in file order (not verified: run `verifyAuditFile` for that). */
  records: AuditRecord[];
  /** Lines that are not records. */
  malformed: number;
}

/**
 * Reads every record of the history at `path` (a file, a directory holding
 * one history, or boot's data directory) for display: leniently, without
 * checking the chain, and without changing or locking anything, so it works
 * while the history is written (an unterminated last line is left out).
 * @param path - the file or directory.
 * @param options - `fs`.
 * @returns the files and their records.
 * @throws {@link AuditReadError} when a file cannot be read.
 */
export async function readAuditRecords(
  path: string,
  options: { fs?: FileSystem } = {},
): Promise<AuditRecordsRead> {
  const fs = options.fs ?? nodeFileSystem;
  const files = await resolveHistory(fs, path);
  const read: AuditRecordsRead = { files, records: [], malformed: 0 };
  for (const file of files) {
    const { records, malformed } = await readRecords(fs, file);
    for (const record of records) read.records.push(record);
    read.malformed += malformed;
  }
  return read;
}

import { basename, dirname, extname, join } from "node:path";
import { type FileSystem, isErrnoError } from "@beauvoir/core";
import { AuditReadError } from "./errors.js";

/** Where a history's files live: the current file and its rotated segments. */
export interface HistoryLayout {
  /** The directory holding every file of the history. */
  directory: string;
  /** Full path of the file being written (`audit.jsonl`). */
  current: string;
  /** The current file's name without its extension (`audit`). */
  stem: string;
  /** The current file's extension, dot included (`.jsonl`), or `""`. */
  extension: string;
}

const STAMP = /^\d{8}T\d{9}Z$/;

/** Splits the current file's path into the parts segment names are made of. */
export function layoutOf(path: string): HistoryLayout {
  const name = basename(path);
  const extension = extname(name);
  return {
    directory: dirname(path),
    current: path,
    stem: name.slice(0, name.length - extension.length),
    extension,
  };
}

/** `20260208T101500123Z`: fixed width, so names sort in time order. */
export function formatStamp(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/[-:.]/g, "");
}

function parseStamp(stamp: string): number {
  const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}.${stamp.slice(15, 18)}Z`;
  return Date.parse(iso);
}

/** The stamp of a rotated file's name, or undefined when the name is not one of this history's segments. */
export function segmentStamp(layout: HistoryLayout, name: string): string | undefined {
  const prefix = `${layout.stem}.`;
  if (!name.startsWith(prefix) || !name.endsWith(layout.extension)) return undefined;
  const stamp = name.slice(prefix.length, name.length - layout.extension.length);
  return STAMP.test(stamp) ? stamp : undefined;
}

/**
 * Name for the next rotated file: `{stem}.{stamp}{extension}`, with a stamp
 * strictly later than the newest existing segment's, even if the clock went
 * back, so that name order stays history order.
 */
export function nextSegmentName(
  layout: HistoryLayout,
  nowMs: number,
  newest: string | undefined,
): string {
  let epochMs = nowMs;
  const newestStamp = newest === undefined ? undefined : segmentStamp(layout, newest);
  if (newestStamp !== undefined) epochMs = Math.max(epochMs, parseStamp(newestStamp) + 1);
  return `${layout.stem}.${formatStamp(epochMs)}${layout.extension}`;
}

/** Names of the history's rotated files, oldest first. */
export async function listSegments(fs: FileSystem, layout: HistoryLayout): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(layout.directory);
  } catch (error) {
    if (isErrnoError(error, "ENOENT")) return [];
    throw new AuditReadError(layout.directory, error);
  }
  return names.filter((name) => segmentStamp(layout, name) !== undefined).sort();
}

/** Full paths of a history's files in order: rotated segments, then the current file. */
export async function historyFiles(fs: FileSystem, layout: HistoryLayout): Promise<string[]> {
  const segments = await listSegments(fs, layout);
  return [...segments.map((name) => join(layout.directory, name)), layout.current];
}

/**
 * The histories stored in a directory: every `*.jsonl` file that is not a
 * rotated segment is a current file; rotated segments with no current file
 * still form a history (the current file may not be created yet).
 */
export function historiesIn(directory: string, names: string[]): HistoryLayout[] {
  const stems = new Set<string>();
  for (const name of names) {
    if (!name.endsWith(".jsonl")) continue;
    const withoutExtension = name.slice(0, -".jsonl".length);
    const dot = withoutExtension.lastIndexOf(".");
    const maybeStamp = dot === -1 ? "" : withoutExtension.slice(dot + 1);
    stems.add(STAMP.test(maybeStamp) ? withoutExtension.slice(0, dot) : withoutExtension);
  }
  return [...stems].sort().map((stem) => layoutOf(join(directory, `${stem}.jsonl`)));
}

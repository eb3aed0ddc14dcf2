import { open } from "node:fs/promises";
import { delay, isErrnoError, nodeFileSystem } from "@beauvoir/core";
import type { AuditPhase, AuditRecord } from "../audit-record.js";
import { AUDIT_PHASES } from "../audit-record.js";
import { type CliIo, type CliValues, type ExitCode, onePath } from "./cli-io.js";
import {
  formatRecord,
  parseLines,
  readRecords,
  resolveHistory,
  UsageError,
} from "./read-history.js";
import { jsonForTerminal, printable } from "./terminal-text.js";

/** `tail [path] [-n N] [--follow]`. */
export async function tail(args: string[], values: CliValues, io: CliIo): Promise<ExitCode> {
  const count = values.lines === undefined ? 10 : Number(values.lines);
  if (!Number.isInteger(count) || count < 0) {
    throw new UsageError(`-n needs a whole number, got ${values.lines}`);
  }
  const fs = io.fs ?? nodeFileSystem;
  const files = await resolveHistory(fs, onePath(args, io, "tail"));
  const print = (record: AuditRecord) =>
    io.stdout.write(`${values.json ? jsonForTerminal(record) : formatRecord(record)}\n`);
  const last = files.length - 1;
  // The current file is always read: following resumes exactly after its last
  // complete line, so a record appended between this read and the first poll
  // is not skipped.
  const current = await readRecords(fs, files[last]!);
  let collected = current.records;
  for (let index = last - 1; index >= 0 && collected.length < count; index--) {
    collected = [...(await readRecords(fs, files[index]!)).records, ...collected];
  }
  for (const record of collected.slice(Math.max(0, collected.length - count))) print(record);
  if (values.follow) {
    await follow(files[last]!, current.completeBytes, print, io);
    return 0;
  }
  if (collected.length === 0) {
    io.stderr.write(`No records in ${printable(files[last]!)}\n`);
    return 1;
  }
  return 0;
}

/** Polls the current file and prints complete new lines; starts over when the file shrinks (rotation). */
async function follow(
  file: string,
  startAt: number,
  print: (record: AuditRecord) => void,
  io: CliIo,
): Promise<void> {
  const intervalMs = io.followIntervalMs ?? 250;
  let offset = startAt;
  let partial = "";
  while (!io.signal?.aborted) {
    try {
      await delay(intervalMs, { signal: io.signal });
    } catch {
      break;
    }
    const size = await sizeOf(file);
    if (size < offset) {
      offset = 0;
      partial = "";
    }
    if (size === offset) continue;
    const handle = await open(file, "r");
    try {
      const buffer = Buffer.alloc(size - offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      offset += bytesRead;
      const text = partial + buffer.toString("utf8", 0, bytesRead);
      const end = text.lastIndexOf("\n") + 1;
      partial = text.slice(end);
      for (const record of parseLines(text.slice(0, end)).records) print(record);
    } finally {
      await handle.close();
    }
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    const handle = await open(file, "r");
    try {
      return (await handle.stat()).size;
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (isErrnoError(error, "ENOENT")) return 0;
    throw error;
  }
}

/** `show <seq> [path]`: exit 1 when there is no such record. */
export async function show(args: string[], values: CliValues, io: CliIo): Promise<ExitCode> {
  const [seqText, ...pathArgs] = args;
  const seq = Number(seqText);
  if (seqText === undefined || !Number.isInteger(seq) || seq < 1) {
    throw new UsageError(`show needs a seq (a whole number >= 1), got ${seqText ?? "nothing"}`);
  }
  const fs = io.fs ?? nodeFileSystem;
  const files = await resolveHistory(fs, onePath(pathArgs, io, "show"));
  for (let index = files.length - 1; index >= 0; index--) {
    const { records } = await readRecords(fs, files[index]!);
    const record = records.find((candidate) => candidate.seq === seq);
    if (record) {
      io.stdout.write(`${values.json ? jsonForTerminal(record) : jsonForTerminal(record, 2)}\n`);
      return 0;
    }
    if (records.length > 0 && records[0]!.seq < seq) break;
  }
  io.stderr.write(`No record with seq ${seq}\n`);
  return 1;
}

/** What `stats` reports. */
export interface HistoryStats {
  files: number;
  records: number;
  malformedLines: number;
  byPhase: Record<AuditPhase, number>;
  byAction: Record<string, number>;
  openIntents: number[];
  first?: { seq: number; ts: string };
  last?: { seq: number; ts: string };
}

/** `stats [path]`: records by phase and action, open intents. */
export async function stats(args: string[], values: CliValues, io: CliIo): Promise<ExitCode> {
  const fs = io.fs ?? nodeFileSystem;
  const files = await resolveHistory(fs, onePath(args, io, "stats"));
  const summary: HistoryStats = {
    files: files.length,
    records: 0,
    malformedLines: 0,
    byPhase: Object.fromEntries(AUDIT_PHASES.map((phase) => [phase, 0])) as Record<
      AuditPhase,
      number
    >,
    byAction: {},
    openIntents: [],
  };
  const openSeqs = new Set<number>();
  for (const file of files) {
    const { records, malformed } = await readRecords(fs, file);
    summary.malformedLines += malformed;
    for (const record of records) {
      summary.records++;
      summary.byPhase[record.phase] = (summary.byPhase[record.phase] ?? 0) + 1;
      summary.byAction[record.action] = (summary.byAction[record.action] ?? 0) + 1;
      if (record.phase === "intent") openSeqs.add(record.seq);
      if (record.phase === "result" && record.intentSeq !== undefined)
        openSeqs.delete(record.intentSeq);
      summary.first ??= { seq: record.seq, ts: record.ts };
      summary.last = { seq: record.seq, ts: record.ts };
    }
  }
  summary.openIntents = [...openSeqs].sort((left, right) => left - right);
  const found: ExitCode = summary.records === 0 ? 1 : 0;
  if (values.json) {
    io.stdout.write(`${jsonForTerminal(summary)}\n`);
    return found;
  }
  const lines = [`records: ${summary.records} in ${summary.files} file(s)`];
  if (summary.first && summary.last) {
    lines.push(`first: seq ${printable(summary.first.seq)} at ${printable(summary.first.ts)}`);
    lines.push(`last:  seq ${printable(summary.last.seq)} at ${printable(summary.last.ts)}`);
  }
  lines.push(
    `by phase: ${AUDIT_PHASES.map((phase) => `${phase} ${summary.byPhase[phase]}`).join(", ")}`,
  );
  lines.push("by action:");
  const actions = Object.entries(summary.byAction)
    .sort((left, right) => right[1] - left[1])
    .map(([action, count]) => [printable(action), count] as const);
  const width = Math.max(0, ...actions.map(([action]) => action.length));
  for (const [action, count] of actions) lines.push(`  ${action.padEnd(width)}  ${count}`);
  const openList = summary.openIntents.length > 0 ? ` (seq ${summary.openIntents.join(", ")})` : "";
  lines.push(`open intents: ${summary.openIntents.length}${openList}`);
  if (summary.malformedLines > 0) lines.push(`malformed lines: ${summary.malformedLines}`);
  io.stdout.write(`${lines.join("\n")}\n`);
  return found;
}

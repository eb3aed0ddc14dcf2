import { open } from "node:fs/promises";
import { parseArgs } from "node:util";
import {
  BeauvoirError,
  delay,
  type FileSystem,
  isErrnoError,
  nodeFileSystem,
} from "@beauvoir/core";
import type { AuditPhase, AuditRecord } from "../audit-record.js";
import { AUDIT_PHASES } from "../audit-record.js";
import { verifyAuditFile } from "../verify-audit-file.js";
import { ProgressBar, type ProgressStream } from "./progress-bar.js";
import {
  formatRecord,
  parseLines,
  readRecords,
  resolveHistory,
  UsageError,
} from "./read-history.js";

/** Where the tool reads and writes; `process` in the bin, fakes in tests. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: ProgressStream;
  env: Record<string, string | undefined>;
  /** Stops `tail --follow`. */
  signal?: AbortSignal;
  fs?: FileSystem;
  /** Inputs smaller than this get no progress bar. @default 8 MiB */
  progressThresholdBytes?: number;
  /** How often `tail --follow` looks for new lines. @default 250 */
  followIntervalMs?: number;
}

/** Exit codes: 0 fine (chain valid, record found), 1 broken chain or record not found, 2 usage or I/O error. */
export type ExitCode = 0 | 1 | 2;

export const USAGE = `Usage: beauvoir-audit <command> [options]

Commands:
  verify <file|dir>      Check the hash chain (a directory: every history in it,
                         rotated files included). Exit 0 valid, 1 broken, 2 error.
      --hmac-key-env NAME  Also check HMACs, with the key in environment variable NAME
      --require-hmac       Fail on unsigned records (needs --hmac-key-env)
      --json               Print the verification as JSON
  tail [path] [-n N]     Print the last N records (default 10)
      -f, --follow         Keep printing records as they are appended
      --json               Print raw JSON lines
  show <seq> [path]      Print one record. Exit 1 if there is no such seq
  stats [path]           Records by phase and action, open intents
      --json               Print the statistics as JSON

[path] is an audit file or a directory holding one history;
default: $BEAUVOIR_AUDIT_PATH, else ./audit.jsonl
`;

const DEFAULT_PROGRESS_THRESHOLD = 8 * 1024 * 1024;

/**
 * Runs the `beauvoir-audit` command line.
 * @param argv - the arguments after the program name.
 * @param io - streams, environment, cancellation.
 * @returns the exit code.
 */
export async function runCli(argv: string[], io: CliIo): Promise<ExitCode> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === "help") {
    io.stdout.write(USAGE);
    return 0;
  }
  try {
    switch (command) {
      case "verify":
        return await verify(rest, values, io);
      case "tail":
        return await tail(rest, values, io);
      case "show":
        return await show(rest, values, io);
      case "stats":
        return await stats(rest, values, io);
      default:
        throw new UsageError(
          command === undefined ? "No command given" : `Unknown command: ${command}`,
        );
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${error.message}\n\n${USAGE}`);
    } else {
      const cause =
        BeauvoirError.isInstance(error) && error.cause instanceof Error
          ? `: ${error.cause.message}`
          : "";
      io.stderr.write(`beauvoir-audit: ${(error as Error).message}${cause}\n`);
    }
    return 2;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: "boolean", default: false },
      "hmac-key-env": { type: "string" },
      "require-hmac": { type: "boolean", default: false },
      lines: { type: "string", short: "n" },
      follow: { type: "boolean", short: "f", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}

type Values = ReturnType<typeof parse>["values"];

function defaultPath(io: CliIo): string {
  return io.env.BEAUVOIR_AUDIT_PATH || "audit.jsonl";
}

function onePath(args: string[], io: CliIo, command: string): string {
  if (args.length > 1) throw new UsageError(`${command} takes one path, got ${args.length}`);
  return args[0] ?? defaultPath(io);
}

async function verify(args: string[], values: Values, io: CliIo): Promise<ExitCode> {
  if (args.length !== 1) throw new UsageError("verify takes exactly one file or directory");
  const path = args[0]!;
  let hmacKey: string | undefined;
  const keyVariable = values["hmac-key-env"];
  if (keyVariable !== undefined) {
    hmacKey = io.env[keyVariable];
    if (!hmacKey) throw new UsageError(`Environment variable ${keyVariable} is not set or empty`);
  }
  if (values["require-hmac"] && hmacKey === undefined) {
    throw new UsageError("--require-hmac needs --hmac-key-env");
  }
  const bar = new ProgressBar(
    io.stderr,
    "verifying",
    io.progressThresholdBytes ?? DEFAULT_PROGRESS_THRESHOLD,
  );
  const result = await verifyAuditFile(path, {
    fs: io.fs,
    hmacKey,
    requireHmac: values["require-hmac"],
    onProgress: (done, total) => bar.update(done, total),
  }).finally(() => bar.clear());
  if (values.json) {
    io.stdout.write(`${JSON.stringify(result)}\n`);
  } else if (result.valid) {
    const hmacNote = hmacKey === undefined ? "HMACs not checked" : "HMACs verified";
    io.stdout.write(
      `OK: ${result.records} record(s) in ${result.segments.length} file(s), chain intact (${result.signedRecords} signed, ${hmacNote})\n`,
    );
  } else {
    const at = result.brokenAt === undefined ? "" : ` at seq ${result.brokenAt}`;
    io.stdout.write(
      `BROKEN${at} (${result.reason}): ${result.detail}\n  file: ${result.file}, line ${result.line}\n  ${result.records} record(s) verified before it\n`,
    );
  }
  return result.valid ? 0 : 1;
}

async function tail(args: string[], values: Values, io: CliIo): Promise<ExitCode> {
  const count = values.lines === undefined ? 10 : Number(values.lines);
  if (!Number.isInteger(count) || count < 0)
    throw new UsageError(`-n needs a whole number, got ${values.lines}`);
  const fs = io.fs ?? nodeFileSystem;
  const files = await resolveHistory(fs, onePath(args, io, "tail"));
  const print = (record: AuditRecord) =>
    io.stdout.write(`${values.json ? JSON.stringify(record) : formatRecord(record)}\n`);
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
  if (values.follow) await follow(files[last]!, current.completeBytes, print, io);
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

async function show(args: string[], values: Values, io: CliIo): Promise<ExitCode> {
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
      io.stdout.write(
        `${values.json ? JSON.stringify(record) : JSON.stringify(record, null, 2)}\n`,
      );
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

async function stats(args: string[], values: Values, io: CliIo): Promise<ExitCode> {
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
  const open = new Set<number>();
  for (const file of files) {
    const { records, malformed } = await readRecords(fs, file);
    summary.malformedLines += malformed;
    for (const record of records) {
      summary.records++;
      summary.byPhase[record.phase] = (summary.byPhase[record.phase] ?? 0) + 1;
      summary.byAction[record.action] = (summary.byAction[record.action] ?? 0) + 1;
      if (record.phase === "intent") open.add(record.seq);
      if (record.phase === "result" && record.intentSeq !== undefined)
        open.delete(record.intentSeq);
      summary.first ??= { seq: record.seq, ts: record.ts };
      summary.last = { seq: record.seq, ts: record.ts };
    }
  }
  summary.openIntents = [...open].sort((left, right) => left - right);
  if (values.json) {
    io.stdout.write(`${JSON.stringify(summary)}\n`);
    return 0;
  }
  const lines = [`records: ${summary.records} in ${summary.files} file(s)`];
  if (summary.first && summary.last) {
    lines.push(`first: seq ${summary.first.seq} at ${summary.first.ts}`);
    lines.push(`last:  seq ${summary.last.seq} at ${summary.last.ts}`);
  }
  lines.push(
    `by phase: ${AUDIT_PHASES.map((phase) => `${phase} ${summary.byPhase[phase]}`).join(", ")}`,
  );
  lines.push("by action:");
  const actions = Object.entries(summary.byAction).sort((left, right) => right[1] - left[1]);
  const width = Math.max(0, ...actions.map(([action]) => action.length));
  for (const [action, count] of actions) lines.push(`  ${action.padEnd(width)}  ${count}`);
  const openList = summary.openIntents.length > 0 ? ` (seq ${summary.openIntents.join(", ")})` : "";
  lines.push(`open intents: ${summary.openIntents.length}${openList}`);
  if (summary.malformedLines > 0) lines.push(`malformed lines: ${summary.malformedLines}`);
  io.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

import { isErrnoError, nodeFileSystem } from "@beauvoir/core";
import { AuditReadError } from "../errors.js";
import { pruneAuditHistory } from "../prune.js";
import { repairAuditHistory } from "../repair.js";
import { startSigning } from "../start-signing.js";
import { type CliIo, type CliValues, type ExitCode, keyFromEnvironment } from "./cli-io.js";
import { resolveHistory, UsageError } from "./read-history.js";
import { jsonForTerminal, printable } from "./terminal-text.js";

/** The current file of the history at `path` (a file, or a directory holding one history). */
async function currentFileOf(args: string[], io: CliIo, command: string): Promise<string> {
  if (args.length !== 1) throw new UsageError(`${command} takes exactly one file or directory`);
  const path = args[0]!;
  try {
    const files = await resolveHistory(io.fs ?? nodeFileSystem, path);
    return files[files.length - 1]!;
  } catch (error) {
    // A current file that is missing (moved aside, or not created yet) is still the history's name.
    if (AuditReadError.isInstance(error) && isErrnoError(error.cause, "ENOENT")) return path;
    throw error;
  }
}

/** `repair <path>`: moves the damaged part of the history aside; exit 0 when the history verifies afterwards. */
export async function repair(args: string[], values: CliValues, io: CliIo): Promise<ExitCode> {
  const path = await currentFileOf(args, io, "repair");
  const hmacKey = keyFromEnvironment(values, io);
  const report = await repairAuditHistory({
    path,
    ...(hmacKey === undefined ? {} : { hmacKey }),
    ...(io.fs ? { fs: io.fs } : {}),
  });
  if (values.json) {
    io.stdout.write(`${jsonForTerminal(report)}\n`);
    return 0;
  }
  if (!report.repaired) {
    io.stdout.write(`Nothing to repair: ${report.records} record(s), the history verifies\n`);
    return 0;
  }
  const lines: string[] = [];
  const damage = report.damage!;
  const seq = damage.seq === undefined ? "" : ` (seq ${damage.seq})`;
  lines.push(
    `Damage: ${printable(damage.file)} line ${damage.line}${seq}: ${damage.reason}, ${printable(damage.detail)}`,
  );
  for (const moved of report.quarantined) {
    const what =
      moved.keptBytes > 0
        ? `bytes ${moved.keptBytes}.. (${moved.movedLines} line(s))`
        : `the whole file (${moved.movedLines} line(s))`;
    lines.push(
      `  quarantined ${what} of ${printable(moved.file)}\n    as ${printable(moved.quarantinedAs)} (the original bytes)`,
    );
  }
  lines.push(
    `The history keeps ${report.records} record(s), up to seq ${report.lastSeq}; the next record continues from there.`,
  );
  io.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

/** `start-signing <path> --hmac-key-env NAME`: records once that an unsigned history is signed from now on. */
export async function startSigningCommand(
  args: string[],
  values: CliValues,
  io: CliIo,
): Promise<ExitCode> {
  const path = await currentFileOf(args, io, "start-signing");
  const hmacKey = keyFromEnvironment(values, io);
  if (hmacKey === undefined) throw new UsageError("start-signing needs --hmac-key-env");
  const report = await startSigning({ path, hmacKey, ...(io.fs ? { fs: io.fs } : {}) });
  if (values.json) {
    io.stdout.write(`${jsonForTerminal(report)}\n`);
  } else if (report.started) {
    io.stdout.write(
      `Signing started at seq ${report.signedFromSeq}: the ${report.unsignedRecords} unsigned record(s) before it are covered, every record from it on is signed\n`,
    );
  } else {
    io.stdout.write("Nothing to do: no unsigned record needs covering\n");
  }
  return 0;
}

const DAY_MS = 86_400_000;

/** `--before`: an ISO 8601 date or time, or `<N>d` (N days ago). */
function parseBefore(text: string | undefined, io: CliIo): Date {
  if (text === undefined)
    throw new UsageError("prune needs --before <date> (e.g. 2026-01-31 or 90d)");
  const days = /^(\d+)d$/.exec(text);
  const date = days
    ? new Date((io.now ?? Date.now)() - Number(days[1]) * DAY_MS)
    : /^\d{4}-\d{2}-\d{2}/.test(text)
      ? new Date(text)
      : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) {
    throw new UsageError(
      `--before needs a date (2026-01-31, 2026-01-31T12:00:00Z) or a number of days (90d), got ${text}`,
    );
  }
  return date;
}

/** `prune <path> --before <date>`: removes rotated files older than the date; a checkpoint keeps the rest verifiable. */
export async function prune(args: string[], values: CliValues, io: CliIo): Promise<ExitCode> {
  const before = parseBefore(values.before, io);
  const path = await currentFileOf(args, io, "prune");
  const hmacKey = keyFromEnvironment(values, io);
  const report = await pruneAuditHistory({
    path,
    before,
    dryRun: values["dry-run"],
    ...(hmacKey === undefined ? {} : { hmacKey }),
    ...(io.fs ? { fs: io.fs } : {}),
  });
  if (values.json) {
    io.stdout.write(`${jsonForTerminal(report)}\n`);
    return 0;
  }
  const verb = values["dry-run"] ? "would remove" : "removed";
  if (report.pruned.length === 0) {
    io.stdout.write(`Nothing to prune: no rotated file ends before ${before.toISOString()}\n`);
    return 0;
  }
  const lines = report.pruned.map(
    (file) =>
      `  ${verb} ${printable(file.file)} (seq ${file.firstSeq}-${file.lastSeq}, last record ${printable(file.lastTs)})`,
  );
  if (report.checkpointSeq !== undefined) {
    lines.push(
      `Checkpoint at seq ${report.checkpointSeq}: the history now starts at seq ${report.firstSeq} and still verifies.`,
    );
  }
  io.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

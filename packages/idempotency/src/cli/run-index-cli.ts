import { relative } from "node:path";
import { parseArgs } from "node:util";
import { BeauvoirError, escapeControlCharacters, type FileSystem } from "@beauvoir/core";
import type { IndexProblem } from "../errors.js";
import { type IndexRepairReport, repairIdempotencyIndex } from "../repair-index.js";
import { type IndexVerifyReport, verifyIdempotencyIndex } from "../verify-index.js";

/** Where the command reads and writes; `process` in the bin, fakes in tests. */
export interface IndexCliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** The package version, for `--version`. */
  version: string;
  /** @default nodeFileSystem */
  fs?: FileSystem;
}

/**
 * Exit codes: 0 the index is intact (verify) or intact now (repair); 1 damage
 * found (verify) or left after a repair; 2 usage error, I/O error, or the
 * index is open in another process (repair).
 */
export type IndexCliExitCode = 0 | 1 | 2;

/** The text of `beauvoir-index --help`. */
export const INDEX_CLI_USAGE = `Usage: beauvoir-index <command> <dir> [--json]

Commands:
  verify <dir>   Check an idempotency index directory without changing it
                 (works while the index is open). Exit 0 intact, 1 damaged.
  repair <dir>   Move the damaged part of an index aside (into
                 <dir>/quarantine/<time>/, nothing deleted) and rebuild the
                 index from everything still readable. Refused while an index
                 has the directory open. Exit 0 when the index is intact.

Options:
  --json         Print the report as JSON
  -h, --help     Show this help
  --version      Show the version

Exit codes: 0 intact, 1 damaged, 2 usage or I/O error (or the index is open).
`;

class UsageError extends Error {}

/**
 * Runs the `beauvoir-index` command line.
 * @param argv - the arguments after the program name.
 * @param io - output streams, version and filesystem.
 * @returns the exit code.
 */
export async function runIndexCli(
  argv: readonly string[],
  io: IndexCliIo,
): Promise<IndexCliExitCode> {
  try {
    const { values, positionals } = parse(argv);
    if (values.help) {
      io.stdout.write(INDEX_CLI_USAGE);
      return 0;
    }
    if (values.version) {
      io.stdout.write(`${io.version}\n`);
      return 0;
    }
    const [command, dir, ...extra] = positionals;
    if (command === undefined) throw new UsageError("no command given");
    if (command !== "verify" && command !== "repair") {
      throw new UsageError(`unknown command "${command}"`);
    }
    if (dir === undefined) throw new UsageError(`${command} needs the index directory`);
    if (extra.length > 0) throw new UsageError(`${command} takes one directory`);
    const options = io.fs ? { dir, fs: io.fs } : { dir };
    if (command === "verify") {
      const report = await verifyIdempotencyIndex(options);
      io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : describeVerify(report));
      return report.intact ? 0 : 1;
    }
    const report = await repairIdempotencyIndex(options);
    const after = await verifyIdempotencyIndex(options);
    io.stdout.write(
      values.json
        ? `${JSON.stringify({ ...report, intactAfter: after.intact })}\n`
        : describeRepair(report, after),
    );
    return after.intact ? 0 : 1;
  } catch (error) {
    io.stderr.write(`beauvoir-index: ${oneLine(error)}\n`);
    if (error instanceof UsageError) io.stderr.write("Run beauvoir-index --help for usage.\n");
    return 2;
  }
}

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", default: false },
      },
    });
  } catch (error) {
    // parseArgs explains itself at length; one line is enough.
    const option = /'([^']+)'/.exec((error as Error).message)?.[1];
    throw new UsageError(option ? `unknown option ${option}` : "invalid arguments");
  }
}

/** An error as one clean line: its message, the cause's code when there is one, controls escaped. */
function oneLine(error: unknown): string {
  let text = error instanceof Error ? error.message : String(error);
  const cause = BeauvoirError.isInstance(error)
    ? (error.cause as { code?: unknown } | undefined)
    : undefined;
  if (typeof cause?.code === "string" && !text.includes(cause.code)) text += ` (${cause.code})`;
  return escapeControlCharacters(text.replace(/\s*\n\s*/g, " "));
}

function where(dir: string, problem: IndexProblem): string {
  const file = escapeControlCharacters(relative(dir, problem.file) || problem.file);
  return problem.line === undefined ? file : `${file} line ${problem.line}`;
}

function describeVerify(report: IndexVerifyReport): string {
  const { total, pending, failed } = report.entries;
  const dir = escapeControlCharacters(report.dir);
  const lines: string[] = [];
  if (report.intact) {
    lines.push(
      `OK: ${dir}: ${total} entr${total === 1 ? "y" : "ies"} (${pending} pending, ${failed} failed), last seq ${report.lastSeq}, ${report.journals.length} journal(s)`,
    );
    if (report.tornTail) {
      lines.push(
        `note: ${escapeControlCharacters(relative(report.dir, report.tornTail.file))} ends with a torn write (${report.tornTail.bytes} bytes), cut when the index opens`,
      );
    }
  } else {
    for (const problem of report.problems) {
      lines.push(
        `DAMAGED: ${where(report.dir, problem)}: ${escapeControlCharacters(problem.detail)}`,
      );
    }
    lines.push(
      `${report.problems.length} problem(s); ${total} entries readable. Run "beauvoir-index repair ${dir}" to move the damage aside.`,
    );
  }
  for (const note of report.notes) lines.push(`note: ${escapeControlCharacters(note)}`);
  return `${lines.join("\n")}\n`;
}

function describeRepair(report: IndexRepairReport, after: IndexVerifyReport): string {
  const dir = escapeControlCharacters(report.dir);
  if (!report.repaired) return `Nothing to repair: ${dir} is intact\n`;
  const lines = report.problems.map(
    (problem) => `found: ${where(report.dir, problem)}: ${escapeControlCharacters(problem.detail)}`,
  );
  for (const { from, to } of report.moved) {
    lines.push(
      `moved: ${escapeControlCharacters(relative(report.dir, from))} -> ${escapeControlCharacters(relative(report.dir, to))}`,
    );
  }
  lines.push(
    after.intact
      ? `REPAIRED: ${dir}: ${report.entries} entries kept, last seq ${report.lastSeq}; check keys whose transitions stood in damaged lines against the audit trail`
      : `NOT REPAIRED: ${dir} still has ${after.problems.length} problem(s)`,
  );
  return `${lines.join("\n")}\n`;
}

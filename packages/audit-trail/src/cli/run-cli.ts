import { parseArgs } from "node:util";
import { describeArgumentError, describeCliFailure, UsageError } from "./cli-errors.js";
import type { CliIo, CliValues, ExitCode } from "./cli-io.js";
import { show, stats, tail } from "./inspect-commands.js";
import { prune, repair, startSigningCommand } from "./repair-commands.js";
import { printable } from "./terminal-text.js";
import { verify } from "./verify-command.js";

export type { CliIo, CliValues, ExitCode } from "./cli-io.js";
export type { HistoryStats } from "./inspect-commands.js";
export type { VerifyProblemReason, VerifyReport } from "./verify-command.js";

type Command = (args: string[], values: CliValues, io: CliIo) => Promise<ExitCode>;

interface CommandSpec {
  readonly run: Command;
  /** The command's line (and its options) in the usage. */
  readonly help: string;
  /** Whether it changes the history (a writer must not be running). */
  readonly writes: boolean;
}

const COMMANDS: Readonly<Record<string, CommandSpec>> = Object.freeze({
  verify: {
    run: verify,
    writes: false,
    help: `  verify <file|dir>      Check the hash chain (a directory: every history in it,
                         rotated files included; boot's data directory: its audit/).
                         Exit 0 valid, 1 broken, empty, missing its current file, or
                         not holding the expected head; every break is listed.
      --hmac-key-env NAME  Also check HMACs, with the key in environment variable NAME
                           (every record must then be signed, or covered by a
                           signing_started record)
      --require-hmac       Fail on any unsigned record (needs --hmac-key-env)
      --expect-head SEQ:HASH
                           Fail unless the record at SEQ has hash HASH (a head kept
                           elsewhere: a cut or replaced current file then fails)
      --allow-empty        Accept a history with no record (exit 0)
      --json               Print the verification as JSON
`,
  },
  tail: {
    run: tail,
    writes: false,
    help: `  tail [path] [-n N]     Print the last N records (default 10); exit 1 if there is none
      -f, --follow         Keep printing records as they are appended
      --json               Print raw JSON lines
`,
  },
  show: {
    run: show,
    writes: false,
    help: `  show <seq> [path]      Print one record. Exit 1 if there is no such seq
      --json               Print it on one line
`,
  },
  stats: {
    run: stats,
    writes: false,
    help: `  stats [path]           Records by phase and action, open intents; exit 1 if there is
                         no record
      --json               Print the statistics as JSON
`,
  },
  repair: {
    run: repair,
    writes: true,
    help: `  repair <file|dir>      Move the damaged part of a history aside (kept, byte for
                         byte, as <name>.quarantined-<stamp> beside it) so that
                         what remains verifies. Stop the writer first.
      --hmac-key-env NAME  Treat records failing the HMAC check as damage too
      --json               Print the report as JSON
`,
  },
  prune: {
    run: prune,
    writes: true,
    help: `  prune <file|dir> --before DATE
                         Remove the rotated files whose last record is older than
                         DATE (2026-01-31, an ISO time, or 90d for 90 days ago),
                         after a checkpoint record naming them: what remains still
                         verifies. Stop the writer first.
      --dry-run            Only list what would be removed
      --hmac-key-env NAME  The history's key (the checkpoint is signed)
      --json               Print the report as JSON
`,
  },
  "start-signing": {
    run: startSigningCommand,
    writes: true,
    help: `  start-signing <file|dir> --hmac-key-env NAME
                         Record, once, that a history written without a key is
                         signed from now on (its unsigned records stay valid).
      --json               Print the report as JSON
`,
  },
});

/** The names of the `beauvoir-audit` commands that change the history. */
export const AUDIT_WRITE_COMMANDS: readonly string[] = Object.freeze(
  Object.keys(COMMANDS).filter((name) => COMMANDS[name]!.writes),
);

const FOOTER = `
[path] is an audit file or a directory holding one history (boot's data
directory: its audit/); default: $BEAUVOIR_AUDIT_PATH, else ./audit.jsonl

Exit codes: 0 fine; 1 a problem found (a broken, empty or cut history, no such
record); 2 usage or I/O error.
`;

/** The text of `beauvoir-audit --help`. */
export const USAGE = `Usage: beauvoir-audit <command> [options]

Commands:
${Object.values(COMMANDS)
  .map((spec) => spec.help)
  .join("")}${FOOTER}`;

/**
 * The help of one command (`beauvoir-audit verify --help`).
 * @param command - a command name.
 * @returns its usage, or `undefined` for an unknown command.
 */
export function commandHelp(command: string): string | undefined {
  if (!Object.hasOwn(COMMANDS, command)) return undefined;
  return `Usage: beauvoir-audit ${command} [options]\n\n${COMMANDS[command]!.help}${FOOTER}`;
}

/** The options `beauvoir-audit` takes, for `parseArgs`. */
export const AUDIT_CLI_OPTIONS = Object.freeze({
  json: { type: "boolean", default: false },
  "hmac-key-env": { type: "string" },
  "require-hmac": { type: "boolean", default: false },
  "expect-head": { type: "string" },
  "allow-empty": { type: "boolean", default: false },
  before: { type: "string" },
  "dry-run": { type: "boolean", default: false },
  lines: { type: "string", short: "n" },
  follow: { type: "boolean", short: "f", default: false },
  help: { type: "boolean", short: "h", default: false },
  version: { type: "boolean", default: false },
} as const);

/**
 * Runs one `beauvoir-audit` command on parsed arguments; used by
 * {@link runCli} and by `beauvoir audit` (`@beauvoir/boot`). Errors are
 * printed as one line (usage errors with the command's help).
 * @param command - the command's name.
 * @param args - its positional arguments.
 * @param values - the options.
 * @param io - streams, environment, cancellation.
 * @returns the exit code.
 */
export async function runCommand(
  command: string,
  args: string[],
  values: CliValues,
  io: CliIo,
  program = "beauvoir-audit",
): Promise<ExitCode> {
  try {
    if (!Object.hasOwn(COMMANDS, command)) throw new UsageError(`Unknown command: ${command}`);
    return await COMMANDS[command]!.run(args, values, io);
  } catch (error) {
    if (error instanceof UsageError) {
      const help = error.showUsage ? `\n${commandHelp(command) ?? USAGE}` : "";
      io.stderr.write(`${program}: ${printable(error.message)}\n${help}`);
    } else {
      io.stderr.write(`${program}: ${describeCliFailure(error)}\n`);
    }
    return 2;
  }
}

/**
 * Runs the `beauvoir-audit` command line. Everything it prints from a record
 * or a path has its control characters escaped; errors are one line.
 * @param argv - the arguments after the program name.
 * @param io - streams, environment, cancellation.
 * @returns the exit code.
 */
export async function runCli(argv: string[], io: CliIo): Promise<ExitCode> {
  let parsed: ReturnType<typeof parseCliArguments>;
  try {
    parsed = parseCliArguments(argv);
  } catch (error) {
    io.stderr.write(`beauvoir-audit: ${printable(describeArgumentError(error))}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version) {
    io.stdout.write(`${io.version ?? "unknown"}\n`);
    return 0;
  }
  if (command === undefined || command === "help") {
    const topic = command === "help" ? rest[0] : undefined;
    const text = topic === undefined ? USAGE : commandHelp(topic);
    if (values.help || command === "help") {
      io.stdout.write(text ?? USAGE);
      return text === undefined ? 2 : 0;
    }
    io.stderr.write(`beauvoir-audit: No command given\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    const text = commandHelp(command);
    if (text) {
      io.stdout.write(text);
      return 0;
    }
  }
  return runCommand(command, rest, values, io);
}

/**
 * Parses `beauvoir-audit` arguments.
 * @throws the `parseArgs` error for an unknown option or a missing value.
 */
export function parseCliArguments(argv: string[]): {
  values: CliValues & { version: boolean };
  positionals: string[];
} {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: AUDIT_CLI_OPTIONS,
  });
  return { values: values as CliValues & { version: boolean }, positionals };
}

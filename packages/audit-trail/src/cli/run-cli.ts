import { parseArgs } from "node:util";
import { BeauvoirError } from "@beauvoir/core";
import { describeFailure } from "../failure-description.js";
import type { CliIo, CliValues, ExitCode } from "./cli-io.js";
import { show, stats, tail } from "./inspect-commands.js";
import { UsageError } from "./read-history.js";
import { repair, startSigningCommand } from "./repair-commands.js";
import { printable } from "./terminal-text.js";
import { verify } from "./verify-command.js";

export type { CliIo, ExitCode } from "./cli-io.js";
export type { HistoryStats } from "./inspect-commands.js";

export const USAGE = `Usage: beauvoir-audit <command> [options]

Commands:
  verify <file|dir>      Check the hash chain (a directory: every history in it,
                         rotated files included). Exit 0 valid, 1 broken, 2 error.
      --hmac-key-env NAME  Also check HMACs, with the key in environment variable NAME
                           (every record must then be signed, or covered by a
                           signing_started record)
      --require-hmac       Fail on any unsigned record (needs --hmac-key-env)
      --json               Print the verification as JSON
  tail [path] [-n N]     Print the last N records (default 10)
      -f, --follow         Keep printing records as they are appended
      --json               Print raw JSON lines
  show <seq> [path]      Print one record. Exit 1 if there is no such seq
  stats [path]           Records by phase and action, open intents
      --json               Print the statistics as JSON
  repair <file|dir>      Move the damaged part of a history aside (kept, byte for
                         byte, as <name>.quarantined-<stamp> beside it) so that
                         what remains verifies. Stop the writer first.
      --hmac-key-env NAME  Treat records failing the HMAC check as damage too
      --json               Print the report as JSON
  start-signing <file|dir> --hmac-key-env NAME
                         Record, once, that a history written without a key is
                         signed from now on (its unsigned records stay valid).

[path] is an audit file or a directory holding one history;
default: $BEAUVOIR_AUDIT_PATH, else ./audit.jsonl
`;

type Command = (args: string[], values: CliValues, io: CliIo) => Promise<ExitCode>;

const COMMANDS: Readonly<Record<string, Command>> = Object.freeze({
  verify,
  tail,
  show,
  stats,
  repair,
  "start-signing": startSigningCommand,
});

/**
 * Runs the `beauvoir-audit` command line. Everything it prints from a record
 * or a path has its control characters escaped.
 * @param argv - the arguments after the program name.
 * @param io - streams, environment, cancellation.
 * @returns the exit code.
 */
export async function runCli(argv: string[], io: CliIo): Promise<ExitCode> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.stderr.write(`${printable(describeFailure((error as Error).message))}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === "help") {
    io.stdout.write(USAGE);
    return 0;
  }
  try {
    const run = command === undefined ? undefined : COMMANDS[command];
    if (!run || !Object.hasOwn(COMMANDS, command!)) {
      throw new UsageError(
        command === undefined ? "No command given" : `Unknown command: ${command}`,
      );
    }
    return await run(rest, values as CliValues, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${printable(error.message)}\n\n${USAGE}`);
    } else {
      const cause =
        BeauvoirError.isInstance(error) && error.cause instanceof Error
          ? `: ${error.cause.message}`
          : "";
      io.stderr.write(
        `beauvoir-audit: ${printable(`${describeFailure(readMessage(error))}${cause}`)}\n`,
      );
    }
    return 2;
  }
}

function readMessage(error: unknown): unknown {
  try {
    return error instanceof Error ? error.message : error;
  } catch {
    return error;
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

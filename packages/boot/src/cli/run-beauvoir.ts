import { parseArgs } from "node:util";
import {
  AUDIT_CLI_OPTIONS,
  describeArgumentError,
  describeCliFailure,
} from "@beauvoir/audit-trail";
import { nodeFileSystem } from "@beauvoir/core";
import { AUDIT_SUBCOMMANDS, auditCommand, auditHelp } from "./audit-command.js";
import {
  type BeauvoirCliIo,
  type BeauvoirExitCode,
  CommandUsageError,
  NotFoundError,
  RefusedError,
} from "./cli-io.js";
import type { BeauvoirValues, CommandContext } from "./command-context.js";
import { openDataDirectory } from "./data-directory.js";
import { keysDecide, keysList, keysShow } from "./keys-commands.js";
import { locksBreak, locksList } from "./locks-commands.js";
import { printable } from "./output.js";
import { report } from "./report/report-command.js";
import { status } from "./status-command.js";
import { storeList, storeRestore, storeShow } from "./store-commands.js";

export type { BeauvoirCliIo, BeauvoirExitCode } from "./cli-io.js";

interface CommandSpec {
  /** Arguments after the data directory. */
  readonly args: readonly string[];
  readonly summary: string;
  readonly options: string;
  readonly run: (context: CommandContext) => Promise<BeauvoirExitCode>;
}

const JSON_OPTION = "  --json                 Print it as JSON\n";
const KEY_OPTION =
  "  --hmac-key-env NAME    The audit history's HMAC key, from environment variable NAME\n" +
  "                         (required when the history is signed)\n";
const REASON_OPTION = "  --reason TEXT          Why, recorded with the decision\n";

const COMMANDS: Readonly<Record<string, CommandSpec>> = Object.freeze({
  status: {
    args: [],
    summary:
      "The last boot (mode, health, reconciliation), pending, failed and in-doubt keys,\n" +
      "open intents, breakers and rate-limit blocks, locks and their holders, stores and\n" +
      "their health, the audit chain's head and whether it verifies. Read-only.\n" +
      "Exit 0 when nothing needs a human, 1 when something does (listed under attention).",
    options: `${JSON_OPTION}  --hmac-key-env NAME    Also check the audit history's HMACs\n`,
    run: status,
  },
  "keys list": {
    args: [],
    summary: "The idempotency index's keys, oldest change first. Read-only.",
    options: `  --status S             Only pending, failed, completed or in-doubt keys\n${JSON_OPTION}`,
    run: keysList,
  },
  "keys show": {
    args: ["<key>"],
    summary: "One key and the audit records carrying it. Read-only. Exit 1 if unknown.",
    options: JSON_OPTION,
    run: keysShow,
  },
  "keys resolve": {
    args: ["<key>", "done|not_done"],
    summary:
      "Record a human's answer for a key whose outcome is unknown: done completes it\n" +
      "without running (its step is then reconciled, not run again); not_done lets it\n" +
      "run again. Recorded in the audit trail. Refused while an instance runs.",
    options: `${REASON_OPTION}${KEY_OPTION}${JSON_OPTION}`,
    run: (context) => {
      const verdict = context.args[1];
      if (verdict !== "done" && verdict !== "not_done") {
        throw new CommandUsageError(`the verdict must be done or not_done, got ${verdict}`);
      }
      return keysDecide(context, verdict);
    },
  },
  "keys reset": {
    args: ["<key>"],
    summary:
      "Clear a key on purpose (e.g. a failed one whose cause was fixed): its step may\n" +
      "run again. Recorded in the audit trail. Refused while an instance runs.",
    options: `${REASON_OPTION}${KEY_OPTION}${JSON_OPTION}`,
    run: (context) => keysDecide(context, "reset"),
  },
  "locks list": {
    args: [],
    summary: "Every lock with its holder's pid, liveness and age. Read-only.",
    options: JSON_OPTION,
    run: locksList,
  },
  "locks break": {
    args: ["<name>"],
    summary:
      "Remove a lock whose holder is dead (or that is stale). A live holder's lock is\n" +
      "never broken (exit 3). Refused while an instance runs, except for its own lock.",
    options: `  --if-dead              Required: break it only if the holder is dead\n${JSON_OPTION}`,
    run: locksBreak,
  },
  "store list": {
    args: [],
    summary: "The stores under stores/ and the file each would serve. Read-only.",
    options: JSON_OPTION,
    run: storeList,
  },
  "store show": {
    args: ["<name>"],
    summary:
      "A store's files (primary, bak, leftovers, quarantined) and their health, and the\n" +
      "state it would serve. Read-only. Exit 1 when the primary is not a valid file.",
    options: JSON_OPTION,
    run: storeShow,
  },
  "store restore": {
    args: ["<name>"],
    summary:
      "Write the bak's state back as the store's state (a damaged primary is\n" +
      "quarantined, a good one becomes the bak). Refused while an instance runs.",
    options: `  --from-bak             Required: restore from the bak\n${JSON_OPTION}`,
    run: storeRestore,
  },
  report: {
    args: [],
    summary:
      "Write the history as a timeline in one self-contained HTML file (no network, no\n" +
      "external assets): a row per step with its time, duration, outcome, action,\n" +
      "target, attempts and error, filters, and the chain's verification. Read-only.",
    options: `  --html FILE            Where to write it (required)\n${KEY_OPTION}`,
    run: report,
  },
});

const AUDIT_LINE =
  "  audit verify|tail|show|stats|repair|prune|start-signing [dataDir] ...\n" +
  "                         beauvoir-audit's commands on the data directory's audit/\n" +
  "                         (repair, prune and start-signing refused while an instance runs)\n";

const FOOTER = `
[dataDir] is the directory given to boot(); it may be left out when --data-dir DIR
or $BEAUVOIR_DATA_DIR names it. Read-only commands take no lock, write nothing,
and work while the bot runs.

Exit codes: 0 fine; 1 a problem found (damage, something that needs a human,
an unknown key, lock, store or record); 2 usage or I/O error; 3 refused (a live
instance holds the data directory, or a lock's holder is alive).
`;

/** The text of `beauvoir --help`. */
export const BEAUVOIR_USAGE = `Usage: beauvoir <command> [dataDir] [arguments] [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, spec]) => `  ${[name, "[dataDir]", ...spec.args].join(" ")}\n`)
  .join("")}${AUDIT_LINE}
Options: --json on every read command, --help after any command, --version.
${FOOTER}`;

/** The help of one command. */
function commandHelp(name: string): string {
  const spec = COMMANDS[name]!;
  return `Usage: beauvoir ${[name, "[dataDir]", ...spec.args].join(" ")} [options]\n\n${spec.summary}\n\nOptions:\n${spec.options}  -d, --data-dir DIR     The data directory (default $BEAUVOIR_DATA_DIR)\n  -h, --help             Show this help\n${FOOTER}`;
}

const OPTIONS = {
  ...AUDIT_CLI_OPTIONS,
  "data-dir": { type: "string", short: "d" },
  status: { type: "string" },
  reason: { type: "string" },
  "if-dead": { type: "boolean", default: false },
  "from-bak": { type: "boolean", default: false },
  html: { type: "string" },
} as const;

/**
 * Runs the `beauvoir` command line on a data directory laid out by `boot()`.
 * Everything printed from records, keys and paths has its control characters
 * escaped; errors are one line.
 * @param argv - the arguments after the program name.
 * @param io - streams, environment, version.
 * @returns the exit code (see {@link BeauvoirExitCode}).
 */
export async function runBeauvoir(argv: string[], io: BeauvoirCliIo): Promise<BeauvoirExitCode> {
  let values: BeauvoirValues;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: OPTIONS,
    });
    values = parsed.values as BeauvoirValues;
    positionals = parsed.positionals;
  } catch (error) {
    io.stderr.write(`beauvoir: ${printable(describeArgumentError(error))}\n\n${BEAUVOIR_USAGE}`);
    return 2;
  }
  if (values.version) {
    io.stdout.write(`${io.version}\n`);
    return 0;
  }
  const [group, sub] = positionals;
  if (group === undefined || group === "help") {
    if (values.help || group === "help") {
      io.stdout.write(BEAUVOIR_USAGE);
      return 0;
    }
    io.stderr.write(`beauvoir: no command given\n\n${BEAUVOIR_USAGE}`);
    return 2;
  }
  if (group === "audit") return runAudit(sub, positionals.slice(2), values, io);
  const name = Object.hasOwn(COMMANDS, group) ? group : `${group} ${sub ?? ""}`.trim();
  if (!Object.hasOwn(COMMANDS, name)) {
    io.stderr.write(`beauvoir: unknown command: ${printable(name)}\n\n${BEAUVOIR_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(commandHelp(name));
    return 0;
  }
  const spec = COMMANDS[name]!;
  const rest = positionals.slice(name.split(" ").length);
  return runWithContext(io, values, rest, spec.args.length, () => commandHelp(name), spec.run);
}

async function runAudit(
  command: string | undefined,
  rest: string[],
  values: BeauvoirValues,
  io: BeauvoirCliIo,
): Promise<BeauvoirExitCode> {
  if (command === undefined || !Object.hasOwn(AUDIT_SUBCOMMANDS, command)) {
    io.stderr.write(
      `beauvoir: ${command === undefined ? "audit needs a command" : `unknown command: audit ${printable(command)}`}\n\n${BEAUVOIR_USAGE}`,
    );
    return 2;
  }
  const help = () => auditHelp(command) ?? BEAUVOIR_USAGE;
  if (values.help) {
    io.stdout.write(help());
    return 0;
  }
  return runWithContext(io, values, rest, AUDIT_SUBCOMMANDS[command]!, help, (context) =>
    auditCommand(command, context),
  );
}

async function runWithContext(
  io: BeauvoirCliIo,
  values: BeauvoirValues,
  rest: string[],
  expected: number,
  help: () => string,
  run: (context: CommandContext) => Promise<BeauvoirExitCode>,
): Promise<BeauvoirExitCode> {
  try {
    const fs = io.fs ?? nodeFileSystem;
    let dataDir: string | undefined;
    let args = rest;
    if (rest.length === expected + 1) {
      [dataDir, ...args] = rest;
    } else if (rest.length === expected) {
      dataDir = values["data-dir"] || io.env.BEAUVOIR_DATA_DIR || undefined;
      if (dataDir === undefined) {
        throw new CommandUsageError(
          "no data directory: give it, or --data-dir, or $BEAUVOIR_DATA_DIR",
        );
      }
    } else {
      throw new CommandUsageError(
        `expected ${expected === 0 ? "only the data directory" : `${expected} argument(s) after the data directory`}, got ${rest.length} argument(s)`,
      );
    }
    const layout = await openDataDirectory(fs, dataDir!);
    const context: CommandContext = {
      io,
      fs,
      layout,
      args,
      values,
      now: io.now ?? Date.now,
      hmacKey: () => {
        const variable = values["hmac-key-env"];
        if (variable === undefined) return undefined;
        const key = io.env[variable];
        if (!key)
          throw new CommandUsageError(`environment variable ${variable} is not set or empty`);
        return key;
      },
    };
    return await run(context);
  } catch (error) {
    return reportFailure(io, error, help);
  }
}

function reportFailure(io: BeauvoirCliIo, error: unknown, help: () => string): BeauvoirExitCode {
  if (error instanceof CommandUsageError) {
    io.stderr.write(`beauvoir: ${printable(error.message)}\n\n${help()}`);
    return 2;
  }
  if (error instanceof NotFoundError) {
    io.stderr.write(`beauvoir: ${printable(error.message)}\n`);
    return 1;
  }
  if (error instanceof RefusedError) {
    io.stderr.write(`beauvoir: refused: ${printable(error.message)}\n`);
    return 3;
  }
  io.stderr.write(`beauvoir: ${describeCliFailure(error)}\n`);
  return 2;
}

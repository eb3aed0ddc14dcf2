import {
  AUDIT_WRITE_COMMANDS,
  type AuditCliIo,
  type AuditCliValues,
  auditCommandHelp,
  runAuditCommand,
} from "@beauvoir/audit-trail";
import type { BeauvoirCliIo, BeauvoirExitCode } from "./cli-io.js";
import type { BeauvoirValues, CommandContext } from "./command-context.js";
import { withInstanceLock } from "./data-directory.js";

/** The `beauvoir-audit` commands `beauvoir audit` runs, and the arguments each takes besides the path. */
export const AUDIT_SUBCOMMANDS: Readonly<Record<string, number>> = Object.freeze({
  verify: 0,
  tail: 0,
  show: 1,
  stats: 0,
  repair: 0,
  prune: 0,
  "start-signing": 0,
});

/** The help of `beauvoir audit <command>`: that of `beauvoir-audit <command>`. */
export function auditHelp(command: string): string | undefined {
  return auditCommandHelp(command)?.replace(
    `beauvoir-audit ${command} [options]`,
    `beauvoir audit ${command} [dataDir] [options]`,
  );
}

function auditIo(io: BeauvoirCliIo, fs: CommandContext["fs"]): AuditCliIo {
  return {
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env,
    fs,
    version: io.version,
    ...(io.signal ? { signal: io.signal } : {}),
    ...(io.now ? { now: io.now } : {}),
    ...(io.progressThresholdBytes === undefined
      ? {}
      : { progressThresholdBytes: io.progressThresholdBytes }),
  };
}

/**
 * `beauvoir audit <command>`: `beauvoir-audit`'s command on the data
 * directory's `audit/`. The commands that change the history (repair,
 * prune, start-signing) refuse while a live instance holds the data
 * directory and hold its instance lock while they work.
 */
export async function auditCommand(
  command: string,
  context: CommandContext,
): Promise<BeauvoirExitCode> {
  const { layout } = context;
  // beauvoir-audit's `show <seq> [path]`: the path goes last.
  const args =
    command === "show" ? [...context.args, layout.auditDir] : [layout.auditDir, ...context.args];
  const run = () =>
    runAuditCommand(
      command,
      args,
      context.values as BeauvoirValues & AuditCliValues,
      auditIo(context.io, context.fs),
      "beauvoir audit",
    );
  if (!AUDIT_WRITE_COMMANDS.includes(command)) return run();
  return withInstanceLock(context.fs, layout, run);
}

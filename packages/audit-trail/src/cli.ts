// The `beauvoir-audit` command: see `beauvoir-audit --help` and the README.
// `bin/beauvoir-audit.js` (committed, so installing links a file that exists)
// imports this module and calls `main`.
import { runCommandLine } from "@beauvoir/core";
import { runCli } from "./cli/run-cli.js";

/**
 * Runs `beauvoir-audit` on the process: its streams and environment, Ctrl-C
 * ending `tail --follow`; sets `process.exitCode`.
 * @param argv - the arguments after the program name.
 * @param version - what `--version` prints.
 */
export function main(argv: string[], version: string): Promise<void> {
  return runCommandLine("beauvoir-audit", (io) => runCli(argv, { ...io, version }));
}

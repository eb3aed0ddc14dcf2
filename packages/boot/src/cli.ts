// The `beauvoir` command: see `beauvoir --help` and the README.
// `bin/beauvoir.js` (committed, so installing links a file that exists)
// imports this module and calls `main`.
import { runCommandLine } from "@beauvoir/core";
import { runBeauvoir } from "./cli/run-beauvoir.js";

/**
 * Runs `beauvoir` on the process: its streams and environment, Ctrl-C
 * ending `audit tail --follow`; sets `process.exitCode`.
 * @param argv - the arguments after the program name.
 * @param version - what `--version` prints.
 */
export function main(argv: string[], version: string): Promise<void> {
  return runCommandLine("beauvoir", (io) => runBeauvoir(argv, { ...io, version }));
}

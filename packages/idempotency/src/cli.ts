// The `beauvoir-index` command (see `beauvoir-index --help` and the README).
// `bin/beauvoir-index.js` is the committed launcher that loads this file from dist.
import { runIndexCli } from "./cli/run-index-cli.js";

/**
 * Runs `beauvoir-index` on the process's streams and sets its exit code.
 * @param argv - the arguments after the program name.
 * @param version - the package version, for `--version`.
 * @returns once the command has finished.
 */
export async function main(argv: readonly string[], version: string): Promise<void> {
  process.exitCode = await runIndexCli(argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    version,
  });
}

// The `beauvoir-audit` command: see `beauvoir-audit --help` and the README.
// `bin/beauvoir-audit.js` (committed, so installing links a file that exists)
// imports this module and calls `main`.
import { runCli } from "./cli/run-cli.js";

/**
 * Runs `beauvoir-audit` on the process: its streams and environment, Ctrl-C
 * ending `tail --follow`; sets `process.exitCode`.
 * @param argv - the arguments after the program name.
 * @param version - what `--version` prints.
 */
export async function main(argv: string[], version: string): Promise<void> {
  const controller = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => controller.abort());
  }
  try {
    process.exitCode = await runCli(argv, {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      signal: controller.signal,
      version,
    });
  } catch (error) {
    process.stderr.write(`beauvoir-audit: ${String(error)}\n`);
    process.exitCode = 2;
  }
}

// The `beauvoir` command: see `beauvoir --help` and the README.
// `bin/beauvoir.js` (committed, so installing links a file that exists)
// imports this module and calls `main`.
import { runBeauvoir } from "./cli/run-beauvoir.js";

/**
 * Runs `beauvoir` on the process: its streams and environment, Ctrl-C
 * ending `audit tail --follow`; sets `process.exitCode`.
 * @param argv - the arguments after the program name.
 * @param version - what `--version` prints.
 */
export async function main(argv: string[], version: string): Promise<void> {
  const controller = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => controller.abort());
  }
  try {
    process.exitCode = await runBeauvoir(argv, {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      signal: controller.signal,
      version,
    });
  } catch (error) {
    process.stderr.write(`beauvoir: ${String(error)}\n`);
    process.exitCode = 2;
  }
}

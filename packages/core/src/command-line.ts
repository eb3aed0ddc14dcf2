/** What {@link runCommandLine} hands a command: the process's streams and environment, and a signal for Ctrl-C. */
export interface CommandLineProcess {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** Aborted by the first SIGINT or SIGTERM, so a command that waits (`tail --follow`) can end cleanly. */
  signal: AbortSignal;
}

/**
 * Runs a command-line program on the process, the one way every Beauvoir bin
 * does: the first SIGINT or SIGTERM aborts the command's signal instead of
 * killing the process, the command's answer becomes `process.exitCode`, and a
 * command that throws prints `<commandName>: <error>` on stderr and exits 2
 * (a usage or I/O error). The signal listeners are removed once the command
 * has finished.
 * @param commandName - the program's name, which prefixes an unexpected error.
 * @param command - the program: resolves with its exit code.
 * @returns once the command has finished and `process.exitCode` is set.
 * @example
 * ```ts
 * export function main(argv: string[], version: string): Promise<void> {
 *   return runCommandLine("beauvoir-audit", (io) => runCli(argv, { ...io, version }));
 * }
 * ```
 */
export async function runCommandLine(
  commandName: string,
  command: (io: CommandLineProcess) => Promise<number>,
): Promise<void> {
  const controller = new AbortController();
  const abort = () => controller.abort();
  const signals = ["SIGINT", "SIGTERM"] as const;
  for (const signal of signals) process.once(signal, abort);
  try {
    process.exitCode = await command({
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      signal: controller.signal,
    });
  } catch (error) {
    process.stderr.write(`${commandName}: ${String(error)}\n`);
    process.exitCode = 2;
  } finally {
    for (const signal of signals) process.removeListener(signal, abort);
  }
}

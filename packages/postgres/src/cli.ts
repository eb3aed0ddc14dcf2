// The `beauvoir-postgres` command: see `beauvoir-postgres --help` and the README.
import { runCli } from "./cli/run-cli.js";
import { postgresSessionSettings } from "./session-settings.js";

async function createPool(connectionString: string) {
  // pg is a peer dependency: the caller's copy, loaded only by the command line.
  const { default: pg } = await import("pg");
  const pool = new pg.Pool({ connectionString, max: 2, ...postgresSessionSettings() });
  pool.on("error", () => {});
  return pool;
}

runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  createPool,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`beauvoir-postgres: ${String(error)}\n`);
    process.exitCode = 2;
  },
);

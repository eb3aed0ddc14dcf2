#!/usr/bin/env node
// The `beauvoir-audit` command: see `beauvoir-audit --help` and the README.
import { runCli } from "./cli/run-cli.js";

const controller = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => controller.abort());
}
runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`beauvoir-audit: ${String(error)}\n`);
    process.exitCode = 2;
  },
);

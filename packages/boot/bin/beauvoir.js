#!/usr/bin/env node
// Launcher of the `beauvoir` command. It is committed (not built) so that
// installing the package on a fresh clone links a file that exists; the
// command itself is in dist, built by `pnpm build`.
import { readFileSync } from "node:fs";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
let cli;
try {
  cli = await import("../dist/cli.js");
} catch (error) {
  if (error?.code !== "ERR_MODULE_NOT_FOUND") throw error;
  process.stderr.write("beauvoir: the package is not built yet; run `pnpm build` first\n");
  process.exit(2);
}
await cli.main(process.argv.slice(2), version);

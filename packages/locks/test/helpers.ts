import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FaultyFileSystem } from "@beauvoir/core";

/** A fresh directory under the OS tmpdir, and a way to remove it. */
export async function makeTempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "beauvoir-locks-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A pid no test process has: kill(2) says ESRCH (pid_max is at most 2^22). */
export const DEAD_PID = 2 ** 22 + 12_345;

/** Bytes, mode and mtime of a file, to show it was not touched. */
export async function fingerprint(path: string) {
  const info = await stat(path);
  return { bytes: await readFile(path), mode: info.mode, mtimeMs: info.mtimeMs };
}

const READ_ONLY_OPERATIONS = new Set([
  "open",
  "handleReadFile",
  "handleStat",
  "close",
  "readdir",
  "stat",
  "readFile",
]);

/** The calls of `fs` that could change something on disk. */
export function changingCalls(fs: FaultyFileSystem): string[] {
  return fs.calls
    .filter((call) => !READ_ONLY_OPERATIONS.has(call.operation))
    .map((call) => `${call.operation} ${call.path}`);
}

import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FaultyFileSystem } from "@beauvoir/core";
import { afterEach, beforeEach } from "vitest";

/** A fresh directory under the OS tmpdir, and a way to remove it. */
export async function makeTempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "beauvoir-locks-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A fresh directory ({@link makeTempDir}) for each test of the file, removed
 * after the test.
 * @param onReady - receives the directory before each test.
 */
export function useTempDir(onReady: (dir: string) => void): void {
  let cleanup: () => Promise<void> = async () => {};
  beforeEach(async () => {
    const made = await makeTempDir();
    cleanup = made.cleanup;
    onReady(made.dir);
  });
  afterEach(() => cleanup());
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

/**
 * Mounts a fresh tmpfs of `sizeKiB` at a new directory, runs `body` with it,
 * and unmounts it whatever happens (the tests run as root). The mount can be
 * made read-only and writable again: root ignores a chmod of the directory.
 */
export async function withTmpfs<T>(
  sizeKiB: number,
  body: (mount: { dir: string; remount: (mode: "ro" | "rw") => void }) => Promise<T>,
): Promise<T> {
  const { execFileSync } = await import("node:child_process");
  const dir = await mkdtemp(join(tmpdir(), "beauvoir-locks-tmpfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeKiB}k,mode=0700`, "tmpfs", dir]);
  try {
    return await body({
      dir,
      remount: (mode) => execFileSync("mount", ["-o", `remount,${mode}`, dir]),
    });
  } finally {
    execFileSync("umount", [dir]);
    await rm(dir, { recursive: true, force: true });
  }
}

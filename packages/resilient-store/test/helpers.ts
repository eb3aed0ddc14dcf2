import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "@beauvoir/core";
import { afterEach, beforeEach } from "vitest";

/** A fresh directory under the OS tmpdir, and a function that removes it. */
export async function makeTempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "beauvoir-store-"));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A fresh directory ({@link makeTempDir}) for each test of the file, removed
 * after the test.
 * @param onReady - receives the directory before each test.
 */
export function useTempDir(onReady: (dir: string) => void): void {
  let remove: () => Promise<void> = async () => {};
  beforeEach(async () => {
    const made = await makeTempDir();
    remove = made.remove;
    onReady(made.dir);
  });
  afterEach(() => remove());
}

/** One line a {@link RecordingLogger} received. */
export interface LogEntry {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  data: Record<string, unknown> | undefined;
}

/** A logger that keeps what it receives. */
export class RecordingLogger implements Logger {
  readonly entries: LogEntry[] = [];
  debug(message: string, data?: Record<string, unknown>): void {
    this.entries.push({ level: "debug", message, data });
  }
  info(message: string, data?: Record<string, unknown>): void {
    this.entries.push({ level: "info", message, data });
  }
  warn(message: string, data?: Record<string, unknown>): void {
    this.entries.push({ level: "warn", message, data });
  }
  error(message: string, data?: Record<string, unknown>): void {
    this.entries.push({ level: "error", message, data });
  }
  messages(level: LogEntry["level"]): string[] {
    return this.entries.filter((entry) => entry.level === level).map((entry) => entry.message);
  }
}

/** Sorted entry names of a directory. */
export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** The bytes of a file, or null when it does not exist. */
export async function readOrNull(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** Writes a store file by hand, as another program (or an older version) would. */
export async function writeStoreFile(
  file: string,
  state: Record<string, unknown>,
  meta: { schemaVersion?: number; writeEpoch?: number } = {},
): Promise<void> {
  const content = {
    ...state,
    ...(meta.schemaVersion === undefined ? {} : { _schemaVersion: meta.schemaVersion }),
    ...(meta.writeEpoch === undefined ? {} : { _writeEpoch: meta.writeEpoch }),
  };
  await writeFile(file, JSON.stringify(content, null, 2), { mode: 0o600 });
}

/** The parsed JSON of a file. */
export async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
}

/**
 * Mounts a fresh tmpfs of `sizeKiB` at a new directory, runs `body` with it,
 * and unmounts it whatever happens (the tests run as root). `remountReadOnly`
 * turns it read-only for real: root ignores a chmod of the directory.
 */
export async function withTmpfs<T>(
  sizeKiB: number,
  body: (mount: { dir: string; remountReadOnly: () => void }) => Promise<T>,
): Promise<T> {
  const { execFileSync } = await import("node:child_process");
  const dir = await mkdtemp(join(tmpdir(), "beauvoir-store-tmpfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeKiB}k,mode=0700`, "tmpfs", dir]);
  try {
    return await body({
      dir,
      remountReadOnly: () => execFileSync("mount", ["-o", "remount,ro", dir]),
    });
  } finally {
    execFileSync("umount", [dir]);
    await rm(dir, { recursive: true, force: true });
  }
}

import { constants } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FileHandleLike, type FileSystem, type Logger, nodeFileSystem } from "@beauvoir/core";

/** Whether `open` flags (string or numeric) open for appending. */
export function opensForAppend(flags: string | number): boolean {
  return typeof flags === "number" ? (flags & constants.O_APPEND) !== 0 : flags.startsWith("a");
}

import type { AuditRedactor } from "../options.js";

/** A redactor that changes nothing, for tests about something else. */
export const keepEverything: AuditRedactor = { redactAny: (value) => value };

/** A fresh directory under the OS temp dir; remove it with the returned function. */
export async function makeTempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "beauvoir-audit-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A logger that keeps what it is given. */
export function recordingLogger(): Logger & {
  entries: { level: string; message: string; data?: Record<string, unknown> }[];
} {
  const entries: { level: string; message: string; data?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, data?: Record<string, unknown>) => {
    entries.push({ level, message, ...(data ? { data } : {}) });
  };
  return { entries, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** Hooks of {@link instrumentedFs}: return an error to throw it, or a number of bytes to write fewer. */
export interface FsHooks {
  write?: (bytes: number, call: number) => Error | { bytesWritten: number } | undefined;
  sync?: (call: number) => Error | undefined;
  truncate?: (length: number) => Error | undefined;
  rename?: (from: string, to: string) => Error | undefined;
  fsyncDirectory?: (path: string) => Error | undefined;
  open?: (path: string, flags: string | number) => Error | undefined;
  readFile?: (path: string) => Error | undefined;
  readdir?: (path: string) => Error | undefined;
  mkdir?: (path: string) => Error | undefined;
  link?: (existingPath: string, newPath: string) => Error | undefined;
  unlink?: (path: string) => Error | undefined;
  /** Delay each sync, to let callers pile up behind it. */
  syncDelayMs?: number;
}

/** The real filesystem with a log of calls and optional faults. */
export function instrumentedFs(hooks: FsHooks = {}): FileSystem & { log: string[] } {
  const log: string[] = [];
  let writes = 0;
  let syncs = 0;
  const fail = (error: Error | undefined) => {
    if (error) throw error;
  };
  const wrap = (handle: FileHandleLike): FileHandleLike => ({
    async write(buffer, offset = 0, length = buffer.length - offset, position) {
      const verdict = hooks.write?.(length, ++writes);
      if (verdict instanceof Error) {
        log.push(`write-failed:${length}`);
        throw verdict;
      }
      const allowed = verdict ? Math.min(verdict.bytesWritten, length) : length;
      const result = await handle.write(buffer, offset, allowed, position);
      log.push(`write:${result.bytesWritten}`);
      return result;
    },
    async sync() {
      const call = ++syncs;
      if (hooks.syncDelayMs) await new Promise((resolve) => setTimeout(resolve, hooks.syncDelayMs));
      fail(hooks.sync?.(call));
      await handle.sync();
      log.push("sync");
    },
    async truncate(length) {
      fail(hooks.truncate?.(length ?? 0));
      log.push(`truncate:${length}`);
      return handle.truncate(length);
    },
    stat: () => handle.stat(),
    readFile: () => handle.readFile(),
    async close() {
      log.push("close");
      return handle.close();
    },
  });
  return {
    log,
    async open(path, flags, mode) {
      fail(hooks.open?.(path, flags));
      log.push(`open:${path}`);
      return wrap(await nodeFileSystem.open(path, flags, mode));
    },
    async readFile(path) {
      fail(hooks.readFile?.(path));
      log.push(`readFile:${path}`);
      return nodeFileSystem.readFile(path);
    },
    async rename(from, to) {
      fail(hooks.rename?.(from, to));
      log.push(`rename:${from}->${to}`);
      return nodeFileSystem.rename(from, to);
    },
    async link(existingPath, newPath) {
      fail(hooks.link?.(existingPath, newPath));
      log.push(`link:${existingPath}->${newPath}`);
      return nodeFileSystem.link(existingPath, newPath);
    },
    async unlink(path) {
      fail(hooks.unlink?.(path));
      log.push(`unlink:${path}`);
      return nodeFileSystem.unlink(path);
    },
    async readdir(path) {
      fail(hooks.readdir?.(path));
      return nodeFileSystem.readdir(path);
    },
    stat: (path) => nodeFileSystem.stat(path),
    async mkdir(path, options) {
      fail(hooks.mkdir?.(path));
      log.push(`mkdir:${path}`);
      return nodeFileSystem.mkdir(path, options);
    },
    async fsyncDirectory(path) {
      fail(hooks.fsyncDirectory?.(path));
      log.push(`fsyncDirectory:${path}`);
      return nodeFileSystem.fsyncDirectory(path);
    },
  };
}

/** An errno-style error, as node:fs throws. */
export function errno(code: string, message = code): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/** The records of a JSONL file, parsed. */
export async function readRecordsOf(path: string): Promise<Record<string, unknown>[]> {
  const { readFile } = await import("node:fs/promises");
  const text = await readFile(path, "utf8");
  return text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Lets pending promise callbacks and I/O callbacks run. */
export function settle(ms = 0): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

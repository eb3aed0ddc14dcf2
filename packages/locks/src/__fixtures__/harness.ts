import { constants } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Clock,
  type FileSystem,
  type Logger,
  nodeFileSystem,
  systemClock,
} from "@beauvoir/core";

/** The bits of `open` flags that say read-only, write-only or both (O_ACCMODE, which node does not export). */
const ACCESS_MODE = 0b11;

/** A fresh directory under the OS tmpdir, and a way to remove it. */
export async function makeTempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "beauvoir-locks-unit-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** One logged line. */
export interface LogEntry {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  data: Record<string, unknown>;
}

/** A logger that keeps what it is given. */
export function recordingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry["level"]) =>
    (message: string, data: Record<string, unknown> = {}) => {
      entries.push({ level, message, data });
    };
  return { entries, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** The real clock shifted by `offsetMs` (mtimes stay real; ages grow). */
export function shiftedClock(offsetMs: () => number): Clock {
  return { ...systemClock, now: () => Date.now() + offsetMs() };
}

/** An errno-style error, as node:fs throws. */
export function errnoError(code: string, message = code): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/**
 * The real filesystem with some calls replaced. The manager reads whole files
 * by opening them read-only (never through a link) and reading the handle; a
 * `readFile` override is called for those reads too, after the real open.
 */
export function faultyFileSystem(overrides: Partial<FileSystem>): FileSystem {
  const fs: FileSystem = { ...nodeFileSystem, ...overrides };
  const { readFile } = overrides;
  if (!readFile) return fs;
  return {
    ...fs,
    async open(path, flags, mode) {
      const handle = await fs.open(path, flags, mode);
      const readOnly = typeof flags === "number" && (flags & ACCESS_MODE) === constants.O_RDONLY;
      if (!readOnly) return handle;
      return {
        write: (...args) => handle.write(...args),
        sync: () => handle.sync(),
        truncate: (length) => handle.truncate(length),
        stat: () => handle.stat(),
        readFile: () => readFile(path),
        close: () => handle.close(),
      };
    },
  };
}

/** Whether `open` flags open a file for reading and writing (what renewal does). */
export function opensForUpdate(flags: string | number): boolean {
  return typeof flags === "number" && (flags & ACCESS_MODE) === constants.O_RDWR;
}

/** Whether `open` flags create a file (what an acquisition does with its record). */
export function opensToCreate(flags: string | number): boolean {
  return typeof flags === "number" && (flags & constants.O_CREAT) !== 0;
}

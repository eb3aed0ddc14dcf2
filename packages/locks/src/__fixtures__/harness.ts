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

/** The real filesystem with some calls replaced. */
export function faultyFileSystem(overrides: Partial<FileSystem>): FileSystem {
  return { ...nodeFileSystem, ...overrides };
}

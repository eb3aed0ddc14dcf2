import type { FileSystem } from "@beauvoir/core";

/** A stream the command writes to; `isTTY` decides whether a progress bar is drawn. */
export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean | undefined;
}

/** Where `beauvoir` reads and writes: `process` in the bin, fakes in tests. */
export interface BeauvoirCliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  env: Record<string, string | undefined>;
  /** What `--version` prints. */
  version: string;
  /** Stops `audit tail --follow`. */
  signal?: AbortSignal | undefined;
  /** @default nodeFileSystem */
  fs?: FileSystem | undefined;
  /** The time ages are counted from. @default Date.now */
  now?: (() => number) | undefined;
  /** Inputs smaller than this get no progress bar. @default 8 MiB */
  progressThresholdBytes?: number | undefined;
}

/**
 * Exit codes of `beauvoir`: 0 fine; 1 a problem found (damage, a key, lock,
 * store or record that does not exist, something that needs a human in
 * `status`); 2 usage or I/O error; 3 refused: a live instance holds the data
 * directory (a command that changes state), or a lock's holder is alive.
 */
export type BeauvoirExitCode = 0 | 1 | 2 | 3;

/** Exit code 3: the command would change state under a live instance (or break a live holder's lock). */
export class RefusedError extends Error {}

/** Exit code 1: what was asked for does not exist, or is not in a state the command can act on. */
export class NotFoundError extends Error {}

/** Exit code 2, with the command's help: the command was not typed right. */
export class CommandUsageError extends Error {}

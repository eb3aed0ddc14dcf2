import { posix } from "node:path";
import { type Clock, systemClock } from "./clock.js";
import type { CrashStateFileSystem } from "./crash-state-file-system.js";
import type { FileSystemCall } from "./faulty-file-system.js";

/** Options of {@link createCrashStateFileSystem}. */
export interface CrashStateFileSystemOptions {
  /**
   * Source of the mtimes. Pass the clock the code under test uses (a
   * `ManualClock` for a run that is the same every time).
   * @default systemClock
   */
  clock?: Clock | undefined;
  /** Directory relative paths are resolved from. @default "/" */
  cwd?: string | undefined;
  /**
   * Largest number of bytes one `write` accepts; a longer write is a short
   * write (it reports the bytes it took), as a real disk may give.
   * @default Infinity
   */
  maxBytesPerWrite?: number | undefined;
  /**
   * Lets the first N calls through, then loses power: call N + 1 and every
   * later one fail with code `SIMULATED_CRASH` and change nothing.
   * @default Infinity (never)
   */
  crashAfterCalls?: number | undefined;
  /**
   * Called after each call took effect, before its promise settles (also
   * for a call that failed), with the call and the filesystem. The crash
   * explorer captures a crash state here.
   * @default none
   */
  onCall?: ((call: FileSystemCall, fileSystem: CrashStateFileSystem) => void) | undefined;
}

/** The options of {@link CrashStateFileSystemOptions} an exploration passes on to its filesystems. */
export type CrashFileSystemFactoryOptions = Pick<
  CrashStateFileSystemOptions,
  "clock" | "cwd" | "maxBytesPerWrite"
>;

/** @internal {@link CrashStateFileSystemOptions} with their defaults applied, checked. */
export interface ResolvedOptions {
  readonly clock: Clock;
  readonly cwd: string;
  readonly maxBytesPerWrite: number;
  readonly crashAfterCalls: number;
  readonly onCall: CrashStateFileSystemOptions["onCall"];
}

/**
 * @internal Applies the defaults and checks each option.
 * @param options - what the caller passed.
 * @returns the options to run with.
 * @throws TypeError or RangeError naming a bad option.
 */
export function resolveOptions(options: CrashStateFileSystemOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("options must be an object");
  }
  const cwd = options.cwd ?? "/";
  if (typeof cwd !== "string" || !cwd.startsWith("/")) {
    throw new TypeError(`cwd must be an absolute path, got ${String(cwd)}`);
  }
  const maxBytesPerWrite = options.maxBytesPerWrite ?? Number.POSITIVE_INFINITY;
  if (typeof maxBytesPerWrite !== "number" || !(maxBytesPerWrite >= 1)) {
    throw new RangeError(`maxBytesPerWrite must be at least 1, got ${String(maxBytesPerWrite)}`);
  }
  const crashAfterCalls = options.crashAfterCalls ?? Number.POSITIVE_INFINITY;
  if (typeof crashAfterCalls !== "number" || !(crashAfterCalls >= 0)) {
    throw new RangeError(`crashAfterCalls must be a number >= 0, got ${String(crashAfterCalls)}`);
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock?.now !== "function") throw new TypeError("clock must have a now() method");
  if (options.onCall !== undefined && typeof options.onCall !== "function") {
    throw new TypeError("onCall must be a function");
  }
  return {
    clock,
    cwd: posix.resolve(cwd),
    maxBytesPerWrite: Math.floor(maxBytesPerWrite),
    crashAfterCalls,
    onCall: options.onCall,
  };
}

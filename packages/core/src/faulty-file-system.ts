import { constants } from "node:os";
import { type FileHandleLike, type FileSystem, nodeFileSystem } from "./file-system.js";

/** A call on a {@link FileSystem} or on a handle it opened. */
export type FileSystemOperation =
  | "open"
  | "readFile"
  | "rename"
  | "link"
  | "unlink"
  | "readdir"
  | "stat"
  | "mkdir"
  | "fsyncDirectory"
  | "write"
  | "sync"
  | "truncate"
  | "handleStat"
  | "handleReadFile"
  | "close";

/** One call seen by a {@link FaultyFileSystem}, in the order made. */
export interface FileSystemCall {
  /** Position among all calls, from 1. */
  readonly index: number;
  readonly operation: FileSystemOperation;
  /** The path; for handle calls, the path the handle was opened with. */
  readonly path: string;
  /** For `rename` and `link`, the destination. */
  readonly destination?: string;
}

/**
 * What to do to one call:
 * - `{ error: "ENOSPC" }` fails it with a Node-style system error of that code,
 *   without performing it;
 * - `{ shortWrite: n }` (for `write`) writes at most `n` bytes and reports so,
 *   as a real short write does;
 * - `{ crash: true }` simulates the death of the process before the call: it
 *   and every later call fail with code `SIMULATED_CRASH` and reach nothing.
 */
export type Fault =
  | { readonly error: string }
  | { readonly shortWrite: number }
  | { readonly crash: true };

/** Options of {@link createFaultyFileSystem}. */
export interface FaultyFileSystemOptions {
  /** The filesystem that performs the calls that are let through. @default nodeFileSystem */
  base?: FileSystem | undefined;
  /**
   * Lets the first N calls through, then crashes: call N + 1 and every later
   * one fail with `SIMULATED_CRASH`. `0` crashes on the first call.
   * @default Infinity (never)
   */
  crashAfterCalls?: number | undefined;
  /** Decides a fault per call; return undefined to let it through. @default no faults */
  inject?: ((call: FileSystemCall) => Fault | undefined) | undefined;
}

/** A {@link FileSystem} that records its calls and fails the ones it is told to. */
export interface FaultyFileSystem extends FileSystem {
  /** Every call attempted so far, faulted or not. */
  readonly calls: readonly FileSystemCall[];
  /** Whether the simulated crash has happened. */
  readonly crashed: boolean;
  /** Crashes now: every later call fails with `SIMULATED_CRASH`. */
  crash(): void;
}

/** The `code` of the errors a simulated crash throws. */
export const SIMULATED_CRASH = "SIMULATED_CRASH";

function systemError(code: string, operation: FileSystemOperation, path: string): Error {
  const errno = (constants.errno as Record<string, number | undefined>)[code];
  return Object.assign(new Error(`${code}: injected fault, ${operation} '${path}'`), {
    code,
    errno: errno === undefined ? undefined : -errno,
    syscall: operation,
    path,
  });
}

/**
 * Wraps a {@link FileSystem} so tests can make chosen calls fail (ENOSPC, EIO,
 * EACCES…), write short, or simulate a crash between any two calls, without
 * patching `node:fs`. Pass it as the `fs` option of a store (or of any
 * Beauvoir package that takes one); after a simulated crash, open the same
 * files with a fresh store on the real filesystem to see what survived.
 *
 * @param options - the base filesystem, a crash point, and a per-call fault rule.
 * @returns the faulty filesystem, with its call log.
 * @example
 * ```ts
 * import { createFaultyFileSystem } from "@beauvoir/core";
 * import { ResilientJsonStore } from "@beauvoir/resilient-store";
 *
 * // The disk is full when the store opens its tmp file.
 * const fs = createFaultyFileSystem({
 *   inject: (call) => (call.operation === "open" ? { error: "ENOSPC" } : undefined),
 * });
 * const store = new ResilientJsonStore({ path, fs });
 * await store.set({ a: 1 }); // rejects with STORE_WRITE_FAILED; the files are untouched
 * ```
 */
export function createFaultyFileSystem(options: FaultyFileSystemOptions = {}): FaultyFileSystem {
  const base = options.base ?? nodeFileSystem;
  const crashAfterCalls = options.crashAfterCalls ?? Number.POSITIVE_INFINITY;
  const calls: FileSystemCall[] = [];
  let crashed = false;

  /** Records a call and returns its fault, throwing for errors and crashes. */
  const enter = (
    operation: FileSystemOperation,
    path: string,
    destination?: string,
  ): Fault | undefined => {
    const call: FileSystemCall = {
      index: calls.length + 1,
      operation,
      path,
      ...(destination === undefined ? {} : { destination }),
    };
    calls.push(call);
    if (!crashed && call.index > crashAfterCalls) crashed = true;
    let fault = crashed ? undefined : options.inject?.(call);
    if (fault && "crash" in fault) {
      crashed = true;
      fault = undefined;
    }
    if (crashed) {
      throw Object.assign(new Error(`simulated crash before ${operation} '${path}'`), {
        code: SIMULATED_CRASH,
      });
    }
    if (fault && "error" in fault) throw systemError(fault.error, operation, path);
    return fault;
  };

  const wrapHandle = (handle: FileHandleLike, path: string): FileHandleLike => ({
    async write(buffer, offset = 0, length = buffer.byteLength - offset, position) {
      const fault = enter("write", path);
      const allowed =
        fault && "shortWrite" in fault ? Math.min(length, Math.max(0, fault.shortWrite)) : length;
      return handle.write(buffer, offset, allowed, position);
    },
    async sync() {
      enter("sync", path);
      return handle.sync();
    },
    async truncate(length) {
      enter("truncate", path);
      return handle.truncate(length);
    },
    async stat() {
      enter("handleStat", path);
      return handle.stat();
    },
    async readFile() {
      enter("handleReadFile", path);
      return handle.readFile();
    },
    async close() {
      try {
        enter("close", path);
      } catch (error) {
        // A dead process's descriptors are closed by the kernel, and Linux
        // releases a descriptor even when close() reports an error.
        await handle.close().catch(() => {});
        throw error;
      }
      return handle.close();
    },
  });

  return {
    get calls() {
      return calls;
    },
    get crashed() {
      return crashed;
    },
    crash() {
      crashed = true;
    },
    async open(path, flags, mode) {
      enter("open", path);
      return wrapHandle(await base.open(path, flags, mode), path);
    },
    async readFile(path) {
      enter("readFile", path);
      return base.readFile(path);
    },
    async rename(from, to) {
      enter("rename", from, to);
      return base.rename(from, to);
    },
    async link(existingPath, newPath) {
      enter("link", existingPath, newPath);
      return base.link(existingPath, newPath);
    },
    async unlink(path) {
      enter("unlink", path);
      return base.unlink(path);
    },
    async readdir(path) {
      enter("readdir", path);
      return base.readdir(path);
    },
    async stat(path) {
      enter("stat", path);
      return base.stat(path);
    },
    async mkdir(path, mkdirOptions) {
      enter("mkdir", path);
      return base.mkdir(path, mkdirOptions);
    },
    async fsyncDirectory(path) {
      enter("fsyncDirectory", path);
      return base.fsyncDirectory(path);
    },
  };
}

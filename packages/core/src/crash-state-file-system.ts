import type { CrashImage, CrashImageOptions, CrashState } from "./crash-state-capture.js";
import { CrashStateFileSystemImplementation } from "./crash-state-file-system-implementation.js";
import type { CrashStateFileHandle, CrashStateStats } from "./crash-state-handle.js";
import type { PendingOperation } from "./crash-state-operations.js";
import { type CrashStateFileSystemOptions, resolveOptions } from "./crash-state-options.js";
import { type CrashStateEntry, FileTree } from "./crash-state-tree.js";
import type { FileSystemCall } from "./faulty-file-system.js";
import type { FileSystem } from "./file-system.js";

export type {
  CrashFileSystemFactoryOptions,
  CrashStateFileSystemOptions,
} from "./crash-state-options.js";

/**
 * An in-memory {@link FileSystem} that knows what a power cut would keep.
 *
 * It holds two layers. The **page-cache layer** is what the running program
 * sees: every call behaves as on Linux (errors with Node's `code`, `errno`,
 * `syscall`, `path`). The **durable layer** is what the disk holds: a file's
 * data reaches it only through that file's `sync()` (or an `O_SYNC` write),
 * and a create, mkdir, link, unlink or rename only through an
 * `fsyncDirectory()` of the directory holding the entry (of both
 * directories, for a rename across two). A file's `sync()` does not make its
 * name durable, and a directory made by `mkdir` is durable only once its
 * parent is fsynced. Between the two layers sit the pending operations;
 * crash images are the durable layer plus some of them (see {@link CrashState}).
 *
 * Not modelled: permissions and ownership (every call runs as root), link
 * counts, `..` entries, free space, ext4's `auto_da_alloc` flushes on rename
 * and truncate, and writes reaching the disk out of order within one file.
 */
export interface CrashStateFileSystem extends FileSystem {
  open(path: string, flags: string | number, mode?: number): Promise<CrashStateFileHandle>;
  stat(path: string): Promise<CrashStateStats>;
  /** Every call made so far, in order (numbered from 1), failed ones included. */
  readonly calls: readonly FileSystemCall[];
  /** Whether the simulated power loss happened. */
  readonly crashed: boolean;
  /** Loses power now: every later call fails with `SIMULATED_CRASH`. */
  crash(): void;
  /** The operations the page cache holds and the disk does not, in the order they were made. */
  readonly pendingOperations: readonly PendingOperation[];
  /** A frozen copy of both layers, from which crash images are made. */
  captureCrashState(): CrashState<CrashStateFileSystem>;
  /** Shorthand for `captureCrashState().images(options)`. */
  crashImages(options?: CrashImageOptions): CrashImage<CrashStateFileSystem>[];
  /** A fresh filesystem holding only the durable layer: a power cut where nothing pending survived. */
  durableImage(): CrashStateFileSystem;
  /** Makes everything durable, as `sync(1)` followed by an fsync of every directory. Not a call. */
  syncAll(): void;
  /**
   * Creates a symbolic link at `path` pointing to `target`, in both layers
   * at once (test set-up, not a call): the filesystem calls never create
   * links, but they follow them, and `O_NOFOLLOW` refuses them with `ELOOP`.
   * @throws EEXIST when `path` exists; ENOENT when its directory is not durable yet.
   */
  plantSymlink(path: string, target: string): void;
  /** What the running program sees: every reachable entry, sorted. */
  entries(): CrashStateEntry[];
}

/**
 * Creates an empty crash-state filesystem (a root directory, durable).
 * @param options - clock, working directory, short writes, a power-loss point and a call hook.
 * @returns the filesystem.
 * @example
 * ```ts
 * const fs = createCrashStateFileSystem();
 * await fs.mkdir("/data", { recursive: true });
 * const file = await fs.open("/data/x", "wx");
 * await file.write(Buffer.from("hello"));
 * await file.sync();
 * await file.close();
 * fs.durableImage().entries(); // []: neither /data nor /data/x is in its directory yet
 * await fs.fsyncDirectory("/");
 * await fs.fsyncDirectory("/data");
 * fs.durableImage().entries(); // /data, and /data/x holding "hello"
 * ```
 */
export function createCrashStateFileSystem(
  options: CrashStateFileSystemOptions = {},
): CrashStateFileSystem {
  const resolved = resolveOptions(options);
  return new CrashStateFileSystemImplementation(
    resolved,
    new FileTree(undefined, resolved.clock.now()),
  );
}

import { posix } from "node:path";
import { type Clock, systemClock } from "./clock.js";
import { type CrashImage, type CrashImageOptions, CrashState } from "./crash-state-capture.js";
import { crashedError, systemError } from "./crash-state-errors.js";
import {
  CrashStateFileHandle,
  type CrashStateStats,
  type HandleHost,
  statsOf,
} from "./crash-state-handle.js";
import { DurabilityLayers } from "./crash-state-layers.js";
import { parseOpenFlags } from "./crash-state-open-flags.js";
import type { PendingOperation } from "./crash-state-operations.js";
import {
  type CrashStateEntry,
  FileTree,
  type Inode,
  type Resolution,
  splitPath,
} from "./crash-state-tree.js";
import type { FileSystemCall, FileSystemOperation } from "./faulty-file-system.js";
import type { FileSystem } from "./file-system.js";

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

interface ResolvedOptions {
  readonly clock: Clock;
  readonly cwd: string;
  readonly maxBytesPerWrite: number;
  readonly crashAfterCalls: number;
  readonly onCall: CrashStateFileSystemOptions["onCall"];
}

function resolveOptions(options: CrashStateFileSystemOptions): ResolvedOptions {
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

/** A path written with a trailing slash names a directory. */
const hasTrailingSlash = (path: string): boolean => path.length > 1 && path.endsWith("/");

class CrashStateFileSystemImplementation implements CrashStateFileSystem, HandleHost {
  readonly #options: ResolvedOptions;
  readonly #layers: DurabilityLayers;
  /** What the running program sees (the layers' page cache). */
  readonly #live: FileTree;
  readonly #calls: FileSystemCall[] = [];
  #crashed = false;

  constructor(options: ResolvedOptions, tree: FileTree) {
    this.#options = options;
    this.#layers = new DurabilityLayers(tree, () => options.clock.now());
    this.#live = this.#layers.live;
  }

  get maxBytesPerWrite(): number {
    return this.#options.maxBytesPerWrite;
  }

  get calls(): readonly FileSystemCall[] {
    return this.#calls;
  }

  get crashed(): boolean {
    return this.#crashed;
  }

  get pendingOperations(): readonly PendingOperation[] {
    return [...this.#layers.pending];
  }

  crash(): void {
    this.#crashed = true;
  }

  // ------------------------------------------------------------ the calls

  call<T>(operation: FileSystemOperation, path: string, body: () => T, destination?: string): T {
    const call: FileSystemCall = {
      index: this.#calls.length + 1,
      operation,
      path,
      ...(destination === undefined ? {} : { destination }),
    };
    this.#calls.push(call);
    if (call.index > this.#options.crashAfterCalls) this.#crashed = true;
    if (this.#crashed) throw crashedError(operation, path);
    try {
      return body();
    } finally {
      this.#options.onCall?.(call, this);
    }
  }

  async open(path: string, flags: string | number, mode = 0o666): Promise<CrashStateFileHandle> {
    const parsed = parseOpenFlags(flags);
    return this.call("open", path, () => {
      const absolute = this.#absolute(path);
      const exclusive = parsed.create && parsed.exclusive;
      const found = this.#live.resolve(absolute, !exclusive && !parsed.noFollow, "open", path);
      let inode = found.inode;
      if (inode !== undefined) {
        if (exclusive) throw systemError("EEXIST", "open", path);
        const node = this.#live.get(inode);
        if (node.kind === "symlink") throw systemError("ELOOP", "open", path);
        if (node.kind === "directory") {
          if (parsed.writable || parsed.truncate || parsed.create) {
            throw systemError("EISDIR", "open", path);
          }
        } else {
          if (parsed.directory || hasTrailingSlash(path))
            throw systemError("ENOTDIR", "open", path);
          if (parsed.truncate && node.data.length > 0) this.truncate(inode, 0, found.path);
        }
      } else {
        if (!parsed.create) throw systemError("ENOENT", "open", path);
        if (hasTrailingSlash(path)) throw systemError("EISDIR", "open", path);
        inode = this.#layers.allocate({
          kind: "file",
          data: Buffer.alloc(0),
          mode: mode & 0o7777,
          mtimeMs: this.#now(),
        });
        this.#layers.changeEntries(
          "create",
          [{ directory: found.parent, name: found.name, inode }],
          `create ${found.path}`,
        );
      }
      return new CrashStateFileHandle(this, inode, path, parsed);
    });
  }

  async readFile(path: string): Promise<Buffer> {
    return this.call("readFile", path, () => {
      const node = this.#existing(path, true, "open");
      // A symbolic link was followed, so what is left is a file or a directory.
      if (node.kind !== "file") throw systemError("EISDIR", "read");
      return Buffer.from(node.data);
    });
  }

  async rename(from: string, to: string): Promise<void> {
    return this.#twoPathCall("rename", from, to, (source, target, fail) => {
      if (source.name === "" || target.name === "") throw fail("EBUSY");
      if (source.inode === target.inode) return;
      const sourceNode = this.#live.get(source.inode);
      const targetNode = target.inode === undefined ? undefined : this.#live.get(target.inode);
      if (sourceNode.kind === "directory") {
        if (targetNode && targetNode.kind !== "directory") throw fail("ENOTDIR");
        if (targetNode?.kind === "directory" && targetNode.entries.size > 0) {
          throw fail("ENOTEMPTY");
        }
        if (target.path.startsWith(`${source.path}/`)) throw fail("EINVAL");
      } else if (targetNode?.kind === "directory") {
        throw fail("EISDIR");
      }
      this.#layers.changeEntries(
        "rename",
        [
          { directory: target.parent, name: target.name, inode: source.inode },
          { directory: source.parent, name: source.name, inode: null },
        ],
        `rename ${source.path} -> ${target.path}`,
      );
    });
  }

  async link(existingPath: string, newPath: string): Promise<void> {
    return this.#twoPathCall("link", existingPath, newPath, (source, target, fail) => {
      if (this.#live.get(source.inode).kind === "directory") throw fail("EPERM");
      if (target.inode !== undefined) throw fail("EEXIST");
      this.#layers.changeEntries(
        "link",
        [{ directory: target.parent, name: target.name, inode: source.inode }],
        `link ${source.path} -> ${target.path}`,
      );
    });
  }

  async unlink(path: string): Promise<void> {
    return this.call("unlink", path, () => {
      const found = this.#live.resolve(this.#absolute(path), false, "unlink", path);
      if (found.inode === undefined) throw systemError("ENOENT", "unlink", path);
      if (this.#live.get(found.inode).kind === "directory")
        throw systemError("EISDIR", "unlink", path);
      this.#layers.changeEntries(
        "unlink",
        [{ directory: found.parent, name: found.name, inode: null }],
        `unlink ${found.path}`,
      );
    });
  }

  async readdir(path: string): Promise<string[]> {
    return this.call("readdir", path, () => {
      const node = this.#existing(path, true, "scandir");
      if (node.kind !== "directory") throw systemError("ENOTDIR", "scandir", path);
      return [...node.entries.keys()].sort();
    });
  }

  async stat(path: string): Promise<CrashStateStats> {
    return this.call("stat", path, () => {
      const found = this.#live.resolve(this.#absolute(path), true, "stat", path);
      if (found.inode === undefined) throw systemError("ENOENT", "stat", path);
      const node = this.#live.get(found.inode);
      if (hasTrailingSlash(path) && node.kind !== "directory") {
        throw systemError("ENOTDIR", "stat", path);
      }
      return statsOf(found.inode, node);
    });
  }

  async mkdir(
    path: string,
    options: { recursive?: boolean; mode?: number } = {},
  ): Promise<string | undefined> {
    return this.call("mkdir", path, () => {
      const mode = (options.mode ?? 0o777) & 0o7777;
      const absolute = this.#absolute(path);
      if (!options.recursive) {
        const found = this.#live.resolve(absolute, false, "mkdir", path);
        if (found.inode !== undefined) throw systemError("EEXIST", "mkdir", path);
        this.#makeDirectory(found, mode);
        return undefined;
      }
      let first: string | undefined;
      const names = splitPath(absolute);
      for (let depth = 1; depth <= names.length; depth++) {
        const level = `/${names.slice(0, depth).join("/")}`;
        const found = this.#live.resolve(level, true, "mkdir", path);
        if (found.inode === undefined) {
          if (this.#isDanglingLink(level)) throw systemError("ENOENT", "mkdir", path);
          this.#makeDirectory(found, mode);
          first ??= level;
        } else if (this.#live.get(found.inode).kind !== "directory") {
          throw systemError(depth === names.length ? "EEXIST" : "ENOTDIR", "mkdir", path);
        }
      }
      return first;
    });
  }

  async fsyncDirectory(path: string): Promise<void> {
    return this.call("fsyncDirectory", path, () => {
      const found = this.#live.resolve(this.#absolute(path), true, "open", path);
      if (found.inode === undefined) throw systemError("ENOENT", "open", path);
      if (this.#live.get(found.inode).kind !== "directory")
        throw systemError("ENOTDIR", "open", path);
      this.syncDirectory(found.inode);
    });
  }

  // ------------------------------------------------------ handle services

  node(inode: number): Inode {
    return this.#live.get(inode);
  }

  write(inode: number, position: number, bytes: Buffer, path: string): void {
    this.#layers.write(inode, position, bytes, path);
  }

  truncate(inode: number, length: number, path: string): void {
    this.#layers.truncate(inode, length, path);
  }

  syncFile(inode: number): void {
    this.#layers.syncFile(inode);
  }

  syncDirectory(inode: number): void {
    this.#layers.syncDirectory(inode);
  }

  // ------------------------------------------------------ crash states

  captureCrashState(): CrashState<CrashStateFileSystem> {
    return new CrashState(
      this.#calls.length,
      this.#calls.at(-1),
      this.#now(),
      this.#layers.durableSnapshot(),
      this.#layers.pending,
      (tree) => this.#imageFileSystem(tree),
    );
  }

  crashImages(options?: CrashImageOptions): CrashImage<CrashStateFileSystem>[] {
    return this.captureCrashState().images(options);
  }

  durableImage(): CrashStateFileSystem {
    return this.#imageFileSystem(this.#layers.durable.clone());
  }

  syncAll(): void {
    this.#layers.syncAll();
  }

  plantSymlink(path: string, target: string): void {
    const absolute = this.#absolute(path);
    const live = this.#live.resolve(absolute, false, "symlink", path);
    if (live.inode !== undefined) throw systemError("EEXIST", "symlink", path);
    const durable = this.#layers.durable.resolve(absolute, false, "symlink", path);
    if (durable.parent !== live.parent || durable.inode !== undefined) {
      throw systemError("ENOENT", "symlink", path);
    }
    const inode = this.#layers.allocate({
      kind: "symlink",
      target,
      mode: 0o777,
      mtimeMs: this.#now(),
    });
    this.#layers.changeEntriesDurably(
      [{ directory: live.parent, name: live.name, inode }],
      `symlink ${live.path} -> ${target}`,
    );
  }

  entries(): CrashStateEntry[] {
    return this.#live.list();
  }

  // ------------------------------------------------------ internals

  #now(): number {
    return this.#options.clock.now();
  }

  #absolute(path: string): string {
    if (typeof path !== "string" || path.length === 0 || path.includes("\0")) {
      throw Object.assign(
        new TypeError(`The argument 'path' must be a non-empty string without NUL bytes`),
        {
          code: "ERR_INVALID_ARG_VALUE",
        },
      );
    }
    return posix.resolve(this.#options.cwd, path);
  }

  /**
   * A call on two paths (`rename`, `link`), neither followed if it is a link.
   * Errors name both paths, as Node's do; a missing source is ENOENT.
   */
  async #twoPathCall(
    syscall: "rename" | "link",
    from: string,
    to: string,
    body: (
      source: Resolution & { inode: number },
      target: Resolution,
      fail: (code: string) => Error,
    ) => void,
  ): Promise<void> {
    const fail = (code: string) => systemError(code, syscall, from, to);
    const resolve = (path: string): Resolution => {
      try {
        return this.#live.resolve(this.#absolute(path), false, syscall, path);
      } catch (error) {
        throw fail((error as { code?: string }).code ?? "ENOENT");
      }
    };
    return this.call(
      syscall,
      from,
      () => {
        const source = resolve(from);
        const target = resolve(to);
        if (source.inode === undefined) throw fail("ENOENT");
        body(source as Resolution & { inode: number }, target, fail);
      },
      to,
    );
  }

  /** The inode at `path`, which must exist. */
  #existing(path: string, follow: boolean, syscall: string): Inode {
    const found = this.#live.resolve(this.#absolute(path), follow, syscall, path);
    if (found.inode === undefined) throw systemError("ENOENT", syscall, path);
    return this.#live.get(found.inode);
  }

  #isDanglingLink(path: string): boolean {
    const found = this.#live.resolve(path, false, "mkdir", path);
    return found.inode !== undefined && this.#live.get(found.inode).kind === "symlink";
  }

  #makeDirectory(found: Resolution, mode: number): void {
    const inode = this.#layers.allocate({
      kind: "directory",
      entries: new Map(),
      mode,
      mtimeMs: this.#now(),
    });
    this.#layers.changeEntries(
      "mkdir",
      [{ directory: found.parent, name: found.name, inode }],
      `mkdir ${found.path}`,
    );
  }

  #imageFileSystem(tree: FileTree): CrashStateFileSystem {
    return new CrashStateFileSystemImplementation(
      { ...this.#options, crashAfterCalls: Number.POSITIVE_INFINITY, onCall: undefined },
      tree,
    );
  }
}

import { posix } from "node:path";
import { type CrashImage, type CrashImageOptions, CrashState } from "./crash-state-capture.js";
import { crashedError, systemError } from "./crash-state-errors.js";
import type { CrashStateFileSystem } from "./crash-state-file-system.js";
import {
  CrashStateFileHandle,
  type CrashStateStats,
  type HandleHost,
  statsOf,
} from "./crash-state-handle.js";
import { DurabilityLayers } from "./crash-state-layers.js";
import { parseOpenFlags } from "./crash-state-open-flags.js";
import type { PendingOperation } from "./crash-state-operations.js";
import type { ResolvedOptions } from "./crash-state-options.js";
import {
  type CrashStateEntry,
  type FileTree,
  type Inode,
  type Resolution,
  splitPath,
} from "./crash-state-tree.js";
import type { FileSystemCall, FileSystemOperation } from "./faulty-file-system.js";

/** A path written with a trailing slash names a directory. */
const hasTrailingSlash = (path: string): boolean => path.length > 1 && path.endsWith("/");

/**
 * @internal The {@link CrashStateFileSystem} behind {@link createCrashStateFileSystem}:
 * the calls, checked as Linux checks them, over the {@link DurabilityLayers}
 * (what the program sees, what the disk holds and the pending operations between).
 */
export class CrashStateFileSystemImplementation implements CrashStateFileSystem, HandleHost {
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

import { createHash } from "node:crypto";
import { posix } from "node:path";
import { systemError } from "./crash-state-errors.js";

/** @internal The inode number of the root directory. */
export const ROOT_INODE = 1;

/** Linux gives up after this many symbolic links in one path (`MAXSYMLINKS`). */
const MAX_SYMLINK_HOPS = 40;

/** @internal A regular file. Inodes are immutable: a change makes a new one. */
export interface FileInode {
  readonly kind: "file";
  readonly data: Buffer;
  readonly mode: number;
  readonly mtimeMs: number;
}

/** @internal A directory: its entries, name to inode number. */
export interface DirectoryInode {
  readonly kind: "directory";
  readonly entries: ReadonlyMap<string, number>;
  readonly mode: number;
  readonly mtimeMs: number;
}

/** @internal A symbolic link (only planted by tests, never created by a call). */
export interface SymlinkInode {
  readonly kind: "symlink";
  readonly target: string;
  readonly mode: number;
  readonly mtimeMs: number;
}

/** @internal */
export type Inode = FileInode | DirectoryInode | SymlinkInode;

/** @internal Where a path leads: the directory holding its last name, and what that name holds. */
export interface Resolution {
  /** The directory that holds (or would hold) the entry. */
  readonly parent: number;
  /** The entry's name in `parent`; empty for the root. */
  readonly name: string;
  /** The inode the entry names, or undefined when there is no such entry. */
  readonly inode: number | undefined;
  /** The physical path of the entry, symbolic links resolved. */
  readonly path: string;
}

/** One entry of a {@link FileTree} listing: what a recovering program would find. */
export interface CrashStateEntry {
  /** Absolute path. */
  readonly path: string;
  readonly kind: "file" | "directory" | "symlink";
  /** Bytes of a file; 0 for the others. */
  readonly size: number;
  /** A file's content. */
  readonly data?: Buffer;
  /** A symbolic link's target. */
  readonly target?: string;
}

/**
 * @internal An inode table with a root directory. The table is a plain map of
 * immutable inodes, so a copy costs one map copy and two trees share every
 * inode neither changed: the durable layer, the page-cache layer and each
 * crash image are such copies.
 */
export class FileTree {
  readonly #inodes: Map<number, Inode>;

  constructor(inodes?: ReadonlyMap<number, Inode>, now = 0) {
    this.#inodes = new Map(inodes);
    if (!this.#inodes.has(ROOT_INODE)) {
      this.#inodes.set(ROOT_INODE, {
        kind: "directory",
        entries: new Map(),
        mode: 0o755,
        mtimeMs: now,
      });
    }
  }

  /** A copy sharing every inode. */
  clone(): FileTree {
    return new FileTree(this.#inodes);
  }

  get(inode: number): Inode {
    const found = this.#inodes.get(inode);
    if (!found) throw new Error(`crash-state filesystem: inode ${inode} does not exist`);
    return found;
  }

  /** The highest inode number in use: inodes are never freed, so the next one is above it. */
  highestInode(): number {
    let highest = ROOT_INODE;
    for (const inode of this.#inodes.keys()) highest = Math.max(highest, inode);
    return highest;
  }

  set(inode: number, value: Inode): void {
    this.#inodes.set(inode, value);
  }

  directory(inode: number): DirectoryInode {
    const found = this.get(inode);
    if (found.kind !== "directory") {
      throw new Error(`crash-state filesystem: inode ${inode} is not a directory`);
    }
    return found;
  }

  file(inode: number): FileInode {
    const found = this.get(inode);
    if (found.kind !== "file")
      throw new Error(`crash-state filesystem: inode ${inode} is not a file`);
    return found;
  }

  /**
   * Walks `path` (absolute, normalized) the way the kernel does: every
   * symbolic link met before the last name is followed, the last one only
   * when `followLast`.
   * @param path - the normalized absolute path.
   * @param followLast - whether a symbolic link as last name is followed.
   * @param syscall - for errors.
   * @param errorPath - the caller's spelling of the path, for errors.
   * @returns where the path leads.
   * @throws ENOENT when a directory on the way is missing, ENOTDIR when one is a file, ELOOP on a link loop.
   */
  resolve(path: string, followLast: boolean, syscall: string, errorPath: string): Resolution {
    let remaining = splitPath(path);
    let directory = ROOT_INODE;
    let directoryPath = "/";
    let hops = 0;
    if (remaining.length === 0)
      return { parent: ROOT_INODE, name: "", inode: ROOT_INODE, path: "/" };
    for (;;) {
      const [name, ...rest] = remaining as [string, ...string[]];
      const child = this.directory(directory).entries.get(name);
      const last = rest.length === 0;
      const node = child === undefined ? undefined : this.get(child);
      if (node?.kind === "symlink" && (!last || followLast)) {
        hops++;
        if (hops > MAX_SYMLINK_HOPS) throw systemError("ELOOP", syscall, errorPath);
        const target = posix.resolve(directoryPath, node.target);
        remaining = [...splitPath(target), ...rest];
        directory = ROOT_INODE;
        directoryPath = "/";
        if (remaining.length === 0) {
          return { parent: ROOT_INODE, name: "", inode: ROOT_INODE, path: "/" };
        }
        continue;
      }
      const childPath = posix.join(directoryPath, name);
      if (last) return { parent: directory, name, inode: child, path: childPath };
      if (node === undefined) throw systemError("ENOENT", syscall, errorPath);
      if (node.kind !== "directory") throw systemError("ENOTDIR", syscall, errorPath);
      directory = child as number;
      directoryPath = childPath;
      remaining = rest;
    }
  }

  /** Every entry reachable from the root, depth first, names sorted; links not followed. */
  *walk(): Generator<{ path: string; inode: number; node: Inode }> {
    const visit = function* (
      tree: FileTree,
      inode: number,
      path: string,
    ): Generator<{ path: string; inode: number; node: Inode }> {
      const { entries } = tree.directory(inode);
      for (const name of [...entries.keys()].sort()) {
        const child = entries.get(name) as number;
        const node = tree.get(child);
        const childPath = posix.join(path, name);
        yield { path: childPath, inode: child, node };
        if (node.kind === "directory") yield* visit(tree, child, childPath);
      }
    };
    yield* visit(this, ROOT_INODE, "/");
  }

  /** What {@link FileTree.walk} finds, as entries a test can read. */
  list(): CrashStateEntry[] {
    return [...this.walk()].map(({ path, node }): CrashStateEntry => {
      if (node.kind === "file")
        return { path, kind: "file", size: node.data.length, data: node.data };
      if (node.kind === "symlink") return { path, kind: "symlink", size: 0, target: node.target };
      return { path, kind: "directory", size: 0 };
    });
  }

  /**
   * A digest of what a recovering program can observe: names, kinds,
   * contents, link targets and which names share an inode (hard links).
   * Two trees with the same fingerprint are the same crash state.
   */
  fingerprint(): string {
    const hash = createHash("sha256");
    const canonical = new Map<number, number>();
    for (const { path, inode, node } of this.walk()) {
      let identity = canonical.get(inode);
      if (identity === undefined) {
        identity = canonical.size;
        canonical.set(inode, identity);
      }
      hash.update(`${path}\0${node.kind}\0${identity}\0`);
      if (node.kind === "file") {
        hash.update(`${node.data.length}\0`);
        hash.update(node.data);
      } else if (node.kind === "symlink") {
        hash.update(node.target);
      }
      hash.update("\n");
    }
    return hash.digest("hex");
  }
}

/** @internal The names of a normalized absolute path. */
export function splitPath(path: string): string[] {
  return path.split("/").filter((part) => part.length > 0);
}

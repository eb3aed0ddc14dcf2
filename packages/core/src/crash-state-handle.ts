import { closedHandleError, systemError } from "./crash-state-errors.js";
import type { OpenFlags } from "./crash-state-open-flags.js";
import type { Inode } from "./crash-state-tree.js";
import type { FileSystemOperation } from "./faulty-file-system.js";
import type { FileHandleLike } from "./file-system.js";

/** What `stat` returns on the crash-state filesystem: the fields of Node's `Stats` that make sense in memory. */
export interface CrashStateStats {
  readonly size: number;
  readonly mtimeMs: number;
  readonly mtime: Date;
  /** File type bits (`S_IFREG`, `S_IFDIR`, `S_IFLNK`) and permission bits. */
  readonly mode: number;
  /** Inode number; two names of one file (hard links) share it. */
  readonly ino: number;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

const TYPE_BITS = Object.freeze({ file: 0o100000, directory: 0o040000, symlink: 0o120000 });

/** @internal The `stat` of one inode. */
export function statsOf(inodeNumber: number, inode: Inode): CrashStateStats {
  const size =
    inode.kind === "file" ? inode.data.length : inode.kind === "symlink" ? inode.target.length : 0;
  return Object.freeze({
    size,
    mtimeMs: inode.mtimeMs,
    mtime: new Date(inode.mtimeMs),
    mode: TYPE_BITS[inode.kind] | (inode.mode & 0o7777),
    ino: inodeNumber,
    isFile: () => inode.kind === "file",
    isDirectory: () => inode.kind === "directory",
    isSymbolicLink: () => inode.kind === "symlink",
  });
}

/** @internal What a handle needs from its filesystem. */
export interface HandleHost {
  /** Records one call (failing it after a simulated power loss) and runs it. */
  call<T>(operation: FileSystemOperation, path: string, body: () => T): T;
  /** The page-cache version of an inode. */
  node(inode: number): Inode;
  /** Records a pending write and applies it to the page cache. */
  write(inode: number, position: number, bytes: Buffer, path: string): void;
  /** Records a pending truncation and applies it to the page cache. */
  truncate(inode: number, length: number, path: string): void;
  /** fsync of a file: its pending data operations become durable. */
  syncFile(inode: number): void;
  /** fsync of a directory: its pending entry changes may become durable. */
  syncDirectory(inode: number): void;
  /** Largest write accepted at once; a longer one is a short write. */
  readonly maxBytesPerWrite: number;
}

function outOfRange(name: string, value: unknown, bound: string): RangeError {
  return Object.assign(
    new RangeError(
      `The value of "${name}" is out of range. It must be ${bound}. Received ${String(value)}`,
    ),
    { code: "ERR_OUT_OF_RANGE" },
  );
}

/**
 * An open file of the crash-state filesystem. It refers to its inode, not to
 * its name, as a descriptor does: it keeps working after a rename or an
 * unlink. The file position moves with writes and `readFile()` made without
 * an explicit position, as with Node's `FileHandle`.
 */
export class CrashStateFileHandle implements FileHandleLike {
  readonly #host: HandleHost;
  readonly #inode: number;
  readonly #flags: OpenFlags;
  #position = 0;
  #closed = false;

  /**
   * @internal Handles come from `open()` of a crash-state filesystem.
   * @param host - the filesystem.
   * @param inode - the open inode.
   * @param path - the path it was opened with, for the call log.
   * @param flags - how it was opened.
   */
  constructor(
    host: HandleHost,
    inode: number,
    readonly path: string,
    flags: OpenFlags,
  ) {
    this.#host = host;
    this.#inode = inode;
    this.#flags = flags;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Writes at `position` (or at the file position when it is null or
   * undefined; always at the end with `O_APPEND`, as Linux does). Writes at
   * most `maxBytesPerWrite` bytes and says how many: a short write.
   */
  async write(
    buffer: Uint8Array,
    offset = 0,
    length: number = buffer.byteLength - offset,
    position: number | null = null,
  ): Promise<{ bytesWritten: number; buffer: Uint8Array }> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw outOfRange("offset", offset, ">= 0");
    if (offset > buffer.byteLength) throw outOfRange("offset", offset, `<= ${buffer.byteLength}`);
    if (!Number.isSafeInteger(length) || length < 0) throw outOfRange("length", length, ">= 0");
    if (length > buffer.byteLength - offset) {
      throw outOfRange("length", length, `<= ${buffer.byteLength - offset}`);
    }
    if (position !== null && position !== undefined) {
      if (!Number.isSafeInteger(position) || position < 0) {
        throw outOfRange("position", position, "a whole number >= 0");
      }
    }
    return this.#host.call("write", this.path, () => {
      if (this.#closed) throw closedHandleError("write");
      if (!this.#flags.writable) throw systemError("EBADF", "write");
      const node = this.#host.node(this.#inode);
      const size = node.kind === "file" ? node.data.length : 0;
      const count = Math.min(length, this.#host.maxBytesPerWrite);
      const at = this.#flags.append ? size : (position ?? this.#position);
      if (count > 0) {
        this.#host.write(
          this.#inode,
          at,
          Buffer.from(buffer.subarray(offset, offset + count)),
          this.path,
        );
      }
      if (this.#flags.append || position === null || position === undefined) {
        this.#position = at + count;
      }
      if (this.#flags.synchronous) this.#host.syncFile(this.#inode);
      return { bytesWritten: count, buffer };
    });
  }

  /** fsync: this file's data becomes durable (a directory handle: that directory's entries). */
  async sync(): Promise<void> {
    return this.#host.call("sync", this.path, () => {
      if (this.#closed) throw closedHandleError("fsync");
      if (this.#host.node(this.#inode).kind === "directory") this.#host.syncDirectory(this.#inode);
      else this.#host.syncFile(this.#inode);
    });
  }

  /** Cuts or extends (with zeros) the file to `length` bytes. */
  async truncate(length = 0): Promise<void> {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw outOfRange("len", length, "a whole number >= 0");
    }
    return this.#host.call("truncate", this.path, () => {
      if (this.#closed) throw closedHandleError("ftruncate");
      if (!this.#flags.writable) throw systemError("EINVAL", "ftruncate");
      this.#host.truncate(this.#inode, length, this.path);
    });
  }

  /** The file's `stat`. */
  async stat(): Promise<CrashStateStats> {
    return this.#host.call("handleStat", this.path, () => {
      if (this.#closed) throw closedHandleError("fstat");
      return statsOf(this.#inode, this.#host.node(this.#inode));
    });
  }

  /** Reads from the file position to the end, and moves the position there (as Node does). */
  async readFile(): Promise<Buffer> {
    return this.#host.call("handleReadFile", this.path, () => {
      if (this.#closed) throw closedHandleError("read");
      const node = this.#host.node(this.#inode);
      if (node.kind === "directory") throw systemError("EISDIR", "read");
      if (!this.#flags.readable) throw systemError("EBADF", "read");
      const data = node.kind === "file" ? node.data : Buffer.alloc(0);
      const content = Buffer.from(data.subarray(Math.min(this.#position, data.length)));
      this.#position = Math.max(this.#position, data.length);
      return content;
    });
  }

  /** Closes the handle; closing twice is harmless. Closing makes nothing durable. */
  async close(): Promise<void> {
    try {
      this.#host.call("close", this.path, () => undefined);
    } finally {
      // A dead machine's descriptors are gone whatever close() reports.
      this.#closed = true;
    }
  }
}

import { constants, promises as fsPromises } from "node:fs";

/** The calls Beauvoir makes on an open file. A subset of Node's `FileHandle`. */
export interface FileHandleLike {
  /** Writes `length` bytes of `buffer` from `offset`; may write fewer (a short write). */
  write(
    buffer: Uint8Array,
    offset?: number,
    length?: number,
    position?: number | null,
  ): Promise<{ bytesWritten: number }>;
  /** Flushes data and metadata to the device (fsync). */
  sync(): Promise<void>;
  /** Cuts the file to `length` bytes. */
  truncate(length?: number): Promise<void>;
  /** Size of the open file. */
  stat(): Promise<{ size: number }>;
  /** Reads the whole file from the start. */
  readFile(): Promise<Buffer>;
  /** Closes the descriptor. */
  close(): Promise<void>;
}

/**
 * The filesystem calls Beauvoir's durable packages use, gathered in one small
 * interface so tests can inject faults (ENOSPC, short writes, a crash between
 * two calls) without patching `node:fs`.
 */
export interface FileSystem {
  /** Opens `path` with Node-style `flags` (`"a"`, `"wx"`, or numeric `O_*`). */
  open(path: string, flags: string | number, mode?: number): Promise<FileHandleLike>;
  /** Reads a whole file. */
  readFile(path: string): Promise<Buffer>;
  /** Atomically renames `from` to `to` (same filesystem). */
  rename(from: string, to: string): Promise<void>;
  /**
   * Creates `newPath` as a second name of `existingPath` (a hard link). Fails
   * with `EEXIST` when `newPath` exists, which makes it an exclusive create of
   * a file whose content is already complete.
   */
  link(existingPath: string, newPath: string): Promise<void>;
  /** Deletes a file. */
  unlink(path: string): Promise<void>;
  /** Lists the entry names of a directory. */
  readdir(path: string): Promise<string[]>;
  /** Size and modification time of a file. */
  stat(path: string): Promise<{ size: number; mtimeMs: number }>;
  /** Creates a directory and its parents. */
  mkdir(path: string, options: { recursive: true; mode?: number }): Promise<unknown>;
  /** Makes the directory's entries (renames, creates, unlinks) durable. */
  fsyncDirectory(path: string): Promise<void>;
}

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await fsPromises.open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The real filesystem, through `node:fs/promises`.
 *
 * @example
 * ```ts
 * const names = await nodeFileSystem.readdir("/var/lib/my-agent");
 * ```
 */
export const nodeFileSystem: FileSystem = Object.freeze({
  open: (path: string, flags: string | number, mode?: number) => fsPromises.open(path, flags, mode),
  readFile: (path: string) => fsPromises.readFile(path),
  rename: (from: string, to: string) => fsPromises.rename(from, to),
  link: (existingPath: string, newPath: string) => fsPromises.link(existingPath, newPath),
  unlink: (path: string) => fsPromises.unlink(path),
  readdir: (path: string) => fsPromises.readdir(path),
  stat: (path: string) => fsPromises.stat(path),
  mkdir: (path: string, options: { recursive: true; mode?: number }) =>
    fsPromises.mkdir(path, options),
  fsyncDirectory,
});

import { constants } from "node:fs";
import {
  type FileHandleLike,
  type FileSystem,
  isErrnoError,
  privateOpenFlags,
} from "@beauvoir/core";
import { StoreReadError, StoreSymlinkError, StoreTooLargeError } from "./errors.js";
import type { StoreFileNames } from "./file-names.js";
import { type ParsedFile, parseStoreFile } from "./serialization.js";

/** @internal One file of a store, read once; checked and parsed only when needed. */
export class LoadedFile {
  #text: string | undefined;
  #parsed: ParsedFile | undefined;

  /**
   * @param file - its path.
   * @param bytes - its content.
   * @param mode - its permission bits, when the filesystem reports them.
   */
  constructor(
    readonly file: string,
    readonly bytes: Buffer,
    readonly mode: number | undefined,
  ) {}

  get text(): string {
    this.#text ??= this.bytes.toString("utf8");
    return this.#text;
  }

  get parsed(): ParsedFile {
    this.#parsed ??= parseStoreFile(this.bytes, this.text);
    return this.#parsed;
  }

  /** The epoch as written, or -Infinity when the file has none that can be trusted. */
  get epoch(): number {
    return this.parsed.ok ? this.parsed.writeEpoch : Number.NEGATIVE_INFINITY;
  }

  /**
   * An epoch for the epoch floor without checking or parsing the whole file
   * when it is in the store's own format (a raw newline never occurs inside a
   * JSON string, so this line can only be the top-level key). A torn or
   * damaged file may still show one: a higher floor is always safe.
   */
  get epochHint(): number {
    if (this.#parsed === undefined) {
      const match = /\n {2}"_writeEpoch": (\d+)[,\n]/.exec(this.text);
      if (match) return Number(match[1]);
    }
    return this.epoch;
  }

  /** Whether group or others may read or write it (a file the store did not create). */
  get loose(): boolean {
    return this.mode !== undefined && (this.mode & 0o077) !== 0;
  }
}

/** What a real `fstat` reports beyond the `size` that `FileHandleLike` promises. */
interface FileFacts {
  readonly size: number;
  readonly mode?: unknown;
  isFile?(): boolean;
  isDirectory?(): boolean;
}

/**
 * Read-only, never through a link, and never blocking on a FIFO planted
 * where a store file belongs (`O_NONBLOCK` changes nothing for a regular file).
 */
const READ_FLAGS = privateOpenFlags("read") | constants.O_NONBLOCK;

/**
 * @internal Reads one file of a store without following a symbolic link
 * (`O_NOFOLLOW`): a link where a store file belongs is refused, so its target
 * is never read into a decision. Anything but a regular file (a directory, a
 * FIFO, a device) is unreadable.
 * @returns the file, or null when it does not exist.
 * @throws {@link StoreSymlinkError} for a link; {@link StoreTooLargeError} over
 *   `maxSizeBytes`; {@link StoreReadError} when it exists but cannot be read
 *   (EACCES, EIO, a directory in its place).
 */
export async function readStoreFile(
  fs: FileSystem,
  storePath: string,
  file: string,
  maxSizeBytes: number,
): Promise<LoadedFile | null> {
  let handle: FileHandleLike;
  try {
    handle = await fs.open(file, READ_FLAGS);
  } catch (error) {
    if (isErrnoError(error, "ENOENT")) return null;
    if (isErrnoError(error, "ELOOP")) throw new StoreSymlinkError(storePath, file, error);
    throw new StoreReadError(storePath, file, error);
  }
  try {
    let bytes: Buffer;
    let mode: number | undefined;
    try {
      const info = (await handle.stat()) as FileFacts;
      if (typeof info.isFile === "function" && !info.isFile()) {
        const directory = info.isDirectory?.() === true;
        throw Object.assign(
          new Error(directory ? `EISDIR: ${file} is a directory` : `${file} is not a regular file`),
          { code: directory ? "EISDIR" : "EINVAL" },
        );
      }
      if (info.size > maxSizeBytes) {
        throw new StoreTooLargeError(storePath, info.size, maxSizeBytes, `file ${file}`);
      }
      mode = typeof info.mode === "number" ? info.mode & 0o777 : undefined;
      bytes = await handle.readFile();
    } catch (error) {
      if (StoreTooLargeError.isInstance(error)) throw error;
      throw new StoreReadError(storePath, file, error);
    }
    // The file may have grown between the stat and the read.
    if (bytes.length > maxSizeBytes) {
      throw new StoreTooLargeError(storePath, bytes.length, maxSizeBytes, `file ${file}`);
    }
    return new LoadedFile(file, bytes, mode);
  } finally {
    await handle.close().catch(() => {});
  }
}

/**
 * @internal The tmp files of a store (any process's), sorted by name.
 * @throws {@link StoreReadError} when the directory exists but cannot be listed.
 */
export async function listTmpFiles(
  fs: FileSystem,
  storePath: string,
  names: StoreFileNames,
): Promise<string[]> {
  return (await listStoreDirectory(fs, storePath, names.directory))
    .filter((entry) => names.isTmp(entry))
    .sort()
    .map((entry) => names.inDirectory(entry));
}

/**
 * @internal The entries of a store's directory; none when it does not exist.
 * @throws {@link StoreReadError} when it exists but cannot be listed.
 */
export async function listStoreDirectory(
  fs: FileSystem,
  storePath: string,
  directory: string,
): Promise<string[]> {
  try {
    return await fs.readdir(directory);
  } catch (error) {
    if (isErrnoError(error, "ENOENT")) return [];
    throw new StoreReadError(storePath, directory, error);
  }
}

import { constants } from "node:fs";
import { join } from "node:path";
import {
  assertSafeName,
  ensureDurableDirectory,
  type FileHandleLike,
  type FileSystem,
  isErrnoError,
  PRIVATE_DIRECTORY_MODE,
  privateOpenFlags,
  routeDirectoryFsyncs,
  SymlinkRefusedError,
} from "@beauvoir/core";
import type { FsyncLatch } from "./fsync-latch.js";

const LOCK_SUFFIX = ".lock";
/**
 * `{name}.lock.{id}.tmp`: a lock record being written before it is linked to
 * `{name}.lock`. Never a lock: lock files end in `.lock`.
 */
const TEMP_FILE_PATTERN = /^(.+)\.lock\.([0-9a-f-]{36})\.tmp$/;
/** Read-only, never through a link, never blocking on a FIFO planted where a lock file belongs. */
const READ_FLAGS = privateOpenFlags("read") | constants.O_NONBLOCK;

/**
 * @internal The files of one lock directory: their names, and the calls that
 * read them (never through a symbolic link) and create the directory
 * (durably: every missing level 0700, its parent fsynced).
 */
export class LockFiles {
  readonly #fs: FileSystem;
  readonly #durable: boolean;
  /** The store's fs with its directory fsyncs routed through the latch. */
  readonly #latchedFs: FileSystem;
  #directoryReady: Promise<void> | undefined;

  /**
   * @param lockDir - the absolute lock directory.
   * @param fs - the filesystem.
   * @param latch - the fail-stop latch the directory fsyncs go through.
   * @param durable - whether to fsync (the manager's `fsync` option).
   */
  constructor(
    readonly lockDir: string,
    fs: FileSystem,
    latch: FsyncLatch,
    durable: boolean,
  ) {
    this.#fs = fs;
    this.#durable = durable;
    this.#latchedFs = routeDirectoryFsyncs(fs, (fsync) => latch.fsync(lockDir, fsync));
  }

  /** `{lockDir}/{name}.lock`. */
  pathOf(name: string): string {
    return join(this.lockDir, `${name}${LOCK_SUFFIX}`);
  }

  /** The temporary file an acquisition writes its record to before linking it. */
  tempPathOf(lockPath: string, id: string): string {
    return `${lockPath}.${id}.tmp`;
  }

  /** The lock name of a directory entry (`{name}.lock` with a safe name), or undefined. */
  lockNameOf(entry: string): string | undefined {
    if (!entry.endsWith(LOCK_SUFFIX)) return undefined;
    const name = entry.slice(0, -LOCK_SUFFIX.length);
    try {
      return assertSafeName(name);
    } catch {
      return undefined;
    }
  }

  /** Whether a directory entry is a temporary record file. */
  isTempEntry(entry: string): boolean {
    return TEMP_FILE_PATTERN.test(entry);
  }

  /**
   * The directory's entries, sorted; none when it does not exist.
   * @throws the filesystem error when it exists but cannot be listed.
   */
  async list(): Promise<string[]> {
    try {
      return [...(await this.#fs.readdir(this.lockDir))].sort();
    } catch (error) {
      if (isErrnoError(error, "ENOENT")) return [];
      throw error;
    }
  }

  /**
   * Reads a lock or temporary file without following a symbolic link.
   * @returns its bytes, or undefined when it does not exist.
   * @throws `SymlinkRefusedError` (`SYMLINK_REFUSED`) for a link; other errors as they are (EISDIR, EACCES…).
   */
  async read(path: string): Promise<Buffer | undefined> {
    let handle: FileHandleLike;
    try {
      handle = await this.#fs.open(path, READ_FLAGS);
    } catch (error) {
      if (isErrnoError(error, "ENOENT")) return undefined;
      if (isErrnoError(error, "ELOOP")) throw new SymlinkRefusedError(path, error);
      throw error;
    }
    try {
      return await handle.readFile();
    } catch (error) {
      // Only a wrapped filesystem can say so on an open file: gone all the same.
      if (isErrnoError(error, "ENOENT")) return undefined;
      throw error;
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  /**
   * The mtime of a file (for the grace period of unreadable files).
   * @returns epoch milliseconds, or undefined when it does not exist.
   */
  async mtimeOf(path: string): Promise<number | undefined> {
    try {
      return (await this.#fs.stat(path)).mtimeMs;
    } catch (error) {
      if (isErrnoError(error, "ENOENT")) return undefined;
      throw error;
    }
  }

  /**
   * Deletes a file.
   * @returns false when it was already gone.
   * @throws filesystem errors other than ENOENT.
   */
  async removeIfPresent(path: string): Promise<boolean> {
    try {
      await this.#fs.unlink(path);
      return true;
    } catch (error) {
      if (isErrnoError(error, "ENOENT")) return false;
      throw error;
    }
  }

  /**
   * Creates the lock directory once (again after {@link LockFiles.forgetDirectory}).
   * With fsync on, every missing level is made durable in its parent.
   */
  ensureDirectory(): Promise<void> {
    this.#directoryReady ??= this.#createDirectory().catch((error: unknown) => {
      this.#directoryReady = undefined;
      throw error;
    });
    return this.#directoryReady;
  }

  /** Makes the next {@link LockFiles.ensureDirectory} look again (the directory vanished). */
  forgetDirectory(): void {
    this.#directoryReady = undefined;
  }

  async #createDirectory(): Promise<void> {
    if (this.#durable) {
      await ensureDurableDirectory(this.#latchedFs, this.lockDir, PRIVATE_DIRECTORY_MODE);
    } else {
      await this.#fs.mkdir(this.lockDir, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
    }
  }
}

/** @internal Writes all of `bytes` at the start of a file, looping on short writes. */
export async function writeFully(file: FileHandleLike, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset, offset);
    if (bytesWritten <= 0) throw new Error("Lock file write made no progress");
    offset += bytesWritten;
  }
}

import { randomUUID } from "node:crypto";
import {
  type Clock,
  type FileHandleLike,
  type FileSystem,
  isErrnoError,
  type Logger,
  openPrivateFile,
} from "@beauvoir/core";
import type { FsyncLatch } from "./fsync-latch.js";
import { type LockFiles, writeFully } from "./lock-files.js";
import { encodeOwner, LOCK_FILE_VERSION, type LockOwner } from "./lock-owner.js";

/** @internal What the creator needs. */
export interface LockCreatorOptions {
  readonly files: LockFiles;
  readonly fs: FileSystem;
  readonly latch: FsyncLatch;
  readonly fsync: boolean;
  readonly bootId: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Ids of the locks held by any manager in this process. */
  readonly processHeldIds: Set<string>;
}

/**
 * @internal One atomic create of a lock file: the record is written (and
 * fsynced) under a temporary name, then hard-linked to the lock's name.
 * `link` fails with EEXIST like `O_EXCL`, and the lock file never exists
 * without its whole record, so a crash at any point leaves either no lock or
 * a complete one (plus, at worst, a temporary file that `recoverStaleLocks()`
 * removes). An fsync failure removes what was created and fails stop.
 */
export class LockCreator {
  readonly #options: LockCreatorOptions;

  constructor(options: LockCreatorOptions) {
    this.#options = options;
  }

  /**
   * @param path - the lock file.
   * @returns the owner record now in the file; `"exists"` when the lock is
   *   taken; `undefined` when the directory vanished (it is recreated on the next try).
   * @throws core's `FailStoppedError` when an fsync failed (now or before);
   *   other filesystem errors as they are, after removing what was created.
   */
  async create(path: string): Promise<LockOwner | "exists" | undefined> {
    const { files, fs, latch, fsync, clock, processHeldIds } = this.#options;
    latch.throwIfStopped();
    const createdAt = clock.now();
    const owner: LockOwner = Object.freeze({
      id: randomUUID(),
      pid: process.pid,
      bootId: this.#options.bootId,
      createdAt,
      lockVersion: LOCK_FILE_VERSION,
      // From the start, so every renewal rewrites a record of the same length.
      renewedAt: createdAt,
    });
    const tempPath = files.tempPathOf(path, owner.id);
    // Registered before any file exists, so another manager in this process
    // never mistakes our fresh lock (or temporary file) for a leftover of an
    // earlier process.
    processHeldIds.add(owner.id);
    let file: FileHandleLike;
    try {
      file = await openPrivateFile(fs, tempPath, "create");
    } catch (error) {
      processHeldIds.delete(owner.id);
      if (isErrnoError(error, "ENOENT")) {
        files.forgetDirectory();
        return undefined;
      }
      throw error;
    }
    let linked = false;
    try {
      try {
        await writeFully(file, encodeOwner(owner));
        if (fsync) await latch.fsync(path, () => file.sync());
      } finally {
        await file.close();
      }
      try {
        await fs.link(tempPath, path);
        linked = true;
      } catch (error) {
        if (isErrnoError(error, "EEXIST")) {
          await this.#removeTempFile(tempPath);
          processHeldIds.delete(owner.id);
          return "exists";
        }
        throw error;
      }
      await this.#removeTempFile(tempPath);
      if (fsync) await latch.fsync(path, () => fs.fsyncDirectory(files.lockDir));
    } catch (error) {
      // The lock is ours by the link, and too young for anyone to break: safe to remove.
      if (linked) await fs.unlink(path).catch(() => undefined);
      await fs.unlink(tempPath).catch(() => undefined);
      processHeldIds.delete(owner.id);
      if (!linked && isErrnoError(error, "ENOENT")) {
        // The directory, or our temporary file with it, was removed meanwhile.
        files.forgetDirectory();
        return undefined;
      }
      throw error;
    }
    return owner;
  }

  /**
   * Removes our temporary file once linked (or refused). A failure is only
   * logged: the lock is decided either way, and `recoverStaleLocks()`
   * removes the leftover.
   */
  async #removeTempFile(tempPath: string): Promise<void> {
    try {
      await this.#options.fs.unlink(tempPath);
    } catch (error) {
      if (!isErrnoError(error, "ENOENT")) {
        this.#options.logger.warn("Could not remove temporary lock file", {
          path: tempPath,
          error,
        });
      }
    }
  }
}

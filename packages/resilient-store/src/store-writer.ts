import { isErrnoError } from "@beauvoir/core";
import {
  StoreReadError,
  StoreTooLargeError,
  StoreWriteError,
  type StoreWriteStep,
} from "./errors.js";
import { composeFile, type SerializedState } from "./serialization.js";
import type { StoreContext } from "./store-context.js";
import type { StoreFileOperations } from "./store-file-operations.js";
import { listTmpFiles } from "./store-file-reader.js";

/** How far a write got, for its rollback. */
interface WriteProgress {
  readonly tmp: string;
  createdTmp: boolean;
  movedPrimary: boolean;
  placedTmp: boolean;
}

/**
 * @internal The write protocol of one store instance, inside its mutex: tmp
 * (exclusive create, 0600, fsync), primary to bak + directory fsync, tmp to
 * primary + directory fsync. A failure is rolled back so the primary and bak
 * hold what they held before. An fsync failure fails stop: the rollback is
 * made without any further fsync and every later write is refused.
 */
export class StoreWriter {
  readonly #context: StoreContext;
  readonly #operations: StoreFileOperations;

  constructor(context: StoreContext, operations: StoreFileOperations) {
    this.#context = context;
    this.#operations = operations;
  }

  /**
   * Writes a serialized state as the new primary, with the next epoch.
   * @throws {@link StoreTooLargeError}, {@link StoreWriteError}, or the fail-stop error.
   */
  async write(serialized: SerializedState): Promise<void> {
    const { options, names, memory, failStop } = this.#context;
    failStop.throwIfStopped();
    const { fs } = options;
    const epoch = memory.epoch + 1;
    const { text, bytes } = composeFile(serialized, epoch);
    if (bytes.length > options.maxSizeBytes) {
      throw new StoreTooLargeError(options.path, bytes.length, options.maxSizeBytes);
    }
    // Even a failed write consumes its epoch: a torn tmp file may carry it.
    memory.epoch = epoch;
    const progress: WriteProgress = {
      tmp: names.tmp(),
      createdTmp: false,
      movedPrimary: false,
      placedTmp: false,
    };
    let step: StoreWriteStep = "write-tmp";
    try {
      await this.#operations.writeNewFile(progress.tmp, bytes, "write-tmp", true, () => {
        progress.createdTmp = true;
      });
      step = "rename-primary-to-bak";
      try {
        await fs.rename(names.primary, names.bak);
        progress.movedPrimary = true;
      } catch (error) {
        if (!isErrnoError(error, "ENOENT")) throw error;
      }
      if (progress.movedPrimary) {
        step = "fsync-directory";
        await this.#operations.fsyncDirectory(step);
      }
      step = "rename-tmp-to-primary";
      await fs.rename(progress.tmp, names.primary);
      progress.placedTmp = true;
      step = "fsync-directory";
      await this.#operations.fsyncDirectory(step);
    } catch (error) {
      // The directory step throws a StoreWriteError of its own.
      if (StoreWriteError.isInstance(error)) throw error;
      const rolledBack = await this.#rollback(progress, error);
      if (failStop.stopped) throw failStop.error();
      throw new StoreWriteError(options.path, step, rolledBack, error);
    }
    if (progress.movedPrimary) memory.bakBytes = memory.primaryBytes;
    memory.primaryBytes = bytes;
    memory.stateText = text;
    await this.#removeStaleTmps();
  }

  /**
   * Deletes the primary, bak and tmp files. The primary goes last, after the
   * others' removal is durable (a directory fsync), so neither a failure
   * half-way nor a power cut can bring back an older state than the primary's.
   * @throws {@link StoreWriteError} (`remove` or `fsync-directory`), or the fail-stop error.
   */
  async clear(): Promise<void> {
    const { options, names, memory, failStop } = this.#context;
    failStop.throwIfStopped();
    let step: StoreWriteStep = "remove";
    const fsyncIfPresent = async (): Promise<void> => {
      step = "fsync-directory";
      await this.#operations.fsyncDirectory(step).catch((error: unknown) => {
        if (!isErrnoError(error, "ENOENT")) throw error;
      });
    };
    try {
      const older = [...(await listTmpFiles(options.fs, options.path, names)), names.bak];
      for (const file of older) await this.#operations.unlinkIfPresent(file);
      await fsyncIfPresent();
      step = "remove";
      await this.#operations.unlinkIfPresent(names.primary);
      await fsyncIfPresent();
    } catch (error) {
      memory.loaded = false;
      if (failStop.stopped) throw failStop.error();
      throw StoreReadError.isInstance(error)
        ? error
        : new StoreWriteError(options.path, step, false, error);
    }
    memory.loaded = true;
    memory.forgetState();
  }

  /**
   * Puts the primary and bak back as they were before a failed write: the old
   * primary returns from bak, the old bak is rewritten from the bytes this
   * instance knows it held, the tmp file goes. After an fsync failure the same
   * is done without fsyncing anything (the store has stopped; the names are
   * restored for readers, their durability is unknown either way).
   * @returns whether the files are back as they were.
   */
  async #rollback(progress: WriteProgress, cause: unknown): Promise<boolean> {
    const { options, names, memory, failStop } = this.#context;
    const { fs } = options;
    const durable = !failStop.stopped;
    try {
      if (progress.movedPrimary) {
        await fs.rename(names.bak, names.primary);
        if (memory.bakBytes !== null) {
          // Over our own tmp file, which writeNewFile replaces.
          await this.#operations.writeNewFile(progress.tmp, memory.bakBytes, "write-tmp", durable);
          await fs.rename(progress.tmp, names.bak);
        } else {
          await this.#removeTmp(progress.tmp);
        }
      } else {
        if (progress.placedTmp) await fs.unlink(names.primary);
        else if (progress.createdTmp) await this.#removeTmp(progress.tmp);
      }
      if (durable && (progress.movedPrimary || progress.placedTmp)) {
        await this.#operations.fsyncDirectory("fsync-directory");
      }
      return true;
    } catch (rollbackError) {
      // What this instance believes about the files is no longer reliable.
      memory.loaded = false;
      options.logger.error("Could not roll back a failed write; will reload from disk", {
        path: options.path,
        error: rollbackError,
        cause,
      });
      return false;
    }
  }

  /**
   * Removes the tmp file of a failed write. Not being able to is only logged:
   * it does not change what the primary and bak hold, and the next load
   * removes it (a torn or superseded tmp file).
   */
  async #removeTmp(tmp: string): Promise<void> {
    await this.#operations.removeQuietly(tmp, "Could not delete the tmp file of a failed write");
  }

  async #removeStaleTmps(): Promise<void> {
    const { staleTmps } = this.#context.memory;
    for (const file of staleTmps) {
      if (await this.#operations.removeQuietly(file, "Could not delete a stale tmp file")) {
        staleTmps.delete(file);
      }
    }
  }
}

import { FailStoppedError, isErrnoError } from "@beauvoir/core";

/**
 * Codes of a failed fsync call that never reached the disk: opening the file
 * or directory to fsync failed, so no dirty page can have been dropped.
 */
const NOT_REACHED_CODES = ["ENOENT", "ENOTDIR", "EACCES", "EPERM", "EMFILE", "ENFILE"];

/**
 * @internal "fsync failures fail stop" for one lock manager: once an fsync
 * made while taking a lock failed, that `acquire()` rejects and so does every
 * later one, with core's `FailStoppedError` carrying the first failure. An
 * fsync is never retried into a success that may not be one.
 */
export class FsyncLatch {
  #failure: FailStoppedError | undefined;

  /** Whether an fsync failed. */
  get stopped(): boolean {
    return this.#failure !== undefined;
  }

  /**
   * Runs one fsync; a failure trips the latch and is rethrown as the
   * `FailStoppedError`. Errors that say the fsync never ran are rethrown as
   * they are, without tripping it.
   * @param path - the lock file the fsync makes durable.
   * @param fsync - the call.
   */
  async fsync(path: string, fsync: () => Promise<void>): Promise<void> {
    this.throwIfStopped();
    try {
      await fsync();
    } catch (error) {
      if (isErrnoError(error, ...NOT_REACHED_CODES)) throw error;
      this.#failure = new FailStoppedError(path, error);
      throw this.#failure;
    }
  }

  /** @throws the `FailStoppedError` of the first failure, once tripped. */
  throwIfStopped(): void {
    if (this.#failure) throw new FailStoppedError(this.#failure.path, this.#failure.cause);
  }
}

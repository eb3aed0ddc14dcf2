import {
  ensureDurableDirectory,
  type FileHandleLike,
  type FileSystem,
  isErrnoError,
  openPrivateFile,
  routeDirectoryFsyncs,
  SymlinkRefusedError,
} from "@beauvoir/core";
import { StoreWriteError, type StoreWriteStep } from "./errors.js";
import type { StoreContext } from "./store-context.js";

/**
 * @internal The filesystem calls the store's writer, loader and quarantine
 * make, each in one place: files are created exclusively, mode 0600, never
 * through a symbolic link; directories are created durably (0700, parent
 * fsynced); every fsync goes through the fail-stop latch.
 */
export class StoreFileOperations {
  readonly #context: StoreContext;
  /** The store's fs with its directory fsyncs routed through the fail-stop latch. */
  readonly #directoryFs: FileSystem;

  constructor(context: StoreContext) {
    this.#context = context;
    const { fs } = context.options;
    this.#directoryFs = routeDirectoryFsyncs(fs, (fsync) =>
      context.failStop.fsync("create-directory", fsync),
    );
  }

  /**
   * Creates `file` (0600, exclusive, never through a link) with `bytes`,
   * fsynced (unless `durable` is false) and closed. A file already under that
   * name (a tmp of a dead process that had our pid, or a planted link) is
   * removed first: the names this writes are its own.
   * @param step - the step an fsync failure is reported under.
   * @param durable - whether to fsync it.
   * @param onCreated - called once the file exists (so a rollback knows there is one to remove).
   */
  async writeNewFile(
    file: string,
    bytes: Buffer,
    step: StoreWriteStep,
    durable = true,
    onCreated?: () => void,
  ): Promise<void> {
    const { fs } = this.#context.options;
    let handle: FileHandleLike;
    try {
      handle = await openPrivateFile(fs, file, "create");
    } catch (error) {
      if (isErrnoError(error, "EEXIST")) {
        await fs.unlink(file);
      } else if (isErrnoError(error, "ENOENT")) {
        await this.createDirectory();
      } else {
        throw error;
      }
      handle = await openPrivateFile(fs, file, "create");
    }
    onCreated?.();
    try {
      await writeFully(handle, bytes, file);
      if (durable) await this.#context.failStop.fsync(step, () => handle.sync());
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
    await handle.close();
  }

  /**
   * Creates a file under a name nobody uses yet: `nameOf(0)`, `nameOf(1)`, …
   * An existing entry (a file, a directory, a symbolic link) is never replaced.
   * @returns the name used.
   */
  async writeUnderFreeName(
    nameOf: (attempt: number) => string,
    bytes: Buffer,
    step: StoreWriteStep,
  ): Promise<string> {
    const { fs } = this.#context.options;
    for (let attempt = 0; ; attempt++) {
      const file = nameOf(attempt);
      let handle: FileHandleLike;
      try {
        handle = await openPrivateFile(fs, file, "create");
      } catch (error) {
        if (isErrnoError(error, "EEXIST") || SymlinkRefusedError.isInstance(error)) continue;
        throw error;
      }
      try {
        await writeFully(handle, bytes, file);
        await this.#context.failStop.fsync(step, () => handle.sync());
      } catch (error) {
        await handle.close().catch(() => {});
        await fs.unlink(file).catch(() => {});
        throw error;
      }
      await handle.close();
      return file;
    }
  }

  /**
   * Fsyncs an existing file's data (never through a link), through the
   * fail-stop latch: a file another process wrote, which it may not have
   * fsynced before it died, before a durable name is made to point at it.
   */
  async fsyncFile(file: string, step: StoreWriteStep): Promise<void> {
    const handle = await openPrivateFile(this.#context.options.fs, file, "read");
    try {
      await this.#context.failStop.fsync(step, () => handle.sync());
    } finally {
      await handle.close().catch(() => {});
    }
  }

  /** Fsyncs the store's directory, through the fail-stop latch. */
  fsyncDirectory(step: StoreWriteStep): Promise<void> {
    const { fs } = this.#context.options;
    return this.#context.failStop.fsync(step, () =>
      fs.fsyncDirectory(this.#context.names.directory),
    );
  }

  /**
   * Creates the store's directory and every missing parent (0700), fsyncing
   * each parent, so no level can vanish in a power cut with the files inside.
   * @throws {@link StoreWriteError} (`create-directory`) when it cannot, or
   *   the fail-stop error when an fsync failed.
   */
  async createDirectory(): Promise<void> {
    try {
      await ensureDurableDirectory(this.#directoryFs, this.#context.names.directory);
    } catch (error) {
      if (this.#context.failStop.stopped) throw this.#context.failStop.error();
      throw new StoreWriteError(this.#context.options.path, "create-directory", true, error);
    }
  }

  /** Deletes `file`; a file already gone is fine. */
  async unlinkIfPresent(file: string): Promise<void> {
    try {
      await this.#context.options.fs.unlink(file);
    } catch (error) {
      if (!isErrnoError(error, "ENOENT")) throw error;
    }
  }

  /** Deletes a leftover file; a failure only costs disk space, so it is logged, not thrown. */
  async removeQuietly(file: string, message: string): Promise<boolean> {
    try {
      await this.unlinkIfPresent(file);
      return true;
    } catch (error) {
      this.#context.options.logger.warn(message, { file, error });
      return false;
    }
  }
}

async function writeFully(handle: FileHandleLike, bytes: Buffer, file: string): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, offset);
    if (!(bytesWritten > 0)) {
      throw Object.assign(new Error(`write to ${file} made no progress`), { code: "EIO" });
    }
    offset += bytesWritten;
  }
}

import { isErrnoError } from "@beauvoir/core";
import { StoreFailStoppedError, type StoreWriteStep } from "./errors.js";
import type { StoreFileNames } from "./file-names.js";
import type { ResolvedStoreOptions } from "./options.js";

/** @internal What one store instance knows about its files; its loader and writer share it. */
export class StoreMemory {
  /** Whether the files have been read (and repaired) since the instance was made or last lost track. */
  loaded = false;
  /** The file text of the current state (what `get()` parses), or null when there is none. */
  stateText: string | null = null;
  /** The highest `_writeEpoch` seen on disk or written by this instance. */
  epoch = 0;
  /** What `{path}` and `{path}.bak` hold, as far as this instance knows: for rollbacks. */
  primaryBytes: Buffer | null = null;
  bakBytes: Buffer | null = null;
  /** Tmp files left by crashed writers with an epoch above the state read; removed after the next write. */
  readonly staleTmps = new Set<string>();

  /** Forgets the state, as after `clear()`. */
  forgetState(): void {
    this.stateText = null;
    this.primaryBytes = null;
    this.bakBytes = null;
    this.staleTmps.clear();
  }
}

/**
 * Codes of a failed fsync call that never reached the disk: opening the file
 * or directory to fsync failed, so no dirty page can have been dropped.
 */
const NOT_REACHED_CODES = ["ENOENT", "ENOTDIR", "EACCES", "EPERM", "EMFILE", "ENFILE"];

/**
 * @internal The latch of "fsync failures fail stop": once an fsync of the
 * store failed, every later write of the instance is refused with the same
 * cause, and no fsync is ever tried again by it.
 */
export class FailStop {
  readonly #storePath: string;
  #failure: { readonly step: StoreWriteStep; readonly cause: unknown } | undefined;

  constructor(storePath: string) {
    this.#storePath = storePath;
  }

  /** Whether an fsync failed. */
  get stopped(): boolean {
    return this.#failure !== undefined;
  }

  /**
   * Runs one fsync; a failure stops the store and is rethrown as it is.
   * Errors that say the fsync never ran (the directory could not be opened:
   * {@link NOT_REACHED_CODES}) are rethrown without stopping.
   * @param step - the protocol step the fsync belongs to.
   * @param fsync - the call.
   */
  async fsync(step: StoreWriteStep, fsync: () => Promise<void>): Promise<void> {
    if (this.#failure) throw this.error();
    try {
      await fsync();
    } catch (error) {
      if (!isErrnoError(error, ...NOT_REACHED_CODES)) this.#failure ??= { step, cause: error };
      throw error;
    }
  }

  /** The error every refused call throws. */
  error(): StoreFailStoppedError {
    const failure = this.#failure!;
    return new StoreFailStoppedError(this.#storePath, failure.step, failure.cause);
  }

  /** @throws {@link StoreFailStoppedError} once stopped. */
  throwIfStopped(): void {
    if (this.#failure) throw this.error();
  }
}

/** @internal Everything one store instance's parts share. */
export interface StoreContext {
  readonly options: ResolvedStoreOptions;
  readonly names: StoreFileNames;
  readonly memory: StoreMemory;
  readonly failStop: FailStop;
}

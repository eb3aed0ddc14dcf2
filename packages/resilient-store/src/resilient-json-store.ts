import { AsyncMutex } from "@beauvoir/mutex";
import { StoreInvalidStateError, StoreSerializeError, StoreTooLargeError } from "./errors.js";
import { StoreFileNames } from "./file-names.js";
import {
  type ResilientStoreOptions,
  type ResolvedStoreOptions,
  resolveStoreOptions,
} from "./options.js";
import { removeExpiredQuarantine } from "./quarantine-cleanup.js";
import {
  callerStateOf,
  RESERVED_KEYS,
  type SerializedState,
  serializeState,
} from "./serialization.js";
import { isPlainObject } from "./state-normalizer.js";
import { FailStop, type StoreContext, StoreMemory } from "./store-context.js";
import { StoreFileOperations } from "./store-file-operations.js";
import { inspectStore, type StoreInspection } from "./store-inspection.js";
import { StoreLoader } from "./store-loader.js";
import { StoreWriter } from "./store-writer.js";

/** Per-call options of the store's methods. */
export interface StoreCallOptions {
  /**
   * Cancels the wait for the store's mutex (behind another `set()`, say). Once
   * the call holds the mutex it runs to the end, so the files are never left
   * half-changed by an abort.
   */
  signal?: AbortSignal | undefined;
}

/**
 * A JSON state file that survives crashes and damaged bytes: every `set()`
 * writes a fsynced tmp file, keeps the previous file as `{path}.bak`, renames
 * the tmp into place and fsyncs the directory after each rename; every cold
 * read checks each file's checksum and falls back from the primary to the bak
 * to the newest complete tmp file, and quarantines what is damaged. Each file
 * carries `_checksum` (SHA-256 of the rest), `_schemaVersion` (migrated on
 * read) and `_writeEpoch` (grows by one on every write, across restarts).
 * No file is ever opened through a symbolic link; an fsync failure stops the
 * instance's writes (`FAIL_STOPPED`).
 *
 * One instance per file: the instance caches the state and its knowledge of
 * the files, and serializes its own calls with a mutex. For several processes,
 * guard the store with `@beauvoir/locks`.
 *
 * @typeParam T - the shape of the state (a plain JSON object).
 * @example
 * ```ts
 * const store = new ResilientJsonStore<{ lastSeenId: number }>({ path: "/var/lib/bot/cursor.json" });
 * const cursor = (await store.get()) ?? { lastSeenId: 0 };
 * await store.set({ lastSeenId: cursor.lastSeenId + 1 }); // durable once it resolves
 * ```
 */
export class ResilientJsonStore<T extends object> {
  readonly #context: StoreContext;
  readonly #writer: StoreWriter;
  readonly #loader: StoreLoader;
  // A write must never lose the mutex half-way, so no lease and no wait limit.
  readonly #mutex = new AsyncMutex({
    maxHoldMs: Number.POSITIVE_INFINITY,
    defaultTimeoutMs: Number.POSITIVE_INFINITY,
  });

  /**
   * @param options - `path` and the options of {@link ResilientStoreOptions}.
   * @throws TypeError or RangeError naming the option when an option is invalid.
   */
  constructor(options: ResilientStoreOptions<T>) {
    const resolved: ResolvedStoreOptions = resolveStoreOptions(options);
    this.#context = {
      options: resolved,
      names: new StoreFileNames(resolved.path),
      memory: new StoreMemory(),
      failStop: new FailStop(resolved.path),
    };
    const operations = new StoreFileOperations(this.#context);
    this.#writer = new StoreWriter(this.#context, operations);
    this.#loader = new StoreLoader(this.#context, operations, this.#writer);
  }

  /** The primary file. */
  get path(): string {
    return this.#context.options.path;
  }

  /** The schema version this store writes. */
  get schemaVersion(): number {
    return this.#context.options.schemaVersion;
  }

  /**
   * Returns the current state: from memory once loaded, otherwise through the
   * read fallback (primary, then bak, then the newest complete tmp file; a
   * file whose checksum does not match counts as damaged), migrating an older
   * schema and writing the result back.
   * @param options - `signal` to cancel the wait behind a running write.
   * @returns a fresh copy of the state (without the metadata keys) that the
   *   caller may change freely, or null when no state is stored (or every file
   *   was damaged and has been quarantined).
   * @throws {@link StoreSchemaTooNewError} when the file comes from a newer schema.
   * @throws {@link StoreMigrationMissingError} / {@link StoreMigrationFailedError} when it cannot be migrated.
   * @throws {@link StoreReadError} when a file exists but cannot be read.
   * @throws {@link StoreSymlinkError} (`SYMLINK_REFUSED`) when a file of the store is a symbolic link.
   * @throws {@link StoreTooLargeError} when a file is over `maxSizeBytes`.
   * @throws {@link StoreWriteError} when a needed repair (quarantine, tmp promotion) fails.
   * @throws {@link StoreFailStoppedError} (`FAIL_STOPPED`) when an fsync failed before the state was loaded.
   * @example
   * ```ts
   * const settings = (await store.get()) ?? defaults;
   * ```
   */
  async get(options: StoreCallOptions = {}): Promise<T | null> {
    const { memory } = this.#context;
    if (!memory.loaded) {
      const fresh = await this.#mutex.runExclusive(() => this.#loader.ensureLoaded(true), options);
      if (fresh) return fresh as T;
    }
    return memory.stateText === null ? null : (callerStateOf(memory.stateText) as T);
  }

  /**
   * Replaces the state, durably: when the promise resolves the new state is on
   * disk (tmp fsynced, directory fsynced after each rename). Concurrent calls
   * are applied one at a time in call order, so the last call wins. When it
   * rejects, the primary and bak files are left exactly as they were.
   * @param state - a plain object of JSON values; it is copied, so later
   *   changes to it do not reach the store.
   * @param options - `signal` to cancel the wait behind another write.
   * @returns once the state is durable.
   * @throws {@link StoreInvalidStateError} when `state` is not a plain object, uses a reserved key, or fails `validate`.
   * @throws {@link StoreSerializeError} when a value has no faithful JSON form, a getter,
   *   `toJSON` or proxy trap of it throws, or it nests deeper than 1,000 levels.
   * @throws {@link StoreTooLargeError} when the file would exceed `maxSizeBytes`.
   * @throws {@link StoreWriteError} when the filesystem fails (ENOSPC, EACCES, EIO…).
   * @throws {@link StoreFailStoppedError} (`FAIL_STOPPED`) when an fsync failed, in this call or an earlier one.
   * @throws {@link StoreSchemaTooNewError} / {@link StoreMigrationMissingError} when the
   *   existing file cannot be understood, rather than overwrite it.
   * @example
   * ```ts
   * await store.set({ lastSeenId: 42 });
   * ```
   */
  async set(state: T, options: StoreCallOptions = {}): Promise<void> {
    assertCallOptions(options);
    const serialized = this.#serializeForSet(state);
    const { maxSizeBytes } = this.#context.options;
    // The epoch's digits are not known yet; one digit is the least it adds.
    if (serialized.byteLength + 1 > maxSizeBytes) {
      throw new StoreTooLargeError(this.path, serialized.byteLength + 1, maxSizeBytes);
    }
    await this.#mutex.runExclusive(async () => {
      this.#context.failStop.throwIfStopped();
      await this.#loader.ensureLoaded(false);
      await this.#writer.write(serialized);
    }, options);
  }

  /**
   * Deletes the state: the primary, bak and tmp files (quarantined files stay
   * until {@link ResilientJsonStore.cleanupQuarantine}). The primary goes last,
   * so a failure half-way leaves the state readable.
   * @param options - `signal` to cancel the wait behind a write.
   * @returns once the deletion is durable.
   * @throws {@link StoreWriteError} (step `remove` or `fsync-directory`) when the filesystem fails.
   * @throws {@link StoreFailStoppedError} (`FAIL_STOPPED`) when an fsync failed, in this call or an earlier one.
   * @example
   * ```ts
   * await store.clear();
   * await store.get(); // null
   * ```
   */
  async clear(options: StoreCallOptions = {}): Promise<void> {
    assertCallOptions(options);
    await this.#mutex.runExclusive(() => this.#writer.clear(), options);
  }

  /**
   * Tells whether a state is stored (loading it, with the read fallback, when
   * this instance has not read it yet).
   * @param options - `signal` to cancel the wait behind a write.
   * @returns true when `get()` would return a state.
   * @throws the errors of {@link ResilientJsonStore.get}.
   * @example
   * ```ts
   * if (!(await store.exists())) await store.set(defaults);
   * ```
   */
  async exists(options: StoreCallOptions = {}): Promise<boolean> {
    const { memory } = this.#context;
    if (!memory.loaded) {
      await this.#mutex.runExclusive(() => this.#loader.ensureLoaded(true), options);
    }
    return memory.stateText !== null;
  }

  /**
   * Reports this store's files and their health without changing anything
   * (see {@link inspectStore}): it neither takes the mutex nor uses what this
   * instance has cached, so it shows what is on disk now.
   * @returns the primary, the bak, tmp and quarantine files, and which one would serve.
   * @example
   * ```ts
   * const { primary } = await store.inspect();
   * if (primary.health === "checksum-mismatch") alert("state file damaged");
   * ```
   */
  inspect(): Promise<StoreInspection> {
    const { fs, maxSizeBytes } = this.#context.options;
    return inspectStore({ path: this.path, fs, maxSizeBytes });
  }

  /**
   * Deletes this store's quarantine files older than `quarantineRetentionMs`
   * (by the time in their name, when they were quarantined).
   * @returns how many files were deleted.
   * @throws the filesystem error when the directory cannot be listed or a file cannot be deleted.
   * @example
   * ```ts
   * const deleted = await store.cleanupQuarantine();
   * ```
   */
  cleanupQuarantine(): Promise<number> {
    const { options, names } = this.#context;
    return removeExpiredQuarantine({
      fs: options.fs,
      directory: names.directory,
      pathOf: (entry) => names.inDirectory(entry),
      timestampOf: (entry) => names.quarantineTimestamp(entry),
      now: options.clock.now(),
      retentionMs: options.quarantineRetentionMs,
      logger: options.logger,
    });
  }

  #serializeForSet(state: T): SerializedState {
    const { schemaVersion, validate, logger } = this.#context.options;
    let plain: boolean;
    try {
      plain = isPlainObject(state);
    } catch (error) {
      throw new StoreSerializeError(this.path, "$", "reading its prototype threw", error);
    }
    if (!plain) {
      throw new StoreInvalidStateError(
        this.path,
        `the state must be a plain object, got ${describeNonPlain(state)}`,
      );
    }
    for (const key of RESERVED_KEYS) {
      let reserved: boolean;
      try {
        reserved = Object.hasOwn(state, key);
      } catch (error) {
        throw new StoreSerializeError(this.path, "$", "reading its keys threw", error);
      }
      if (reserved) {
        throw new StoreInvalidStateError(this.path, `${key} is reserved; the store writes it`);
      }
    }
    if (validate) {
      let valid: boolean;
      try {
        valid = validate(state);
      } catch (error) {
        throw new StoreInvalidStateError(this.path, "validate threw", error);
      }
      if (!valid) throw new StoreInvalidStateError(this.path, "validate returned false");
    }
    const serialized = serializeState(state as Record<string, unknown>, schemaVersion, this.path);
    if (serialized.droppedProtoKeys > 0) {
      logger.warn("Dropped __proto__ keys from a state before storing it", {
        path: this.path,
        count: serialized.droppedProtoKeys,
      });
    }
    return serialized;
  }
}

/** Checks per-call options before anything is read or written. */
function assertCallOptions(options: StoreCallOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("options must be an object like { signal }");
  }
  const { signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError("signal must be an AbortSignal");
  }
}

function describeNonPlain(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (typeof value !== "object" || value === null) return String(value);
  const name = (value as { constructor?: { name?: string } }).constructor?.name;
  return name && name !== "Object" ? `a ${name} instance` : "an object with a custom prototype";
}

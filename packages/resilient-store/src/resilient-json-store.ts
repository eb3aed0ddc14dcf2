import { basename } from "node:path";
import { isErrnoError } from "@beauvoir/core";
import { AsyncMutex } from "@beauvoir/mutex";
import {
  StoreInvalidStateError,
  StoreMigrationFailedError,
  StoreMigrationMissingError,
  StoreReadError,
  StoreSchemaTooNewError,
  StoreSerializeError,
  StoreTooLargeError,
  StoreWriteError,
  type StoreWriteStep,
} from "./errors.js";
import { StoreFileNames } from "./file-names.js";
import {
  type ResilientStoreOptions,
  type ResolvedStoreOptions,
  resolveStoreOptions,
} from "./options.js";
import { removeExpiredQuarantine } from "./quarantine-cleanup.js";
import {
  callerStateOf,
  composeFileText,
  isPlainObject,
  type ParsedFile,
  parseFileText,
  SCHEMA_VERSION_KEY,
  type SerializedState,
  serializeState,
  WRITE_EPOCH_KEY,
} from "./serialization.js";

/** Per-call options of the store's methods. */
export interface StoreCallOptions {
  /**
   * Cancels the wait for the store's mutex (behind another `set()`, say). Once
   * the call holds the mutex it runs to the end, so the files are never left
   * half-changed by an abort.
   */
  signal?: AbortSignal;
}

/** Where a state came from on read. */
type SourceKind = "primary" | "bak" | "tmp";

/** One file read while loading; parsed only when needed. */
class LoadedFile {
  #parsed: ParsedFile | undefined;

  constructor(
    readonly file: string,
    readonly bytes: Buffer,
    readonly text: string,
  ) {}

  get parsed(): ParsedFile {
    this.#parsed ??= parseFileText(this.text);
    return this.#parsed;
  }

  /** The epoch as written, or -Infinity when the file has none that can be read. */
  get epoch(): number {
    return this.parsed.ok ? this.parsed.writeEpoch : Number.NEGATIVE_INFINITY;
  }

  /**
   * An epoch for the epoch floor without parsing the whole file when it is in
   * the store's own format (a raw newline never occurs inside a JSON string, so
   * this line can only be the top-level key). A torn file may still show one:
   * a higher floor is always safe.
   */
  get epochHint(): number {
    if (this.#parsed === undefined) {
      const match = /\n {2}"_writeEpoch": (\d+)[,\n]/.exec(this.text);
      if (match) return Number(match[1]);
    }
    return this.epoch;
  }
}

/** A file whose content was accepted as the current state. */
interface AcceptedSource {
  readonly kind: SourceKind;
  readonly file: LoadedFile;
  readonly writeEpoch: number;
  /** The file text to serve `get()` from. */
  readonly stateText: string;
  /** Set when the state had to be rewritten (migrated, or `__proto__` keys dropped). */
  readonly serialized: SerializedState | undefined;
  readonly migrated: boolean;
  /** A parsed copy nobody else holds, for the `get()` that triggered the load. */
  readonly freshState: Record<string, unknown> | undefined;
}

/** Reserved state keys; the store writes them itself. */
const RESERVED_KEYS = [SCHEMA_VERSION_KEY, WRITE_EPOCH_KEY] as const;

/**
 * A JSON state file that survives crashes: every `set()` writes a fsynced tmp
 * file, keeps the previous file as `{path}.bak`, renames the tmp into place
 * and fsyncs the directory after each rename; every cold read falls back from
 * the primary to the bak to the newest complete tmp file, and quarantines what
 * is corrupt. Each file carries `_schemaVersion` (migrated on read) and
 * `_writeEpoch` (grows by one on every write, across restarts).
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
  readonly #options: ResolvedStoreOptions;
  readonly #names: StoreFileNames;
  // A write must never lose the mutex half-way, so no lease and no wait limit.
  readonly #mutex = new AsyncMutex({
    maxHoldMs: Number.POSITIVE_INFINITY,
    defaultTimeoutMs: Number.POSITIVE_INFINITY,
  });

  #loaded = false;
  /** The file text of the current state (what `get()` parses), or null when there is none. */
  #stateText: string | null = null;
  /** The highest `_writeEpoch` seen on disk or written by this instance. */
  #epoch = 0;
  /** What `{path}` and `{path}.bak` hold, as far as this instance knows: for rollbacks. */
  #primaryBytes: Buffer | null = null;
  #bakBytes: Buffer | null = null;
  /** Tmp files left by crashed writers with an epoch above the state read; removed after the next write. */
  readonly #staleTmps = new Set<string>();

  /**
   * @param options - `path` and the options of {@link ResilientStoreOptions}.
   * @throws TypeError or RangeError naming the option when an option is invalid.
   */
  constructor(options: ResilientStoreOptions<T>) {
    this.#options = resolveStoreOptions(options);
    this.#names = new StoreFileNames(this.#options.path);
  }

  /** The primary file. */
  get path(): string {
    return this.#options.path;
  }

  /** The schema version this store writes. */
  get schemaVersion(): number {
    return this.#options.schemaVersion;
  }

  /**
   * Returns the current state: from memory once loaded, otherwise through the
   * read fallback (primary, then bak, then the newest complete tmp file),
   * migrating an older schema and writing the result back.
   * @param options - `signal` to cancel the wait behind a running write.
   * @returns a fresh copy of the state (without `_schemaVersion` and
   *   `_writeEpoch`) that the caller may change freely, or null when no state
   *   is stored (or every file was corrupt and has been quarantined).
   * @throws {@link StoreSchemaTooNewError} when the file comes from a newer schema.
   * @throws {@link StoreMigrationMissingError} / {@link StoreMigrationFailedError} when it cannot be migrated.
   * @throws {@link StoreReadError} when a file exists but cannot be read.
   * @throws {@link StoreTooLargeError} when a file is over `maxSizeBytes`.
   * @throws {@link StoreWriteError} when a needed repair (quarantine, tmp promotion) fails.
   * @example
   * ```ts
   * const settings = (await store.get()) ?? defaults;
   * ```
   */
  async get(options: StoreCallOptions = {}): Promise<T | null> {
    if (!this.#loaded) {
      const fresh = await this.#mutex.runExclusive(() => this.#ensureLoaded(true), options);
      if (fresh) return fresh as T;
    }
    return this.#stateText === null ? null : (callerStateOf(this.#stateText) as T);
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
   * @throws {@link StoreSerializeError} when a value has no faithful JSON form.
   * @throws {@link StoreTooLargeError} when the file would exceed `maxSizeBytes`.
   * @throws {@link StoreWriteError} when the filesystem fails (ENOSPC, EACCES, EIO…).
   * @throws {@link StoreSchemaTooNewError} / {@link StoreMigrationMissingError} when the
   *   existing file cannot be understood, rather than overwrite it.
   * @example
   * ```ts
   * await store.set({ lastSeenId: 42 });
   * ```
   */
  async set(state: T, options: StoreCallOptions = {}): Promise<void> {
    const serialized = this.#serializeForSet(state);
    // The epoch's digits are not known yet; one digit is the least it adds.
    if (serialized.byteLength + 1 > this.#options.maxSizeBytes) {
      throw new StoreTooLargeError(
        this.path,
        serialized.byteLength + 1,
        this.#options.maxSizeBytes,
      );
    }
    await this.#mutex.runExclusive(async () => {
      await this.#ensureLoaded(false);
      await this.#write(serialized);
    }, options);
  }

  /**
   * Deletes the state: the primary, bak and tmp files (quarantined files stay
   * until {@link ResilientJsonStore.cleanupQuarantine}). The primary goes last,
   * so a failure half-way leaves the state readable.
   * @param options - `signal` to cancel the wait behind a write.
   * @returns once the deletion is durable.
   * @throws {@link StoreWriteError} (step `remove` or `fsync-directory`) when the filesystem fails.
   * @example
   * ```ts
   * await store.clear();
   * await store.get(); // null
   * ```
   */
  async clear(options: StoreCallOptions = {}): Promise<void> {
    await this.#mutex.runExclusive(async () => {
      let step: StoreWriteStep = "remove";
      try {
        const files = [...(await this.#listTmpFiles()), this.#names.bak, this.#names.primary];
        for (const file of files) await this.#unlinkIfPresent(file);
        step = "fsync-directory";
        await this.#fsyncDirectoryIfPresent();
      } catch (error) {
        this.#loaded = false;
        throw StoreReadError.isInstance(error)
          ? error
          : new StoreWriteError(this.path, step, false, error);
      }
      this.#loaded = true;
      this.#stateText = null;
      this.#primaryBytes = null;
      this.#bakBytes = null;
      this.#staleTmps.clear();
    }, options);
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
    if (!this.#loaded) {
      await this.#mutex.runExclusive(() => this.#ensureLoaded(true), options);
    }
    return this.#stateText !== null;
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
    return removeExpiredQuarantine({
      fs: this.#options.fs,
      directory: this.#names.directory,
      pathOf: (entry) => this.#names.inDirectory(entry),
      timestampOf: (entry) => this.#names.quarantineTimestamp(entry),
      now: this.#options.clock.now(),
      retentionMs: this.#options.quarantineRetentionMs,
      logger: this.#options.logger,
    });
  }

  // ---------------------------------------------------------------- set()

  #serializeForSet(state: T): SerializedState {
    if (!isPlainObject(state)) {
      throw new StoreInvalidStateError(
        this.path,
        `the state must be a plain object, got ${describeNonPlain(state)}`,
      );
    }
    for (const key of RESERVED_KEYS) {
      if (Object.hasOwn(state, key)) {
        throw new StoreInvalidStateError(this.path, `${key} is reserved; the store writes it`);
      }
    }
    const { validate } = this.#options;
    if (validate) {
      let valid: boolean;
      try {
        valid = validate(state);
      } catch (error) {
        throw new StoreInvalidStateError(this.path, "validate threw", error);
      }
      if (!valid) throw new StoreInvalidStateError(this.path, "validate returned false");
    }
    const serialized = serializeState(state, this.#options.schemaVersion, this.path);
    if (serialized.droppedProtoKeys > 0) {
      this.#options.logger.warn("Dropped __proto__ keys from a state before storing it", {
        path: this.path,
        count: serialized.droppedProtoKeys,
      });
    }
    return serialized;
  }

  #checkSize(text: string): Buffer {
    const bytes = Buffer.from(text, "utf8");
    if (bytes.length > this.#options.maxSizeBytes) {
      throw new StoreTooLargeError(this.path, bytes.length, this.#options.maxSizeBytes);
    }
    return bytes;
  }

  /**
   * The write protocol, inside the mutex: tmp (exclusive create, fsync), primary
   * to bak + directory fsync, tmp to primary + directory fsync. Any failure is
   * rolled back so the primary and bak hold what they held before.
   */
  async #write(serialized: SerializedState): Promise<void> {
    const { fs } = this.#options;
    const names = this.#names;
    const epoch = this.#epoch + 1;
    const text = composeFileText(serialized, epoch);
    const bytes = this.#checkSize(text);
    // Even a failed write consumes its epoch: a torn tmp file may carry it.
    this.#epoch = epoch;
    const tmp = names.tmp();
    try {
      await this.#writeNewFile(tmp, bytes);
    } catch (error) {
      if (StoreWriteError.isInstance(error)) throw error;
      const rolledBack = await this.#rollback(
        { movedPrimary: false, placedTmp: false, tmp },
        error,
      );
      throw new StoreWriteError(this.path, "write-tmp", rolledBack, error);
    }
    let step: StoreWriteStep = "rename-primary-to-bak";
    let movedPrimary = false;
    let placedTmp = false;
    try {
      try {
        await fs.rename(names.primary, names.bak);
        movedPrimary = true;
      } catch (error) {
        if (!isErrnoError(error, "ENOENT")) throw error;
      }
      if (movedPrimary) {
        step = "fsync-directory";
        await fs.fsyncDirectory(names.directory);
      }
      step = "rename-tmp-to-primary";
      await fs.rename(tmp, names.primary);
      placedTmp = true;
      step = "fsync-directory";
      await fs.fsyncDirectory(names.directory);
    } catch (error) {
      const rolledBack = await this.#rollback({ movedPrimary, placedTmp, tmp }, error);
      throw new StoreWriteError(this.path, step, rolledBack, error);
    }
    if (movedPrimary) this.#bakBytes = this.#primaryBytes;
    this.#primaryBytes = bytes;
    this.#stateText = text;
    await this.#removeStaleTmps();
  }

  /**
   * Puts the primary and bak back as they were before a failed write: the old
   * primary returns from bak, the old bak is rewritten from the bytes this
   * instance knows it held, the tmp file goes.
   * @returns whether the files are back as they were.
   */
  async #rollback(
    progress: { movedPrimary: boolean; placedTmp: boolean; tmp: string },
    cause: unknown,
  ): Promise<boolean> {
    const { fs } = this.#options;
    const names = this.#names;
    try {
      if (progress.movedPrimary) {
        await fs.rename(names.bak, names.primary);
        await this.#unlinkIfPresent(progress.tmp);
        if (this.#bakBytes !== null) {
          await this.#writeNewFile(progress.tmp, this.#bakBytes);
          await fs.rename(progress.tmp, names.bak);
        }
      } else {
        if (progress.placedTmp) await fs.unlink(names.primary);
        await this.#unlinkIfPresent(progress.tmp);
      }
      if (progress.movedPrimary || progress.placedTmp) await fs.fsyncDirectory(names.directory);
      return true;
    } catch (rollbackError) {
      // What this instance believes about the files is no longer reliable.
      this.#loaded = false;
      this.#options.logger.error("Could not roll back a failed write; will reload from disk", {
        path: this.path,
        error: rollbackError,
        cause,
      });
      return false;
    }
  }

  /** Creates `file` (0600, exclusive) with `bytes`, fsynced and closed. */
  async #writeNewFile(file: string, bytes: Buffer): Promise<void> {
    const { fs } = this.#options;
    let handle: Awaited<ReturnType<typeof fs.open>>;
    try {
      handle = await fs.open(file, "wx", 0o600);
    } catch (error) {
      if (isErrnoError(error, "EEXIST")) {
        // Our pid's name is taken only by a dead process that had the same pid
        // (this instance never writes twice at once): its tmp is stale.
        await fs.unlink(file);
      } else if (isErrnoError(error, "ENOENT")) {
        await this.#createDirectory();
      } else {
        throw error;
      }
      handle = await fs.open(file, "wx", 0o600);
    }
    try {
      let offset = 0;
      while (offset < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, offset);
        if (!(bytesWritten > 0)) {
          throw Object.assign(new Error(`write to ${file} made no progress`), { code: "EIO" });
        }
        offset += bytesWritten;
      }
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
    await handle.close();
  }

  async #createDirectory(): Promise<void> {
    const { fs } = this.#options;
    try {
      await fs.mkdir(this.#names.directory, { recursive: true, mode: 0o700 });
      await fs.fsyncDirectory(this.#names.inDirectory(".."));
    } catch (error) {
      throw new StoreWriteError(this.path, "create-directory", true, error);
    }
  }

  async #removeStaleTmps(): Promise<void> {
    for (const file of this.#staleTmps) {
      try {
        await this.#unlinkIfPresent(file);
        this.#staleTmps.delete(file);
      } catch (error) {
        this.#options.logger.warn("Could not delete a stale tmp file", { file, error });
      }
    }
  }

  // ---------------------------------------------------------------- reads

  /**
   * Loads the state once: reads primary, bak and every tmp file (so the epoch
   * is learnt from all of them before the first write), picks the source,
   * repairs (quarantine, tmp promotion, stale tmp cleanup), and, when asked,
   * writes a migrated state back.
   */
  async #ensureLoaded(writeBackMigration: boolean): Promise<Record<string, unknown> | undefined> {
    if (this.#loaded) return undefined;
    const names = this.#names;
    const primary = await this.#readStoreFile(names.primary);
    const bak = await this.#readStoreFile(names.bak);
    const tmps: LoadedFile[] = [];
    for (const file of await this.#listTmpFiles()) {
      const loaded = await this.#readStoreFile(file);
      if (loaded) tmps.push(loaded);
    }

    let source = await this.#firstAccepted([
      ["primary", primary],
      ["bak", bak],
    ]);
    if (!source) {
      // A tmp file is only newer than both when its write got past the fsync.
      const floor = Math.max(primary?.epoch ?? -1, bak?.epoch ?? -1);
      const newerTmps = tmps.filter((tmp) => tmp.epoch > floor).sort((a, b) => b.epoch - a.epoch);
      source = await this.#firstAccepted(newerTmps.map((tmp) => ["tmp", tmp] as const));
    }
    // Every file's epoch counts, so the next write is above all of them.
    let highestEpoch = this.#epoch;
    for (const loaded of [primary, bak, ...tmps]) {
      if (loaded) highestEpoch = Math.max(highestEpoch, loaded.epochHint);
    }

    const sourceEpoch = source ? source.writeEpoch : Number.NEGATIVE_INFINITY;
    let primaryBytes = primary?.bytes ?? null;
    let bakBytes = bak?.bytes ?? null;
    if (primary && source?.file !== primary) {
      await this.#quarantine(primary, "");
      primaryBytes = null;
    }
    if (bak && source?.kind !== "primary" && source?.file !== bak) {
      await this.#quarantine(bak, "bak");
      bakBytes = null;
    }
    if (source?.kind === "tmp") {
      await this.#promote(source.file);
      primaryBytes = source.file.bytes;
    }
    this.#staleTmps.clear();
    for (const tmp of tmps) {
      if (tmp === source?.file) continue;
      if (!tmp.parsed.ok) {
        // A torn write from a crash, not corruption: nothing to keep.
        await this.#removeQuietly(tmp.file);
      } else if (!source) {
        await this.#quarantine(tmp, `tmp${this.#names.tmpPid(basename(tmp.file))}`);
      } else if (tmp.epoch <= sourceEpoch) {
        await this.#removeQuietly(tmp.file);
      } else {
        this.#staleTmps.add(tmp.file);
      }
    }
    if (source && source.kind !== "primary") {
      this.#options.logger.warn(`Recovered state from the ${source.kind} file`, {
        path: this.path,
        file: source.file.file,
        writeEpoch: source.writeEpoch,
      });
    }

    this.#epoch = highestEpoch;
    this.#primaryBytes = primaryBytes;
    this.#bakBytes = bakBytes;
    this.#stateText = source ? source.stateText : null;
    this.#loaded = true;

    if (source?.migrated && source.serialized && writeBackMigration) {
      try {
        await this.#write(source.serialized);
      } catch (error) {
        this.#options.logger.warn("Could not write the migrated state back; serving it anyway", {
          path: this.path,
          error,
        });
      }
    }
    return source?.freshState;
  }

  /** The first candidate whose content is accepted (parsed, migrated, valid). */
  async #firstAccepted(
    candidates: ReadonlyArray<readonly [SourceKind, LoadedFile | null]>,
  ): Promise<AcceptedSource | undefined> {
    for (const [kind, file] of candidates) {
      if (!file) continue;
      const accepted = await this.#accept(kind, file);
      if (accepted) return accepted;
    }
    return undefined;
  }

  /**
   * Checks one file: parse, schema version, migrations, `validate`.
   * @returns the accepted source, or undefined when the file is corrupt.
   * @throws when the file is fine but this code cannot use it (newer schema, missing or failing migration).
   */
  async #accept(kind: SourceKind, file: LoadedFile): Promise<AcceptedSource | undefined> {
    const { parsed } = file;
    const { schemaVersion, migrations, validate, logger } = this.#options;
    if (!parsed.ok) {
      logger.warn("Store file is corrupt", {
        path: this.path,
        file: file.file,
        reason: parsed.reason,
      });
      return undefined;
    }
    if (parsed.schemaVersion > schemaVersion) {
      throw new StoreSchemaTooNewError(this.path, file.file, parsed.schemaVersion, schemaVersion);
    }
    if (parsed.droppedProtoKeys > 0) {
      logger.warn("Ignored __proto__ keys in a store file", {
        path: this.path,
        file: file.file,
        count: parsed.droppedProtoKeys,
      });
    }
    let state: unknown = parsed.state;
    for (let version = parsed.schemaVersion; version < schemaVersion; version++) {
      const migration = migrations.get(version);
      if (!migration) {
        throw new StoreMigrationMissingError(
          this.path,
          version,
          parsed.schemaVersion,
          schemaVersion,
        );
      }
      try {
        state = await migration(state);
      } catch (error) {
        throw new StoreMigrationFailedError(this.path, version, "the migration threw", error);
      }
      if (!isPlainObject(state)) {
        throw new StoreMigrationFailedError(this.path, version, "it did not return a plain object");
      }
      const reserved = RESERVED_KEYS.find((key) => Object.hasOwn(state as object, key));
      if (reserved) {
        throw new StoreMigrationFailedError(
          this.path,
          version,
          `it returned the reserved key ${reserved}`,
        );
      }
    }
    const migrated = parsed.schemaVersion < schemaVersion;
    // The file's own text is served as is, unless the state had to change.
    let serialized: SerializedState | undefined;
    let stateText = file.text;
    if (migrated || parsed.droppedProtoKeys > 0) {
      try {
        serialized = serializeState(state as Record<string, unknown>, schemaVersion, this.path);
      } catch (error) {
        if (!StoreSerializeError.isInstance(error)) throw error;
        throw new StoreMigrationFailedError(this.path, schemaVersion - 1, error.message, error);
      }
      stateText = composeFileText(serialized, parsed.writeEpoch);
    }
    if (validate) {
      // Validated after the text was taken, so validate cannot change what is served.
      let valid = false;
      let reason = "validate returned false";
      try {
        valid = validate(state);
      } catch (error) {
        reason = `validate threw: ${(error as Error)?.message ?? String(error)}`;
      }
      if (!valid) {
        logger.warn("Store file failed validation", { path: this.path, file: file.file, reason });
        return undefined;
      }
    }
    return {
      kind,
      file,
      writeEpoch: parsed.writeEpoch,
      stateText,
      serialized,
      migrated,
      // Migrations and validate saw this object and may keep a reference to it.
      freshState: migrated || validate ? undefined : (state as Record<string, unknown>),
    };
  }

  /** Reads a store file; null when it does not exist. */
  async #readStoreFile(file: string): Promise<LoadedFile | null> {
    const { fs, maxSizeBytes } = this.#options;
    let bytes: Buffer;
    try {
      const { size } = await fs.stat(file);
      if (size > maxSizeBytes) {
        throw new StoreTooLargeError(this.path, size, maxSizeBytes, `file ${file}`);
      }
      bytes = await fs.readFile(file);
    } catch (error) {
      if (isErrnoError(error, "ENOENT")) return null;
      if (StoreTooLargeError.isInstance(error)) throw error;
      throw new StoreReadError(this.path, file, error);
    }
    return new LoadedFile(file, bytes, bytes.toString("utf8"));
  }

  async #listTmpFiles(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await this.#options.fs.readdir(this.#names.directory);
    } catch (error) {
      if (isErrnoError(error, "ENOENT")) return [];
      throw new StoreReadError(this.path, this.#names.directory, error);
    }
    return entries
      .filter((entry) => this.#names.isTmp(entry))
      .sort()
      .map((entry) => this.#names.inDirectory(entry));
  }

  /** Moves a corrupt file aside as `{path}.quarantine.{timestamp}[-origin]`, never over another one. */
  async #quarantine(file: LoadedFile, origin: string): Promise<void> {
    const { fs, clock, logger } = this.#options;
    const timestamp = clock.now();
    try {
      let target = this.#names.quarantine(timestamp, origin, 0);
      for (let attempt = 1; await this.#existsOnDisk(target); attempt++) {
        target = this.#names.quarantine(timestamp, origin, attempt);
      }
      await fs.rename(file.file, target);
      await fs.fsyncDirectory(this.#names.directory);
      logger.warn("Quarantined a corrupt store file", {
        path: this.path,
        file: file.file,
        quarantinedAs: target,
        reason: file.parsed.ok ? "rejected by schema or validate" : file.parsed.reason,
      });
    } catch (error) {
      throw new StoreWriteError(this.path, "quarantine", true, error);
    }
  }

  /** Makes a recovered tmp file the primary, so the state no longer lives under a tmp name. */
  async #promote(file: LoadedFile): Promise<void> {
    const { fs } = this.#options;
    try {
      await fs.rename(file.file, this.#names.primary);
      await fs.fsyncDirectory(this.#names.directory);
    } catch (error) {
      this.#loaded = false;
      throw new StoreWriteError(this.path, "promote-tmp", true, error);
    }
  }

  async #existsOnDisk(file: string): Promise<boolean> {
    try {
      await this.#options.fs.stat(file);
      return true;
    } catch (error) {
      if (isErrnoError(error, "ENOENT")) return false;
      throw error;
    }
  }

  async #unlinkIfPresent(file: string): Promise<void> {
    try {
      await this.#options.fs.unlink(file);
    } catch (error) {
      if (!isErrnoError(error, "ENOENT")) throw error;
    }
  }

  /** Deletes a leftover tmp file; a failure only costs disk space, so it is logged, not thrown. */
  async #removeQuietly(file: string): Promise<void> {
    try {
      await this.#unlinkIfPresent(file);
    } catch (error) {
      this.#options.logger.warn("Could not delete a leftover tmp file", { file, error });
    }
  }

  async #fsyncDirectoryIfPresent(): Promise<void> {
    try {
      await this.#options.fs.fsyncDirectory(this.#names.directory);
    } catch (error) {
      if (!isErrnoError(error, "ENOENT")) throw error;
    }
  }
}

function describeNonPlain(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (typeof value !== "object" || value === null) return String(value);
  const name = (value as { constructor?: { name?: string } }).constructor?.name;
  return name && name !== "Object" ? `a ${name} instance` : "an object with a custom prototype";
}

import { join } from "node:path";
import {
  assertSafeName,
  type Clock,
  type FileSystem,
  type Logger,
  nodeFileSystem,
  silentLogger,
  systemClock,
} from "@beauvoir/core";
import { anyStoreQuarantineTimestamp, storeNameOfEntry } from "./file-names.js";
import {
  assertClock,
  assertFileSystem,
  assertLogger,
  assertRetention,
  RESILIENT_STORE_DEFAULTS,
  type ResilientStoreOptions,
} from "./options.js";
import { removeExpiredQuarantine } from "./quarantine-cleanup.js";
import { ResilientJsonStore } from "./resilient-json-store.js";
import { listStoreDirectory } from "./store-file-reader.js";
import { inspectStore, type StoreInspection } from "./store-inspection.js";

/** Options of {@link ResilientStoreFactory}. */
export interface ResilientStoreFactoryOptions {
  /** The directory holding every store's files; created (mode 0700) on the first write. */
  baseDir: string;
  /** Shared by every store the factory creates. @default silentLogger */
  logger?: Logger | undefined;
  /** Shared by every store. @default systemClock */
  clock?: Clock | undefined;
  /** Shared by every store. @default nodeFileSystem */
  fs?: FileSystem | undefined;
  /**
   * Retention used by the factory's {@link ResilientStoreFactory.cleanupQuarantine}.
   * @default 604_800_000 (7 days)
   */
  quarantineRetentionMs?: number | undefined;
}

/** What {@link ResilientStoreFactory.create} accepts: a store's options minus what the factory supplies. */
export type ResilientStoreConfig<T extends object> = Omit<
  ResilientStoreOptions<T>,
  "path" | "logger" | "clock" | "fs"
>;

/**
 * Creates typed stores in one directory, as `{baseDir}/{name}.json`, sharing
 * one logger, clock and filesystem.
 *
 * @example
 * ```ts
 * const stores = new ResilientStoreFactory({ baseDir: "/var/lib/bot/state", logger });
 * const cursor = stores.create<{ lastSeenId: number }>("cursor");
 * await stores.cleanupQuarantine(); // at boot
 * ```
 */
export class ResilientStoreFactory {
  readonly #baseDir: string;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #fs: FileSystem;
  readonly #quarantineRetentionMs: number;

  /**
   * @param options - `baseDir`, and the shared logger, clock and fs.
   * @throws TypeError naming the option when `baseDir` or `logger` is invalid.
   * @throws RangeError when `quarantineRetentionMs` is negative.
   */
  constructor(options: ResilientStoreFactoryOptions) {
    if (typeof options?.baseDir !== "string" || options.baseDir.length === 0) {
      throw new TypeError("baseDir must be a non-empty string");
    }
    this.#baseDir = options.baseDir;
    this.#logger = assertLogger(options.logger ?? silentLogger);
    this.#clock = assertClock(options.clock ?? systemClock);
    this.#fs = assertFileSystem(options.fs ?? nodeFileSystem);
    this.#quarantineRetentionMs =
      options.quarantineRetentionMs ?? RESILIENT_STORE_DEFAULTS.quarantineRetentionMs;
    assertRetention(this.#quarantineRetentionMs);
  }

  /** The directory of the stores. */
  get baseDir(): string {
    return this.#baseDir;
  }

  /**
   * Creates the store `{baseDir}/{name}.json`. Create each name once and share
   * the instance: two instances on one file do not see each other's writes.
   * @param name - the store's name: no path separators, `..`, NUL or control
   *   characters, not empty, at most 200 characters.
   * @param config - schema version, migrations, size limit, validation, retention.
   * @returns the store.
   * @throws `InvalidNameError` from `@beauvoir/core` (`INVALID_NAME`) when the name could escape `baseDir`.
   * @throws TypeError or RangeError naming the option when `config` is invalid.
   * @example
   * ```ts
   * const dedup = stores.create<DedupState>("dedup-index", { schemaVersion: 2, migrations: { 1: addTtl } });
   * ```
   */
  create<T extends object>(
    name: string,
    config: ResilientStoreConfig<T> = {},
  ): ResilientJsonStore<T> {
    assertSafeName(name);
    return new ResilientJsonStore<T>({
      ...config,
      path: join(this.#baseDir, `${name}.json`),
      logger: this.#logger,
      clock: this.#clock,
      fs: this.#fs,
    });
  }

  /**
   * Reports the files of the store `{baseDir}/{name}.json` and their health,
   * read-only (see `inspectStore`): nothing is written, renamed or cleaned
   * up, so it is safe while the program that owns the stores runs.
   * @param name - the store's name, checked like in {@link ResilientStoreFactory.create}.
   * @returns the primary, the bak, tmp and quarantine files, and which one would serve.
   * @throws `InvalidNameError` (`INVALID_NAME`) for an unsafe name.
   * @example
   * ```ts
   * const { primary, bak } = await stores.inspect("cursor");
   * ```
   */
  async inspect(name: string): Promise<StoreInspection> {
    assertSafeName(name);
    return inspectStore({ path: join(this.#baseDir, `${name}.json`), fs: this.#fs });
  }

  /**
   * Lists the names of the stores in `baseDir`: every `{name}.json` with a
   * primary, a bak or a tmp file (quarantine files alone do not count), read-only.
   * @returns the names, sorted; none when `baseDir` does not exist.
   * @throws `StoreReadError` when `baseDir` exists but cannot be listed.
   * @example
   * ```ts
   * for (const name of await stores.listStoreNames()) console.log(name, (await stores.inspect(name)).current);
   * ```
   */
  async listStoreNames(): Promise<string[]> {
    const entries = await listStoreDirectory(this.#fs, this.#baseDir, this.#baseDir);
    const names = new Set<string>();
    for (const entry of entries) {
      const name = storeNameOfEntry(entry);
      if (name !== undefined) names.add(name);
    }
    return [...names].sort();
  }

  /**
   * Deletes the quarantine files of every store in `baseDir` (any
   * `*.json.quarantine.*` file, including stores not created in this process)
   * older than `quarantineRetentionMs`.
   * @returns how many files were deleted.
   * @throws the filesystem error when the directory cannot be listed or a file cannot be deleted.
   * @example
   * ```ts
   * logger.info("quarantine cleaned", { deleted: await stores.cleanupQuarantine() });
   * ```
   */
  cleanupQuarantine(): Promise<number> {
    return removeExpiredQuarantine({
      fs: this.#fs,
      directory: this.#baseDir,
      pathOf: (entry) => join(this.#baseDir, entry),
      timestampOf: anyStoreQuarantineTimestamp,
      now: this.#clock.now(),
      retentionMs: this.#quarantineRetentionMs,
      logger: this.#logger,
    });
  }
}

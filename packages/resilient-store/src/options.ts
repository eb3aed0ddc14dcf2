import {
  type Clock,
  type FileSystem,
  type Logger,
  nodeFileSystem,
  silentLogger,
  systemClock,
} from "@beauvoir/core";

/**
 * Upgrades a state from one schema version to the next. The key under which it
 * is registered in {@link ResilientStoreOptions.migrations} is the version it
 * upgrades **from**. It receives the caller's state (without `_schemaVersion`
 * and `_writeEpoch`) and returns the upgraded state; it may modify its argument.
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration handles states of older, unknown shapes
export type Migration = (state: any) => any;

/** Options of {@link ResilientJsonStore}. */
export interface ResilientStoreOptions<T extends object> {
  /** The primary file. Its directory is created (mode 0700) on the first write if missing. */
  path: string;
  /**
   * The schema version this code writes. Files at an older version are
   * migrated on read; files at a newer one are refused.
   * @default 1
   */
  schemaVersion?: number | undefined;
  /**
   * Upgrade steps keyed by the version they upgrade from: `{ 1: v1ToV2, 2: v2ToV3 }`.
   * Keys must be whole numbers from 1 to `schemaVersion - 1`.
   * @default {}
   */
  migrations?: Record<number, Migration> | undefined;
  /**
   * Largest serialized state accepted by `set()`, and largest file read, in bytes.
   * @default 10_485_760 (10 MiB)
   */
  maxSizeBytes?: number | undefined;
  /**
   * Checks a state: on `set()` (a false result rejects it with
   * `STORE_INVALID_STATE`) and on read, after migration (a false result makes
   * the file count as corrupt, so the read falls back to the next source).
   * @default undefined (every JSON object is accepted)
   */
  validate?: ((state: unknown) => state is T) | ((state: unknown) => boolean) | undefined;
  /** Receives warnings (fallbacks, quarantines) and errors (failed rollbacks). @default silentLogger */
  logger?: Logger | undefined;
  /** Source of time for quarantine names and retention. @default systemClock */
  clock?: Clock | undefined;
  /** The filesystem calls the store makes; inject faults through it in tests. @default nodeFileSystem */
  fs?: FileSystem | undefined;
  /**
   * How long quarantined files are kept before `cleanupQuarantine()` deletes them.
   * @default 604_800_000 (7 days)
   */
  quarantineRetentionMs?: number | undefined;
}

/** Defaults applied to every {@link ResilientStoreOptions}. */
export const RESILIENT_STORE_DEFAULTS = Object.freeze({
  schemaVersion: 1,
  maxSizeBytes: 10 * 1024 * 1024,
  quarantineRetentionMs: 7 * 24 * 60 * 60 * 1000,
});

/** @internal Options after defaults and checks. */
export interface ResolvedStoreOptions {
  readonly path: string;
  readonly schemaVersion: number;
  readonly migrations: ReadonlyMap<number, Migration>;
  readonly maxSizeBytes: number;
  readonly validate: ((state: unknown) => boolean) | undefined;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly fs: FileSystem;
  readonly quarantineRetentionMs: number;
}

/** @internal Applies defaults and throws `TypeError`/`RangeError` naming the bad option. */
export function resolveStoreOptions<T extends object>(
  options: ResilientStoreOptions<T>,
): ResolvedStoreOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("options must be an object with at least a path");
  }
  const { path } = options;
  if (typeof path !== "string" || path.length === 0 || path.includes("\0")) {
    throw new TypeError("path must be a non-empty string without NUL characters");
  }
  const schemaVersion = options.schemaVersion ?? RESILIENT_STORE_DEFAULTS.schemaVersion;
  if (!Number.isSafeInteger(schemaVersion) || schemaVersion < 1) {
    throw new RangeError(`schemaVersion must be a whole number >= 1, got ${schemaVersion}`);
  }
  const maxSizeBytes = options.maxSizeBytes ?? RESILIENT_STORE_DEFAULTS.maxSizeBytes;
  if (!Number.isSafeInteger(maxSizeBytes) || maxSizeBytes < 2) {
    throw new RangeError(`maxSizeBytes must be a whole number of bytes >= 2, got ${maxSizeBytes}`);
  }
  const quarantineRetentionMs =
    options.quarantineRetentionMs ?? RESILIENT_STORE_DEFAULTS.quarantineRetentionMs;
  assertRetention(quarantineRetentionMs);
  if (options.validate !== undefined && typeof options.validate !== "function") {
    throw new TypeError("validate must be a function returning a boolean");
  }
  return {
    path,
    schemaVersion,
    migrations: resolveMigrations(options.migrations, schemaVersion),
    maxSizeBytes,
    validate: options.validate,
    logger: assertLogger(options.logger ?? silentLogger),
    clock: assertClock(options.clock ?? systemClock),
    fs: assertFileSystem(options.fs ?? nodeFileSystem),
    quarantineRetentionMs,
  };
}

function resolveMigrations(
  migrations: Record<number, Migration> | undefined,
  schemaVersion: number,
): Map<number, Migration> {
  const resolved = new Map<number, Migration>();
  if (migrations === undefined) return resolved;
  if (typeof migrations !== "object" || migrations === null) {
    throw new TypeError("migrations must be an object mapping a version to a function");
  }
  for (const [key, migration] of Object.entries(migrations)) {
    const fromVersion = Number(key);
    if (!Number.isSafeInteger(fromVersion) || fromVersion < 1 || fromVersion >= schemaVersion) {
      throw new RangeError(
        `migrations[${key}]: keys are the version a step upgrades from, a whole number from 1 to ${schemaVersion - 1} (schemaVersion - 1)`,
      );
    }
    if (typeof migration !== "function") {
      throw new TypeError(`migrations[${key}] must be a function`);
    }
    resolved.set(fromVersion, migration);
  }
  return resolved;
}

/** @internal */
export function assertRetention(value: number): void {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new RangeError(
      `quarantineRetentionMs must be a non-negative number of milliseconds, got ${value}`,
    );
  }
}

/** @internal */
export function assertLogger(logger: Logger): Logger {
  if (
    typeof logger !== "object" ||
    logger === null ||
    typeof logger.warn !== "function" ||
    typeof logger.error !== "function" ||
    typeof logger.info !== "function" ||
    typeof logger.debug !== "function"
  ) {
    throw new TypeError("logger must have debug, info, warn and error methods");
  }
  return logger;
}

/** @internal */
export function assertClock(clock: Clock): Clock {
  if (typeof clock !== "object" || clock === null || typeof clock.now !== "function") {
    throw new TypeError("clock must have a now() method returning epoch milliseconds");
  }
  return clock;
}

/** The calls the store makes on its `fs`. */
const FILE_SYSTEM_CALLS = [
  "open",
  "rename",
  "unlink",
  "readdir",
  "stat",
  "mkdir",
  "fsyncDirectory",
] as const satisfies ReadonlyArray<keyof FileSystem>;

/** @internal Checks that `fs` has every call the store makes, so none fails half-way through a write. */
export function assertFileSystem(fs: FileSystem): FileSystem {
  if (typeof fs !== "object" || fs === null) {
    throw new TypeError("fs must be a FileSystem object (see @beauvoir/core)");
  }
  for (const call of FILE_SYSTEM_CALLS) {
    if (typeof fs[call] !== "function") {
      throw new TypeError(`fs.${call} must be a function (see FileSystem in @beauvoir/core)`);
    }
  }
  return fs;
}

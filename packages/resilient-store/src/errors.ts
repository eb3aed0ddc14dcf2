import {
  BeauvoirError,
  FailStoppedError,
  isBeauvoirErrorWithCode,
  SymlinkRefusedError,
} from "@beauvoir/core";

const ANY_STORE_ERROR = Symbol.for("beauvoir.error.resilient-store");

/** Error codes thrown by `@beauvoir/resilient-store`. */
export type ResilientStoreErrorCode =
  | "STORE_TOO_LARGE"
  | "STORE_SERIALIZE_FAILED"
  | "STORE_INVALID_STATE"
  | "STORE_MIGRATION_MISSING"
  | "STORE_MIGRATION_FAILED"
  | "STORE_SCHEMA_TOO_NEW"
  | "STORE_READ_FAILED"
  | "STORE_WRITE_FAILED"
  | "SYMLINK_REFUSED"
  | "FAIL_STOPPED";

/**
 * The base of every error a store throws on purpose. Each carries the path of
 * the store's primary file, so one handler can serve many stores.
 *
 * @example
 * ```ts
 * try {
 *   await store.set(state);
 * } catch (error) {
 *   if (StoreWriteError.isInstance(error) && error.rolledBack) retryLater();
 *   else if (StoreError.isInstance(error)) logger.error(error.message, { code: error.code, error });
 *   else throw error;
 * }
 * ```
 */
export class StoreError<
  Code extends ResilientStoreErrorCode = ResilientStoreErrorCode,
> extends BeauvoirError<Code> {
  /** The store's primary file (`{baseDir}/{name}.json`). */
  readonly storePath: string;

  /**
   * @param code - one of {@link ResilientStoreErrorCode}.
   * @param storePath - the store's primary file.
   * @param message - human-readable explanation.
   * @param options - `cause`: the underlying error.
   */
  constructor(code: Code, storePath: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.storePath = storePath;
    Object.defineProperty(this, ANY_STORE_ERROR, { value: true });
  }

  /**
   * @returns true for any error of this package, from any copy of it,
   *   {@link StoreSymlinkError} and {@link StoreFailStoppedError} included
   *   (which are core's `SymlinkRefusedError` and `FailStoppedError`).
   */
  static override isInstance(
    value: unknown,
  ): value is StoreError | StoreSymlinkError | StoreFailStoppedError {
    return (
      typeof value === "object" &&
      value !== null &&
      (value as Record<symbol, unknown>)[ANY_STORE_ERROR] === true
    );
  }
}

/** `set()` was given a state whose serialized form exceeds `maxSizeBytes`; nothing was written. */
export class StoreTooLargeError extends StoreError<"STORE_TOO_LARGE"> {
  /** Size of the serialized state (or of the file found on disk), in bytes. */
  readonly sizeBytes: number;
  /** The configured limit. */
  readonly maxSizeBytes: number;

  /**
   * @param storePath - the store's primary file.
   * @param sizeBytes - the size that was refused.
   * @param maxSizeBytes - the limit.
   * @param what - what was too large: the state to write, or a file to read.
   */
  constructor(storePath: string, sizeBytes: number, maxSizeBytes: number, what = "state") {
    super(
      "STORE_TOO_LARGE",
      storePath,
      `${what} for ${storePath} is ${sizeBytes} bytes, over the limit of ${maxSizeBytes} bytes (maxSizeBytes)`,
    );
    this.sizeBytes = sizeBytes;
    this.maxSizeBytes = maxSizeBytes;
  }

  /** @returns true for a {@link StoreTooLargeError} from any copy of the package. */
  static override isInstance(value: unknown): value is StoreTooLargeError {
    return isBeauvoirErrorWithCode(value, "STORE_TOO_LARGE");
  }
}

/**
 * The state holds something JSON cannot carry faithfully (a BigInt, a function,
 * a Map, `NaN`, a cycle…); nothing was written.
 */
export class StoreSerializeError extends StoreError<"STORE_SERIALIZE_FAILED"> {
  /** Where in the state the bad value sits, as a JSONPath such as `$.jobs[3].when`. */
  readonly valuePath: string;

  /**
   * @param storePath - the store's primary file.
   * @param valuePath - JSONPath of the offending value.
   * @param reason - what is wrong with it.
   * @param cause - what a getter, `toJSON` or proxy trap of the state threw, if that is the reason.
   */
  constructor(storePath: string, valuePath: string, reason: string, cause?: unknown) {
    super(
      "STORE_SERIALIZE_FAILED",
      storePath,
      `Cannot store ${valuePath}: ${reason}`,
      cause === undefined ? {} : { cause },
    );
    this.valuePath = valuePath;
  }

  /** @returns true for a {@link StoreSerializeError} from any copy of the package. */
  static override isInstance(value: unknown): value is StoreSerializeError {
    return isBeauvoirErrorWithCode(value, "STORE_SERIALIZE_FAILED");
  }
}

/**
 * The state is not one the store accepts: not a plain object, uses a reserved
 * key (`_schemaVersion`, `_writeEpoch`), or fails the `validate` option.
 */
export class StoreInvalidStateError extends StoreError<"STORE_INVALID_STATE"> {
  /**
   * @param storePath - the store's primary file.
   * @param reason - why the state was refused.
   * @param cause - the error `validate` threw, if any.
   */
  constructor(storePath: string, reason: string, cause?: unknown) {
    super(
      "STORE_INVALID_STATE",
      storePath,
      `Refused state for ${storePath}: ${reason}`,
      cause === undefined ? {} : { cause },
    );
  }

  /** @returns true for a {@link StoreInvalidStateError} from any copy of the package. */
  static override isInstance(value: unknown): value is StoreInvalidStateError {
    return isBeauvoirErrorWithCode(value, "STORE_INVALID_STATE");
  }
}

/** A file is at an older schema and no migration covers one of the steps up to the current one. */
export class StoreMigrationMissingError extends StoreError<"STORE_MIGRATION_MISSING"> {
  /** The version the missing migration would upgrade from (its key in `migrations`). */
  readonly fromVersion: number;
  /** `fromVersion + 1`. */
  readonly toVersion: number;
  /** The version found in the file. */
  readonly fileVersion: number;
  /** The store's `schemaVersion`. */
  readonly schemaVersion: number;

  /**
   * @param storePath - the store's primary file.
   * @param fromVersion - the first version with no migration.
   * @param fileVersion - the version in the file.
   * @param schemaVersion - the version the code expects.
   */
  constructor(storePath: string, fromVersion: number, fileVersion: number, schemaVersion: number) {
    super(
      "STORE_MIGRATION_MISSING",
      storePath,
      `No migration from schema version ${fromVersion} to ${fromVersion + 1} for ${storePath} ` +
        `(file is at version ${fileVersion}, code expects ${schemaVersion}); add migrations[${fromVersion}]`,
    );
    this.fromVersion = fromVersion;
    this.toVersion = fromVersion + 1;
    this.fileVersion = fileVersion;
    this.schemaVersion = schemaVersion;
  }

  /** @returns true for a {@link StoreMigrationMissingError} from any copy of the package. */
  static override isInstance(value: unknown): value is StoreMigrationMissingError {
    return isBeauvoirErrorWithCode(value, "STORE_MIGRATION_MISSING");
  }
}

/** A migration function threw or returned something that is not a storable object. */
export class StoreMigrationFailedError extends StoreError<"STORE_MIGRATION_FAILED"> {
  /** The version the failing migration upgrades from. */
  readonly fromVersion: number;

  /**
   * @param storePath - the store's primary file.
   * @param fromVersion - the key of the failing migration.
   * @param reason - what went wrong.
   * @param cause - the error the migration threw, if any.
   */
  constructor(storePath: string, fromVersion: number, reason: string, cause?: unknown) {
    super(
      "STORE_MIGRATION_FAILED",
      storePath,
      `Migration from schema version ${fromVersion} to ${fromVersion + 1} failed for ${storePath}: ${reason}`,
      cause === undefined ? {} : { cause },
    );
    this.fromVersion = fromVersion;
  }

  /** @returns true for a {@link StoreMigrationFailedError} from any copy of the package. */
  static override isInstance(value: unknown): value is StoreMigrationFailedError {
    return isBeauvoirErrorWithCode(value, "STORE_MIGRATION_FAILED");
  }
}

/**
 * A file was written by newer code (its `_schemaVersion` is above the store's
 * `schemaVersion`). It is neither read nor overwritten.
 */
export class StoreSchemaTooNewError extends StoreError<"STORE_SCHEMA_TOO_NEW"> {
  /** The file holding the newer schema. */
  readonly file: string;
  /** The version found in it. */
  readonly fileVersion: number;
  /** The newest version this code knows. */
  readonly schemaVersion: number;

  /**
   * @param storePath - the store's primary file.
   * @param file - the file with the newer schema (primary, bak or tmp).
   * @param fileVersion - its version.
   * @param schemaVersion - the store's version.
   */
  constructor(storePath: string, file: string, fileVersion: number, schemaVersion: number) {
    super(
      "STORE_SCHEMA_TOO_NEW",
      storePath,
      `${file} has schema version ${fileVersion}, newer than the ${schemaVersion} this code knows; ` +
        "refusing to read or overwrite it (upgrade the code, or clear() the store deliberately)",
    );
    this.file = file;
    this.fileVersion = fileVersion;
    this.schemaVersion = schemaVersion;
  }

  /** @returns true for a {@link StoreSchemaTooNewError} from any copy of the package. */
  static override isInstance(value: unknown): value is StoreSchemaTooNewError {
    return isBeauvoirErrorWithCode(value, "STORE_SCHEMA_TOO_NEW");
  }
}

/**
 * A file of the store exists but could not be read (EACCES, EIO…), so the
 * store cannot tell whether it holds good data. Nothing was changed.
 */
export class StoreReadError extends StoreError<"STORE_READ_FAILED"> {
  /** The file that could not be read. */
  readonly file: string;

  /**
   * @param storePath - the store's primary file.
   * @param file - the file that failed.
   * @param cause - the filesystem error.
   */
  constructor(storePath: string, file: string, cause: unknown) {
    super("STORE_READ_FAILED", storePath, `Could not read ${file}: ${describeThrown(cause)}`, {
      cause,
    });
    this.file = file;
  }

  /** @returns true for a {@link StoreReadError} from any copy of the package. */
  static override isInstance(value: unknown): value is StoreReadError {
    return isBeauvoirErrorWithCode(value, "STORE_READ_FAILED");
  }
}

/** The step of the write protocol at which a `set()` or `clear()` failed. */
export type StoreWriteStep =
  | "create-directory"
  | "write-tmp"
  | "rename-primary-to-bak"
  | "rename-tmp-to-primary"
  | "fsync-directory"
  | "quarantine"
  | "promote-tmp"
  | "private-copy"
  | "remove";

/**
 * A change to the store's files failed (ENOSPC, EACCES, EIO…): in `set()`,
 * `clear()`, or the repairs a read makes (quarantine, tmp promotion, migration
 * write-back). When `rolledBack` is true the primary and bak files hold
 * exactly what they held before the call. Otherwise the rollback itself
 * failed; the previous state is then still readable through the read
 * fallback, and the store reloads from disk on its next call.
 */
export class StoreWriteError extends StoreError<"STORE_WRITE_FAILED"> {
  /** The protocol step that failed. */
  readonly step: StoreWriteStep;
  /** Whether the files were put back exactly as they were. */
  readonly rolledBack: boolean;

  /**
   * @param storePath - the store's primary file.
   * @param step - the failing step.
   * @param rolledBack - whether the previous files were restored exactly.
   * @param cause - the filesystem error.
   */
  constructor(storePath: string, step: StoreWriteStep, rolledBack: boolean, cause: unknown) {
    super(
      "STORE_WRITE_FAILED",
      storePath,
      `Writing ${storePath} failed at ${step}: ${describeThrown(cause)}` +
        (rolledBack
          ? "; the previous files were left as they were"
          : "; the files may be partly changed, the store reloads them on its next call"),
      { cause },
    );
    this.step = step;
    this.rolledBack = rolledBack;
  }

  /** @returns true for a {@link StoreWriteError} from any copy of the package. */
  static override isInstance(value: unknown): value is StoreWriteError {
    return isBeauvoirErrorWithCode(value, "STORE_WRITE_FAILED");
  }
}

/**
 * A file of the store (primary, bak, tmp) is a symbolic link. The store
 * never reads or writes through one, so it refuses to load: nothing was read
 * from the link's target, nothing was written, nothing was changed. Remove
 * the link (after checking who planted it) to use the store again.
 *
 * It is core's `SymlinkRefusedError` (`SYMLINK_REFUSED`, `path`), and also
 * answers {@link StoreError.isInstance} with the store's `storePath`.
 */
export class StoreSymlinkError extends SymlinkRefusedError {
  /** The store's primary file. */
  readonly storePath: string;

  /**
   * @param storePath - the store's primary file.
   * @param file - the file of the store that is a link.
   * @param cause - the `ELOOP` error of the open.
   */
  constructor(storePath: string, file: string, cause?: unknown) {
    super(file, cause);
    this.storePath = storePath;
    Object.defineProperty(this, ANY_STORE_ERROR, { value: true });
  }
}

/**
 * The store stopped accepting writes after an `fsync` (of a file or of the
 * directory) failed: the kernel may have dropped the pages it could not
 * write while they still read back, so the store does not retry into a
 * success that is not one. This call and every later `set()` and `clear()` of
 * this instance throw it (reads keep serving the last state this instance
 * knew, when it had loaded one). Open a new instance, which re-reads the files
 * from disk, once the disk is fixed.
 *
 * It is core's `FailStoppedError` (`FAIL_STOPPED`, `path`, `cause`: the first
 * failure), and also answers {@link StoreError.isInstance}.
 */
export class StoreFailStoppedError extends FailStoppedError {
  /** The store's primary file. */
  readonly storePath: string;
  /** The step at which the first fsync failed. */
  readonly step: StoreWriteStep;

  /**
   * @param storePath - the store's primary file.
   * @param step - the step whose fsync failed.
   * @param cause - the first fsync error; every later call carries the same one.
   */
  constructor(storePath: string, step: StoreWriteStep, cause: unknown) {
    super(storePath, cause);
    this.storePath = storePath;
    this.step = step;
    Object.defineProperty(this, ANY_STORE_ERROR, { value: true });
  }
}

/**
 * @internal A message for something thrown, without trusting it: its
 * `message` may be a getter that throws too.
 */
export function describeThrown(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "an error that cannot be described";
  }
}

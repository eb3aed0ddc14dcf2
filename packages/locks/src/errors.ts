import { BeauvoirError, isBeauvoirErrorWithCode, isErrnoError } from "@beauvoir/core";
import type { LockOwner } from "./lock-owner.js";

/**
 * Error codes thrown by `@beauvoir/locks`. Invalid lock names throw
 * `@beauvoir/core`'s `InvalidNameError` (`INVALID_NAME`), a lock file that is
 * a symbolic link core's `SymlinkRefusedError` (`SYMLINK_REFUSED`), and an
 * `acquire()` after a failed fsync core's `FailStoppedError` (`FAIL_STOPPED`).
 */
export type LocksErrorCode =
  | "LOCK_HELD"
  | "LOCK_CORRUPT"
  | "LOCK_IO_FAILED"
  | "INVALID_NAME"
  | "SYMLINK_REFUSED"
  | "FAIL_STOPPED";

/**
 * Rejects an `acquire()` because a live owner holds the lock. There is no
 * separate timeout error: when `waitMs` runs out the same error is thrown with
 * the owner seen last, and `waitedMs` tells how long the caller waited.
 *
 * @example
 * ```ts
 * try {
 *   await locks.acquire("agent-instance");
 * } catch (error) {
 *   if (LockHeldError.isInstance(error)) console.error(`already running as pid ${error.owner.pid}`);
 * }
 * ```
 */
export class LockHeldError extends BeauvoirError<"LOCK_HELD"> {
  /** The lock that could not be taken. */
  readonly lockName: string;
  /** Who holds it, as read from the lock file. */
  readonly owner: LockOwner;
  /** Milliseconds from the `acquire()` call to this failure when it was given a `waitMs`; 0 when it was told not to wait. */
  readonly waitedMs: number;

  /**
   * @param lockName - the lock that could not be taken.
   * @param owner - the owner record read from the lock file.
   * @param waitedMs - how long the caller waited.
   */
  constructor(lockName: string, owner: LockOwner, waitedMs: number) {
    super(
      "LOCK_HELD",
      `Lock "${lockName}" is held by pid ${owner.pid} (boot ${owner.bootId}, since ${new Date(
        owner.createdAt,
      ).toISOString()})${waitedMs > 0 ? ` after waiting ${waitedMs} ms` : ""}`,
    );
    this.lockName = lockName;
    this.owner = owner;
    this.waitedMs = waitedMs;
  }

  /** @returns true for a {@link LockHeldError} from any copy of the package. */
  static override isInstance(value: unknown): value is LockHeldError {
    return isBeauvoirErrorWithCode(value, "LOCK_HELD");
  }
}

/**
 * Rejects an `acquire()` because the lock file is empty or unreadable and still
 * younger than the grace period, so it may belong to a process that is writing
 * it right now. After `graceMs` (by the file's mtime) it is treated as stale.
 *
 * @example
 * ```ts
 * const lock = await locks.acquire("report").catch(async (error: unknown) => {
 *   if (!LockCorruptError.isInstance(error)) throw error;
 *   return locks.acquire("report", { waitMs: error.graceMs + 1_000 }); // broken after the grace
 * });
 * ```
 */
export class LockCorruptError extends BeauvoirError<"LOCK_CORRUPT"> {
  /** The lock that could not be taken. */
  readonly lockName: string;
  /** Path of the unreadable lock file. */
  readonly path: string;
  /** Age of the file by its mtime, in milliseconds. */
  readonly ageMs: number;
  /** Age at which an unreadable lock file is removed as stale. */
  readonly graceMs: number;

  /**
   * @param lockName - the lock that could not be taken.
   * @param path - the lock file.
   * @param ageMs - its age by mtime.
   * @param graceMs - the configured grace period.
   */
  constructor(lockName: string, path: string, ageMs: number, graceMs: number) {
    super(
      "LOCK_CORRUPT",
      `Lock file ${path} is empty or unreadable (${Math.round(ageMs)} ms old); it is treated as stale once older than ${graceMs} ms`,
    );
    this.lockName = lockName;
    this.path = path;
    this.ageMs = ageMs;
    this.graceMs = graceMs;
  }

  /** @returns true for a {@link LockCorruptError} from any copy of the package. */
  static override isInstance(value: unknown): value is LockCorruptError {
    return isBeauvoirErrorWithCode(value, "LOCK_CORRUPT");
  }
}

/**
 * Rejects an `acquire()` or `release()` because the filesystem refused a call
 * on the lock directory or a lock file: `EACCES` (a file or directory the
 * process may not read or write), `EISDIR` (a directory where a lock file
 * belongs), `ENOSPC`, `EROFS`, `EIO`… Nothing was taken: a half-created lock
 * is removed before this is thrown. The system error is the `cause`.
 *
 * @example
 * ```ts
 * try {
 *   await locks.acquire("agent-instance");
 * } catch (error) {
 *   if (LockIoError.isInstance(error)) console.error(`cannot use ${error.path}: ${error.errorCode}`);
 * }
 * ```
 */
export class LockIoError extends BeauvoirError<"LOCK_IO_FAILED"> {
  /** The lock concerned. */
  readonly lockName: string;
  /** The file or directory the failed call was about. */
  readonly path: string;
  /** The system error's code (`EACCES`, `EISDIR`, …), when it had one. */
  readonly errorCode: string | undefined;

  /**
   * @param lockName - the lock concerned.
   * @param path - the lock file (or directory) of the failed call.
   * @param cause - the system error.
   */
  constructor(lockName: string, path: string, cause: unknown) {
    const errorCode =
      typeof (cause as { code?: unknown } | null)?.code === "string"
        ? (cause as { code: string }).code
        : undefined;
    super(
      "LOCK_IO_FAILED",
      `Lock "${lockName}": the filesystem refused a call on ${path}${errorCode ? ` (${errorCode})` : ""}`,
      { cause },
    );
    this.lockName = lockName;
    this.path = path;
    this.errorCode = errorCode;
  }

  /** @returns true for a {@link LockIoError} from any copy of the package. */
  static override isInstance(value: unknown): value is LockIoError {
    return isBeauvoirErrorWithCode(value, "LOCK_IO_FAILED");
  }
}

/**
 * @internal A system error of the filesystem as a {@link LockIoError}; the
 * package's own errors, and anything else, as they are.
 */
export function asLockError(lockName: string, path: string, error: unknown): unknown {
  if (BeauvoirError.isInstance(error) || !isErrnoError(error)) return error;
  return new LockIoError(lockName, typeof error.path === "string" ? error.path : path, error);
}

import type { Clock, FileSystem, Logger } from "@beauvoir/core";
import type { LockOwner } from "./lock-owner.js";
import type { LockStaleReason } from "./stale-lock-judge.js";

/**
 * The filesystem a {@link LockManagerOptions | LockManager} uses: core's
 * `FileSystem`, whose `link` creates a lock file with its whole record at once.
 * @deprecated Use `FileSystem` from `@beauvoir/core`: it has `link` now, and
 *   every call the manager makes (link included) goes through it. Kept as an
 *   alias so existing code keeps compiling.
 */
export type LockFileSystem = FileSystem;

/** Options of `new LockManager(options)`. */
export interface LockManagerOptions {
  /**
   * Directory holding the `{name}.lock` files; created (mode 0700, every
   * missing level, each made durable in its parent) on the first `acquire()`.
   * Relative paths are resolved at construction.
   */
  lockDir: string;
  /**
   * Age backstop: a lock whose `renewedAt ?? createdAt` is older than this is
   * stale whatever its pid says (a crashed holder whose pid was reused).
   * Locks held by a live manager are renewed well before this. `Infinity`
   * turns the backstop and renewal off.
   * @default 3_600_000 (1 hour)
   */
  maxAgeMs?: number | undefined;
  /**
   * How often a held lock's `renewedAt` is rewritten so a long-lived holder
   * (a single-instance lock) never reaches `maxAgeMs`. Must be below
   * `maxAgeMs`. The timer is unref'd.
   * @default maxAgeMs / 4
   */
  renewIntervalMs?: number | undefined;
  /**
   * An empty or unreadable lock file (this package never leaves one: it
   * writes under a temporary name and links; but an older version or another
   * tool may) is left alone until its mtime is this old, then removed as
   * stale. Leftover temporary files older than this are removed by
   * `recoverStaleLocks()`.
   * @default 10_000
   */
  corruptGraceMs?: number | undefined;
  /**
   * Fsync the new lock file (before it is linked to its name) and then its
   * directory before `acquire()` resolves, so a lock survives a power loss;
   * and make a lock directory it creates durable in its parent. An fsync that
   * fails fails stop: that `acquire()` and every later one reject with
   * `FAIL_STOPPED` (core's `FailStoppedError`).
   * Mutual exclusion between live processes does not depend on it (every
   * holder dies with the machine, and recovery judges the dead pid), so
   * `false` is a fair trade where locks are taken at a high rate, or on tmpfs.
   * @default true
   */
  fsync?: boolean | undefined;
  /**
   * Written into lock files for diagnostics; never used to judge staleness.
   * @default the content of /proc/sys/kernel/random/boot_id, or a random id
   */
  bootId?: string | undefined;
  /** Receives warnings about stale locks removed and locks lost. @default silentLogger */
  logger?: Logger | undefined;
  /** Source of time and timers. @default systemClock */
  clock?: Clock | undefined;
  /**
   * Filesystem calls, replaceable to inject faults. Every call the manager
   * makes goes through it, `link` included (the lock file is written under a
   * temporary name, then hard-linked to `{name}.lock`).
   * @default nodeFileSystem
   */
  fs?: FileSystem | undefined;
  /**
   * Tells whether a pid is alive.
   * @default `process.kill(pid, 0)`: ESRCH dead, success or EPERM alive
   */
  isProcessAlive?: ((pid: number) => boolean) | undefined;
  /** First retry delay of a waiting `acquire()`; doubles up to `retryMaxMs`, with jitter. @default 10 */
  retryBaseMs?: number | undefined;
  /** Longest delay between two tries of a waiting `acquire()`. @default 250 */
  retryMaxMs?: number | undefined;
  /**
   * Called when a lock this manager held was found removed or taken over
   * (seen at renewal or release), e.g. after it went stale while the process
   * was suspended.
   */
  onLockLost?: ((event: LockLostEvent) => void) | undefined;
}

/** Why a held lock was lost. */
export interface LockLostEvent {
  /** The lock's name. */
  name: string;
  /** The id of our acquisition. */
  id: string;
  /** `"removed"`: the file is gone; `"taken-over"`: it now holds another owner's id. */
  reason: "removed" | "taken-over";
}

/** Per-call options of `acquire()`. */
export interface AcquireOptions {
  /**
   * How long to keep retrying while a live owner holds the lock; 0 fails at
   * once, `Infinity` waits until the lock frees or `signal` aborts.
   * @default 0
   */
  waitMs?: number | undefined;
  /** Aborts the wait; `acquire()` rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/** What `recoverStaleLocks()` found. */
export interface RecoveryReport {
  /** Names of stale locks that were removed. */
  recovered: string[];
  /** Names of locks left in place: held by a live process, or unreadable and still within the grace period. */
  live: string[];
  /** Names of lock files that could not be inspected (an I/O error, logged as a warning). */
  failed: string[];
}

/**
 * Defaults applied to every {@link LockManagerOptions} (`renewIntervalMs`
 * defaults to `maxAgeMs / 4`).
 * @example
 * ```ts
 * new LockManager({ lockDir, maxAgeMs: 2 * LOCK_MANAGER_DEFAULTS.maxAgeMs });
 * ```
 */
export const LOCK_MANAGER_DEFAULTS = Object.freeze({
  maxAgeMs: 3_600_000,
  corruptGraceMs: 10_000,
  retryBaseMs: 10,
  retryMaxMs: 250,
});

/** A lock file as {@link LockManager.listLocks} found it, without taking or changing it. */
export interface LockStatus {
  /** The lock's name. */
  readonly name: string;
  /** Its file, `{lockDir}/{name}.lock`. */
  readonly path: string;
  /**
   * The holder's record (pid, bootId, createdAt, renewedAt); undefined when
   * the file is not a readable, intact record (empty, torn, a damaged byte,
   * a symbolic link, a directory).
   */
  readonly owner: LockOwner | undefined;
  /**
   * Milliseconds since `renewedAt ?? createdAt` for a record, since the
   * file's mtime otherwise; NaN when not even that can be read.
   */
  readonly ageMs: number;
  /**
   * `live`: the holder may be alive, `acquire()` would wait or fail with
   * `LOCK_HELD`; `stale`: `acquire()`, `recoverStaleLocks()` and
   * `breakLock()` would remove it (see `staleReason`); `unreadable`: not a
   * record and younger than `corruptGraceMs`, or a file the manager refuses
   * to read (see `problem`).
   */
  readonly status: "live" | "stale" | "unreadable";
  /** Why it is stale, for `status: "stale"`. */
  readonly staleReason: LockStaleReason | undefined;
  /** Whether this manager holds it. */
  readonly heldByThisManager: boolean;
  /** The error code that kept the file from being read (`SYMLINK_REFUSED`, `EISDIR`, `EACCES`…), when one did. */
  readonly problem?: string | undefined;
}

/** What {@link LockManager.breakLock} did. */
export type BreakLockResult =
  /** The holder was dead (or the file stale by the other rules): the lock file was removed. */
  | {
      readonly outcome: "broken";
      readonly reason: LockStaleReason;
      /** The record that was removed; undefined for an unreadable file. */
      readonly owner: LockOwner | undefined;
    }
  /** There was no such lock. */
  | { readonly outcome: "missing" }
  /** The file kept changing while it was judged (someone is taking it): nothing was removed. */
  | { readonly outcome: "changed" };

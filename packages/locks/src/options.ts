import type { Clock, FileSystem, Logger } from "@beauvoir/core";

/**
 * The filesystem calls a {@link LockManagerOptions | LockManager} makes: core's
 * `FileSystem` plus an optional `link`. A lock file is written under a temporary
 * name and then hard-linked to `{name}.lock`, so it appears with its whole
 * record at once; `link` fails with EEXIST when the lock exists.
 *
 * When the injected object has no `link` (a wrapper spread from core's
 * `nodeFileSystem`, which lacks it), `link` from `node:fs/promises` is used.
 * An injected filesystem that is not backed by the real disk must provide it.
 * @example
 * ```ts
 * import { link } from "node:fs/promises";
 * const fs: LockFileSystem = { ...nodeFileSystem, link: (from, to) => link(from, to) };
 * ```
 */
export type LockFileSystem = FileSystem & {
  /** Creates `newPath` as a hard link to `existingPath`; rejects with EEXIST when `newPath` exists. */
  link?(existingPath: string, newPath: string): Promise<void>;
};

/** Options of `new LockManager(options)`. */
export interface LockManagerOptions {
  /** Directory holding the `{name}.lock` files; created (mode 0700) on first use. Relative paths are resolved at construction. */
  lockDir: string;
  /**
   * Age backstop: a lock whose `renewedAt ?? createdAt` is older than this is
   * stale whatever its pid says (a crashed holder whose pid was reused).
   * Locks held by a live manager are renewed well before this. `Infinity`
   * turns the backstop and renewal off.
   * @default 3_600_000 (1 hour)
   */
  maxAgeMs?: number;
  /**
   * How often a held lock's `renewedAt` is rewritten so a long-lived holder
   * (a single-instance lock) never reaches `maxAgeMs`. Must be below
   * `maxAgeMs`. The timer is unref'd.
   * @default maxAgeMs / 4
   */
  renewIntervalMs?: number;
  /**
   * An empty or unreadable lock file (this package never leaves one: it
   * writes under a temporary name and links; but an older version or another
   * tool may) is left alone until its mtime is this old, then removed as
   * stale. Leftover temporary files older than this are removed by
   * `recoverStaleLocks()`.
   * @default 10_000
   */
  corruptGraceMs?: number;
  /**
   * Fsync the new lock file (before it is linked to its name) and then its
   * directory before `acquire()` resolves, so a lock survives a power loss.
   * Mutual exclusion between live processes does not depend on it (every
   * holder dies with the machine, and recovery judges the dead pid), so
   * `false` is a fair trade where locks are taken at a high rate, or on tmpfs.
   * @default true
   */
  fsync?: boolean;
  /**
   * Written into lock files for diagnostics; never used to judge staleness.
   * @default the content of /proc/sys/kernel/random/boot_id, or a random id
   */
  bootId?: string;
  /** Receives warnings about stale locks removed and locks lost. @default silentLogger */
  logger?: Logger;
  /** Source of time and timers. @default systemClock */
  clock?: Clock;
  /**
   * Filesystem calls, replaceable to inject faults. `link` is optional: when
   * absent, `node:fs/promises` `link` is used (see {@link LockFileSystem}).
   * @default nodeFileSystem
   */
  fs?: LockFileSystem;
  /**
   * Tells whether a pid is alive.
   * @default `process.kill(pid, 0)`: ESRCH dead, success or EPERM alive
   */
  isProcessAlive?: (pid: number) => boolean;
  /** First retry delay of a waiting `acquire()`; doubles up to `retryMaxMs`, with jitter. @default 10 */
  retryBaseMs?: number;
  /** Longest delay between two tries of a waiting `acquire()`. @default 250 */
  retryMaxMs?: number;
  /**
   * Called when a lock this manager held was found removed or taken over
   * (seen at renewal or release), e.g. after it went stale while the process
   * was suspended.
   */
  onLockLost?: (event: LockLostEvent) => void;
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
  waitMs?: number;
  /** Aborts the wait; `acquire()` rejects with the signal's reason. */
  signal?: AbortSignal;
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

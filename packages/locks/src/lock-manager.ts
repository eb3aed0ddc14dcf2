import { join } from "node:path";
import { assertDurationOption, assertSafeName, delay } from "@beauvoir/core";
import { asLockError, LockCorruptError, LockHeldError, LockIoError } from "./errors.js";
import { FsyncLatch } from "./fsync-latch.js";
import { HeldLocks } from "./held-locks.js";
import { LockCreator } from "./lock-creator.js";
import { LockFiles } from "./lock-files.js";
import type { LockHandle } from "./lock-handle.js";
import type { LockOwner } from "./lock-owner.js";
import { listLockStatuses } from "./lock-statuses.js";
import type {
  AcquireOptions,
  BreakLockResult,
  LockManagerOptions,
  LockStatus,
  RecoveryReport,
} from "./options.js";
import { processHeldLockIds } from "./process-identity.js";
import { type ResolvedLockManagerOptions, resolveLockManagerOptions } from "./resolved-options.js";
import { StaleLockJudge } from "./stale-lock-judge.js";

/** Tries made at once, without sleeping, when the lock file vanished or changed under us. */
const MAX_IMMEDIATE_RETRIES = 8;
/**
 * Extra re-reads of an unreadable, young lock file before failing a call whose
 * wait is over. This package never exposes a partial record, but an older
 * version or another tool writing in place may be between `open` and `write`,
 * a few milliseconds at most.
 */
const UNREADABLE_SETTLE_TRIES = 3;
/** How many times `recoverStaleLocks()` and `breakLock()` re-inspect a file that changed between two reads. */
const RECOVERY_INSPECTIONS = 3;

/** What one try of `acquire()` ended with. */
type Attempt =
  | { readonly kind: "acquired"; readonly handle: LockHandle }
  | { readonly kind: "changed" }
  | { readonly kind: "held"; readonly owner: LockOwner }
  | { readonly kind: "unreadable"; readonly ageMs: number };

/**
 * Cross-process named locks backed by files: `{lockDir}/{name}.lock`, holding
 * the owner's id, pid, boot id and timestamps with a checksum, created
 * atomically (written under a temporary name, then hard-linked, which fails
 * when the lock exists). No lock file is ever read or written through a
 * symbolic link.
 *
 * A lock whose holder died is recovered: it is stale when older than
 * `maxAgeMs` whatever its pid (the backstop against pid reuse), else when its
 * pid is dead (ESRCH), or when it carries this process's own pid but predates
 * this process (a restarted container that got the same pid). Before removing
 * a stale lock the file is read a second time and removed only if unchanged.
 * A live holder renews its locks, so long-held locks never reach the backstop.
 *
 * @example
 * ```ts
 * const locks = new LockManager({ lockDir: "/var/lib/my-agent/locks" });
 * await using lock = await locks.acquire("nightly-sync", { waitMs: 5_000 });
 * await runNightlySync(); // no other process runs it at the same time
 * ```
 */
export class LockManager {
  readonly #options: ResolvedLockManagerOptions;
  readonly #files: LockFiles;
  readonly #latch = new FsyncLatch();
  readonly #judge: StaleLockJudge;
  readonly #creator: LockCreator;
  readonly #held: HeldLocks;

  /**
   * @param options - the lock directory and optional tuning; see {@link LockManagerOptions}.
   * @throws TypeError when `lockDir` or a function/object option has the wrong
   *   type (an `fs` without one of the calls the manager makes, `link` included).
   * @throws RangeError when a duration option is negative, not a number, or inconsistent.
   */
  constructor(options: LockManagerOptions) {
    const resolved = resolveLockManagerOptions(options);
    this.#options = resolved;
    const { fs, clock, logger } = resolved;
    const processHeldIds = processHeldLockIds(fs);
    this.#files = new LockFiles(resolved.lockDir, fs, this.#latch, resolved.fsync);
    this.#judge = new StaleLockJudge(this.#files, { ...resolved, processHeldIds });
    this.#creator = new LockCreator({
      files: this.#files,
      fs,
      latch: this.#latch,
      fsync: resolved.fsync,
      bootId: resolved.bootId,
      clock,
      logger,
      processHeldIds,
    });
    this.#held = new HeldLocks({
      files: this.#files,
      fs,
      clock,
      logger,
      renewIntervalMs: resolved.renewIntervalMs,
      onLockLost: resolved.onLockLost,
      processHeldIds,
    });
  }

  /** The absolute directory holding the lock files. */
  get lockDir(): string {
    return this.#options.lockDir;
  }

  /** The boot id written into this manager's lock files. */
  get bootId(): string {
    return this.#options.bootId;
  }

  /** Names of the locks this manager holds now. */
  get heldLocks(): string[] {
    return this.#held.names;
  }

  /**
   * Takes the named lock: creates `{lockDir}/{name}.lock` exclusively, writes
   * the owner record, fsyncs the file and the directory. When the file exists,
   * a stale owner's lock is removed and the create retried; a live owner's
   * lock is waited for (with exponential backoff and jitter) up to `waitMs`.
   *
   * Not re-entrant: a second `acquire()` of a held name, from this manager or
   * another in the same process, waits like any other contender.
   *
   * @param name - the lock's name (validated like store names: no separators, `..`, NUL).
   * @param options - `waitMs` (default 0: fail at once) and `signal`.
   * @returns a handle that releases the lock; usable with `await using`.
   * @throws {@link LockHeldError} (`LOCK_HELD`) when a live owner still holds it once `waitMs` ran out.
   * @throws {@link LockCorruptError} (`LOCK_CORRUPT`) when the file stays unreadable but is younger than `corruptGraceMs`.
   * @throws `SymlinkRefusedError` (`SYMLINK_REFUSED`) when the lock file is a symbolic link.
   * @throws `FailStoppedError` (`FAIL_STOPPED`) when an fsync of this manager failed, in this call or an earlier one.
   * @throws `InvalidNameError` (`INVALID_NAME`) for an unsafe name; TypeError or RangeError for bad options.
   * @throws {@link LockIoError} (`LOCK_IO_FAILED`) when the filesystem refuses a call (EACCES, EISDIR, ENOSPC…).
   * @throws the signal's reason when `signal` aborts.
   * @example
   * ```ts
   * const lock = await locks.acquire("dedup-index", { waitMs: 2_000 });
   * try { await compact(); } finally { await lock.release(); }
   * ```
   */
  async acquire(name: string, options: AcquireOptions = {}): Promise<LockHandle> {
    assertSafeName(name);
    if (typeof options !== "object" || options === null) {
      throw new TypeError("acquire options must be an object like { waitMs, signal }");
    }
    const waitMs = assertDurationOption(options.waitMs ?? 0, "waitMs", { allowInfinity: true });
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError("signal must be an AbortSignal");
    }
    signal?.throwIfAborted();
    const { clock, retryBaseMs, corruptGraceMs } = this.#options;
    const path = this.#files.pathOf(name);
    const startedAt = clock.now();
    const deadline = startedAt + waitMs;
    let sleeps = 0;
    let immediateRetries = 0;
    let settleTries = 0;
    let probeFirst = false;
    for (;;) {
      signal?.throwIfAborted();
      let attempt: Attempt;
      try {
        attempt = await this.#attempt(name, path, probeFirst);
      } catch (error) {
        throw asLockError(name, path, error);
      }
      if (attempt.kind === "acquired") return attempt.handle;
      // Seen taken: the next try looks before writing a record that would
      // most likely be thrown away.
      probeFirst = attempt.kind !== "changed";
      if (attempt.kind === "changed" && immediateRetries < MAX_IMMEDIATE_RETRIES) {
        immediateRetries++;
        continue;
      }
      immediateRetries = 0;
      const now = clock.now();
      let pauseMs: number;
      if (now < deadline) {
        pauseMs = Math.min(this.#backoffMs(sleeps++), deadline - now);
      } else if (attempt.kind === "held") {
        throw new LockHeldError(name, attempt.owner, waitMs > 0 ? now - startedAt : 0);
      } else if (attempt.kind === "unreadable" && settleTries >= UNREADABLE_SETTLE_TRIES) {
        throw new LockCorruptError(name, path, attempt.ageMs, corruptGraceMs);
      } else {
        // Past the deadline, an unreadable file gets a few short re-reads (its
        // writer is mid-write), and a file that keeps changing means others
        // are making progress: look again shortly rather than report a guess.
        settleTries++;
        pauseMs = retryBaseMs;
      }
      await delay(pauseMs, { signal, clock });
    }
  }

  /**
   * Releases the named lock if this manager holds it and the file still
   * carries this manager's id. Never removes a lock owned by someone else.
   * @param name - the lock's name.
   * @returns true if a lock we owned was removed; false if we did not hold it,
   *   or it had been removed or taken over (then `onLockLost` is called).
   * @throws `InvalidNameError` for an unsafe name; {@link LockIoError} for filesystem errors other than ENOENT
   *   (the lock then stays held and the call may be repeated).
   * @example
   * ```ts
   * await locks.release("dedup-index"); // true
   * await locks.release("dedup-index"); // false: already released
   * ```
   */
  async release(name: string): Promise<boolean> {
    assertSafeName(name);
    return this.#held.release(name);
  }

  /**
   * Releases every lock this manager holds (what a shutdown calls).
   * @returns when all are released.
   * @throws AggregateError listing the releases that failed; the others are done.
   * @example
   * ```ts
   * process.once("SIGTERM", () => void locks.releaseAll());
   * ```
   */
  async releaseAll(): Promise<void> {
    const results = await this.#held.releaseAll();
    const errors = results.flatMap((result) =>
      result.status === "rejected" ? [result.reason] : [],
    );
    if (errors.length > 0) {
      throw new AggregateError(
        errors,
        `Failed to release ${errors.length} lock(s) in ${this.lockDir}`,
      );
    }
  }

  /**
   * Scans `lockDir` and removes every stale lock (same rules and double read
   * as `acquire()`), and leftover temporary files of crashed creators; the
   * boot sequence calls it once at start.
   * @returns the names recovered, left live, and those that could not be inspected.
   * @example
   * ```ts
   * const { recovered } = await locks.recoverStaleLocks();
   * if (recovered.length > 0) console.warn("previous run crashed holding", recovered);
   * ```
   */
  async recoverStaleLocks(): Promise<RecoveryReport> {
    const { logger } = this.#options;
    const report: RecoveryReport = { recovered: [], live: [], failed: [] };
    const removedTempFiles: string[] = [];
    for (const entry of await this.#files.list()) {
      if (this.#files.isTempEntry(entry)) {
        try {
          const path = join(this.lockDir, entry);
          if (await this.#judge.removeLeftoverTempFile(path)) removedTempFiles.push(entry);
        } catch (error) {
          logger.warn("Could not inspect temporary lock file", {
            file: entry,
            lockDir: this.lockDir,
            error,
          });
        }
        continue;
      }
      const name = this.#files.lockNameOf(entry);
      if (name === undefined) continue;
      try {
        const inspection = await this.#judge.inspectRepeatedly(
          name,
          this.#files.pathOf(name),
          RECOVERY_INSPECTIONS,
        );
        if (inspection.kind === "removed") report.recovered.push(name);
        else if (inspection.kind !== "missing") report.live.push(name);
      } catch (error) {
        logger.warn("Could not inspect lock file", { name, lockDir: this.lockDir, error });
        report.failed.push(name);
      }
    }
    if (removedTempFiles.length > 0) {
      logger.info("Removed leftover temporary lock files", {
        lockDir: this.lockDir,
        files: removedTempFiles,
      });
    }
    if (report.recovered.length > 0) {
      logger.info("Recovered stale locks", { lockDir: this.lockDir, recovered: report.recovered });
    }
    return report;
  }

  /**
   * Lists every lock in `lockDir` with its holder's record, age and
   * liveness, judged by the same rules as `acquire()`, without taking,
   * renewing or removing anything (no file is created, changed or deleted,
   * not even the directory), so an operator can run it while the program
   * holding the locks runs.
   * @returns one entry per `{name}.lock` file, sorted by name.
   * @throws the filesystem error when `lockDir` exists but cannot be listed.
   * @example
   * ```ts
   * for (const lock of await locks.listLocks()) {
   *   console.log(lock.name, lock.status, lock.owner?.pid, Math.round(lock.ageMs / 1000), "s");
   * }
   * ```
   */
  listLocks(): Promise<LockStatus[]> {
    return listLockStatuses({
      files: this.#files,
      judge: this.#judge,
      clock: this.#options.clock,
      heldIdOf: (name) => this.#held.idOf(name),
    });
  }

  /**
   * Removes the named lock only if its holder is dead, or the lock is stale
   * by the other rules of `acquire()` (expired past `maxAgeMs`, this
   * process's pid from before it started, an unreadable file older than
   * `corruptGraceMs`); with the same double read, so a lock taken meanwhile is
   * never removed. Never creates the directory or takes the lock.
   * @param name - the lock's name.
   * @returns what was done: `broken` (with the reason and the removed record),
   *   `missing`, or `changed` (the file kept changing; nothing was removed).
   * @throws {@link LockHeldError} (`LOCK_HELD`) when the holder may be alive.
   * @throws {@link LockCorruptError} (`LOCK_CORRUPT`) for an unreadable file younger than `corruptGraceMs`.
   * @throws `SymlinkRefusedError` (`SYMLINK_REFUSED`) when the lock file is a symbolic link;
   *   `InvalidNameError` for an unsafe name; filesystem errors as they are.
   * @example
   * ```ts
   * const result = await locks.breakLock("nightly-sync");
   * if (result.outcome === "broken") console.log(`removed the lock of dead pid ${result.owner?.pid}`);
   * ```
   */
  async breakLock(name: string): Promise<BreakLockResult> {
    assertSafeName(name);
    const path = this.#files.pathOf(name);
    const inspection = await this.#judge
      .inspectRepeatedly(name, path, RECOVERY_INSPECTIONS)
      .catch((error: unknown) => {
        throw asLockError(name, path, error);
      });
    switch (inspection.kind) {
      case "removed":
        return { outcome: "broken", reason: inspection.reason, owner: inspection.owner };
      case "live":
        throw new LockHeldError(name, inspection.owner, 0);
      case "young-unreadable":
        throw new LockCorruptError(name, path, inspection.ageMs, this.#options.corruptGraceMs);
      default:
        return { outcome: inspection.kind };
    }
  }

  #backoffMs(attempt: number): number {
    const { retryBaseMs, retryMaxMs } = this.#options;
    const ceiling = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(attempt, 30));
    // Half fixed, half random: contenders that collided spread out next time.
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  async #attempt(name: string, path: string, probeFirst: boolean): Promise<Attempt> {
    this.#latch.throwIfStopped();
    await this.#files.ensureDirectory();
    if (probeFirst) {
      const probe = await this.#judge.inspect(name, path);
      if (probe.kind === "live") return { kind: "held", owner: probe.owner };
      if (probe.kind === "young-unreadable") return { kind: "unreadable", ageMs: probe.ageMs };
      if (probe.kind === "changed") return probe;
    }
    const created = await this.#creator.create(path);
    if (created === undefined) return { kind: "changed" };
    if (created !== "exists") {
      return { kind: "acquired", handle: this.#held.add(name, path, created) };
    }
    // After a probe, someone took it in between: look again at once.
    if (probeFirst) return { kind: "changed" };
    const inspection = await this.#judge.inspect(name, path);
    switch (inspection.kind) {
      case "live":
        return { kind: "held", owner: inspection.owner };
      case "young-unreadable":
        return { kind: "unreadable", ageMs: inspection.ageMs };
      default:
        return { kind: "changed" };
    }
  }
}

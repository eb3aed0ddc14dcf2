import { randomUUID } from "node:crypto";
import { link as linkFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  assertDurationOption,
  assertSafeName,
  type Clock,
  delay,
  type FileHandleLike,
  isErrnoError,
  type Logger,
  nodeFileSystem,
  silentLogger,
  systemClock,
  type TimerHandle,
} from "@beauvoir/core";
import { LockCorruptError, LockHeldError } from "./errors.js";
import { asyncDisposeSymbol, type LockHandle } from "./lock-handle.js";
import { decodeOwner, encodeOwner, LOCK_FILE_VERSION, type LockOwner } from "./lock-owner.js";
import {
  type AcquireOptions,
  LOCK_MANAGER_DEFAULTS,
  type LockFileSystem,
  type LockLostEvent,
  type LockManagerOptions,
  type RecoveryReport,
} from "./options.js";
import {
  isProcessAliveBySignal,
  processHeldLockIds,
  processStartedAt,
  systemBootId,
} from "./process-identity.js";

const LOCK_SUFFIX = ".lock";
/**
 * `{name}.lock.{id}.tmp`: a lock record being written before it is linked to
 * `{name}.lock`. Never a lock: lock files end in `.lock`.
 */
const TEMP_FILE_PATTERN = /^(.+)\.lock\.([0-9a-f-]{36})\.tmp$/;
/** Tries made at once, without sleeping, when the lock file vanished or changed under us. */
const MAX_IMMEDIATE_RETRIES = 8;
/**
 * Extra re-reads of an unreadable, young lock file before failing a call whose
 * wait is over. This package never exposes a partial record, but an older
 * version or another tool writing in place may be between `open` and `write`,
 * a few milliseconds at most.
 */
const UNREADABLE_SETTLE_TRIES = 3;
/** How many times `recoverStaleLocks()` re-inspects a file that changed between its two reads. */
const RECOVERY_INSPECTIONS = 3;

/** Why a lock was judged stale. */
type StaleReason = "expired" | "dead-pid" | "pid-reused" | "unreadable";

/** What one look at an existing lock file found, and did. */
type Inspection =
  | { readonly kind: "missing" }
  | { readonly kind: "changed" }
  | { readonly kind: "live"; readonly owner: LockOwner }
  | { readonly kind: "young-unreadable"; readonly ageMs: number }
  | { readonly kind: "removed"; readonly reason: StaleReason };

/** What one try of `acquire()` ended with. */
type Attempt =
  | { readonly kind: "acquired"; readonly handle: LockHandle }
  | { readonly kind: "changed" }
  | { readonly kind: "held"; readonly owner: LockOwner }
  | { readonly kind: "unreadable"; readonly ageMs: number };

interface HeldLock {
  readonly name: string;
  readonly path: string;
  owner: LockOwner;
  /** Set once a release started; later calls share it. */
  releasing: Promise<boolean> | undefined;
  /** An in-flight renewal; a release waits for it so it never races a rewrite. */
  renewing: Promise<void> | undefined;
}

/**
 * Cross-process named locks backed by files: `{lockDir}/{name}.lock`, holding
 * the owner's id, pid, boot id and timestamps, created atomically (written
 * under a temporary name, then hard-linked, which fails when the lock exists).
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
  readonly #lockDir: string;
  readonly #maxAgeMs: number;
  readonly #renewIntervalMs: number;
  readonly #corruptGraceMs: number;
  readonly #fsync: boolean;
  readonly #bootId: string;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #fs: LockFileSystem;
  readonly #link: (existingPath: string, newPath: string) => Promise<void>;
  readonly #isProcessAlive: (pid: number) => boolean;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #onLockLost: ((event: LockLostEvent) => void) | undefined;
  readonly #held = new Map<string, HeldLock>();
  readonly #processHeldIds = processHeldLockIds();
  #directoryReady: Promise<void> | undefined;
  #renewTimer: TimerHandle | undefined;

  /**
   * @param options - the lock directory and optional tuning; see {@link LockManagerOptions}.
   * @throws TypeError when `lockDir` or a function/object option has the wrong type.
   * @throws RangeError when a duration option is negative, not a number, or inconsistent.
   */
  constructor(options: LockManagerOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("LockManager options must be an object with a lockDir");
    }
    if (typeof options.lockDir !== "string" || options.lockDir.length === 0) {
      throw new TypeError("lockDir must be a non-empty string");
    }
    this.#lockDir = resolve(options.lockDir);
    const maxAgeMs = assertDurationOption(
      options.maxAgeMs ?? LOCK_MANAGER_DEFAULTS.maxAgeMs,
      "maxAgeMs",
      { allowInfinity: true },
    );
    if (maxAgeMs === 0) throw new RangeError("maxAgeMs must be greater than 0");
    this.#maxAgeMs = maxAgeMs;
    const renewIntervalMs = assertDurationOption(
      options.renewIntervalMs ?? maxAgeMs / 4,
      "renewIntervalMs",
      { allowInfinity: true },
    );
    if (renewIntervalMs === 0) throw new RangeError("renewIntervalMs must be greater than 0");
    if (Number.isFinite(maxAgeMs) && renewIntervalMs >= maxAgeMs) {
      throw new RangeError(
        `renewIntervalMs (${renewIntervalMs}) must be below maxAgeMs (${maxAgeMs}), or a live holder's lock would go stale`,
      );
    }
    this.#renewIntervalMs = renewIntervalMs;
    this.#corruptGraceMs = assertDurationOption(
      options.corruptGraceMs ?? LOCK_MANAGER_DEFAULTS.corruptGraceMs,
      "corruptGraceMs",
      { allowInfinity: false },
    );
    this.#retryBaseMs = assertDurationOption(
      options.retryBaseMs ?? LOCK_MANAGER_DEFAULTS.retryBaseMs,
      "retryBaseMs",
      { allowInfinity: false },
    );
    this.#retryMaxMs = assertDurationOption(
      options.retryMaxMs ?? Math.max(LOCK_MANAGER_DEFAULTS.retryMaxMs, this.#retryBaseMs),
      "retryMaxMs",
      { allowInfinity: false },
    );
    if (this.#retryMaxMs < this.#retryBaseMs) {
      throw new RangeError(
        `retryMaxMs (${this.#retryMaxMs}) must be at least retryBaseMs (${this.#retryBaseMs})`,
      );
    }
    if (options.fsync !== undefined && typeof options.fsync !== "boolean") {
      throw new TypeError("fsync must be a boolean");
    }
    this.#fsync = options.fsync ?? true;
    if (
      options.bootId !== undefined &&
      (typeof options.bootId !== "string" || options.bootId.length === 0)
    ) {
      throw new TypeError("bootId must be a non-empty string");
    }
    this.#bootId = options.bootId ?? systemBootId();
    if (options.isProcessAlive !== undefined && typeof options.isProcessAlive !== "function") {
      throw new TypeError("isProcessAlive must be a function (pid) => boolean");
    }
    this.#isProcessAlive = options.isProcessAlive ?? isProcessAliveBySignal;
    if (options.onLockLost !== undefined && typeof options.onLockLost !== "function") {
      throw new TypeError("onLockLost must be a function");
    }
    this.#onLockLost = options.onLockLost;
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    const fs: LockFileSystem = options.fs ?? nodeFileSystem;
    this.#fs = fs;
    // Core's FileSystem has no link; a wrapper of nodeFileSystem works on the
    // real disk, where node's link is the right call.
    this.#link = typeof fs.link === "function" ? fs.link.bind(fs) : linkFile;
  }

  /** The absolute directory holding the lock files. */
  get lockDir(): string {
    return this.#lockDir;
  }

  /** The boot id written into this manager's lock files. */
  get bootId(): string {
    return this.#bootId;
  }

  /** Names of the locks this manager holds now. */
  get heldLocks(): string[] {
    return [...this.#held.keys()];
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
   * @throws `InvalidNameError` (`INVALID_NAME`) for an unsafe name; RangeError for a bad `waitMs`.
   * @throws the signal's reason when `signal` aborts; filesystem errors other than EEXIST as they are.
   * @example
   * ```ts
   * const lock = await locks.acquire("dedup-index", { waitMs: 2_000 });
   * try { await compact(); } finally { await lock.release(); }
   * ```
   */
  async acquire(name: string, options: AcquireOptions = {}): Promise<LockHandle> {
    assertSafeName(name);
    const waitMs = assertDurationOption(options.waitMs ?? 0, "waitMs", { allowInfinity: true });
    const { signal } = options;
    signal?.throwIfAborted();
    const path = this.#pathOf(name);
    const startedAt = this.#clock.now();
    const deadline = startedAt + waitMs;
    let sleeps = 0;
    let immediateRetries = 0;
    let settleTries = 0;
    let probeFirst = false;
    for (;;) {
      signal?.throwIfAborted();
      const attempt = await this.#attempt(name, path, probeFirst);
      if (attempt.kind === "acquired") return attempt.handle;
      // Seen taken: the next try looks before writing a record that would
      // most likely be thrown away.
      probeFirst = attempt.kind !== "changed";
      if (attempt.kind === "changed" && immediateRetries < MAX_IMMEDIATE_RETRIES) {
        immediateRetries++;
        continue;
      }
      immediateRetries = 0;
      const now = this.#clock.now();
      let pauseMs: number;
      if (now < deadline) {
        pauseMs = Math.min(this.#backoffMs(sleeps++), deadline - now);
      } else if (attempt.kind === "held") {
        throw new LockHeldError(name, attempt.owner, waitMs > 0 ? now - startedAt : 0);
      } else if (attempt.kind === "unreadable" && settleTries >= UNREADABLE_SETTLE_TRIES) {
        throw new LockCorruptError(name, path, attempt.ageMs, this.#corruptGraceMs);
      } else {
        // Past the deadline, an unreadable file gets a few short re-reads (its
        // writer is mid-write), and a file that keeps changing means others
        // are making progress: look again shortly rather than report a guess.
        settleTries++;
        pauseMs = this.#retryBaseMs;
      }
      await delay(pauseMs, { signal, clock: this.#clock });
    }
  }

  /**
   * Releases the named lock if this manager holds it and the file still
   * carries this manager's id. Never removes a lock owned by someone else.
   * @param name - the lock's name.
   * @returns true if a lock we owned was removed; false if we did not hold it,
   *   or it had been removed or taken over (then `onLockLost` is called).
   * @throws `InvalidNameError` for an unsafe name; filesystem errors other than ENOENT
   *   (the lock then stays held and the call may be repeated).
   * @example
   * ```ts
   * await locks.release("dedup-index"); // true
   * await locks.release("dedup-index"); // false: already released
   * ```
   */
  async release(name: string): Promise<boolean> {
    assertSafeName(name);
    const held = this.#held.get(name);
    return held ? this.#release(held) : false;
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
    const results = await Promise.allSettled(
      [...this.#held.values()].map((held) => this.#release(held)),
    );
    const errors = results.flatMap((result) =>
      result.status === "rejected" ? [result.reason] : [],
    );
    if (errors.length > 0) {
      throw new AggregateError(
        errors,
        `Failed to release ${errors.length} lock(s) in ${this.#lockDir}`,
      );
    }
  }

  /**
   * Scans `lockDir` and removes every stale lock (same rules and double read
   * as `acquire()`); the boot sequence calls it once at start.
   * @returns the names recovered, left live, and those that could not be inspected.
   * @example
   * ```ts
   * const { recovered } = await locks.recoverStaleLocks();
   * if (recovered.length > 0) console.warn("previous run crashed holding", recovered);
   * ```
   */
  async recoverStaleLocks(): Promise<RecoveryReport> {
    const report: RecoveryReport = { recovered: [], live: [], failed: [] };
    let entries: string[];
    try {
      entries = await this.#fs.readdir(this.#lockDir);
    } catch (error) {
      if (isErrnoError(error, "ENOENT")) return report;
      throw error;
    }
    const removedTempFiles: string[] = [];
    for (const entry of [...entries].sort()) {
      if (TEMP_FILE_PATTERN.test(entry)) {
        try {
          if (await this.#removeLeftoverTempFile(entry)) removedTempFiles.push(entry);
        } catch (error) {
          this.#logger.warn("Could not inspect temporary lock file", {
            file: entry,
            lockDir: this.#lockDir,
            error,
          });
        }
        continue;
      }
      const name = lockNameOf(entry);
      if (name === undefined) continue;
      try {
        const inspection = await this.#inspectRepeatedly(name, this.#pathOf(name));
        if (inspection.kind === "removed") report.recovered.push(name);
        else if (inspection.kind !== "missing") report.live.push(name);
      } catch (error) {
        this.#logger.warn("Could not inspect lock file", { name, lockDir: this.#lockDir, error });
        report.failed.push(name);
      }
    }
    if (removedTempFiles.length > 0) {
      this.#logger.info("Removed leftover temporary lock files", {
        lockDir: this.#lockDir,
        files: removedTempFiles,
      });
    }
    if (report.recovered.length > 0) {
      this.#logger.info("Recovered stale locks", {
        lockDir: this.#lockDir,
        recovered: report.recovered,
      });
    }
    return report;
  }

  #pathOf(name: string): string {
    return join(this.#lockDir, `${name}${LOCK_SUFFIX}`);
  }

  #backoffMs(attempt: number): number {
    const ceiling = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** Math.min(attempt, 30));
    // Half fixed, half random: contenders that collided spread out next time.
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  #ensureDirectory(): Promise<void> {
    this.#directoryReady ??= this.#fs.mkdir(this.#lockDir, { recursive: true, mode: 0o700 }).then(
      () => undefined,
      (error: unknown) => {
        this.#directoryReady = undefined;
        throw error;
      },
    );
    return this.#directoryReady;
  }

  async #attempt(name: string, path: string, probeFirst: boolean): Promise<Attempt> {
    await this.#ensureDirectory();
    if (probeFirst) {
      const probe = await this.#inspect(name, path);
      if (probe.kind === "live") return { kind: "held", owner: probe.owner };
      if (probe.kind === "young-unreadable") return { kind: "unreadable", ageMs: probe.ageMs };
      if (probe.kind === "changed") return probe;
    }
    const handle = await this.#tryCreate(name, path);
    if (handle !== "exists") return handle ? { kind: "acquired", handle } : { kind: "changed" };
    // After a probe, someone took it in between: look again at once.
    if (probeFirst) return { kind: "changed" };
    const inspection = await this.#inspect(name, path);
    switch (inspection.kind) {
      case "live":
        return { kind: "held", owner: inspection.owner };
      case "young-unreadable":
        return { kind: "unreadable", ageMs: inspection.ageMs };
      default:
        return { kind: "changed" };
    }
  }

  /**
   * One atomic create: the record is written (and fsynced) under a temporary
   * name, then hard-linked to the lock's name. `link` fails with EEXIST like
   * `O_EXCL`, and the lock file never exists without its whole record, so a
   * crash at any point leaves either no lock or a complete one (plus, at
   * worst, a temporary file that `recoverStaleLocks()` removes).
   * Returns the handle, `"exists"` on EEXIST, or `undefined` when the
   * directory vanished (it is recreated on the next try).
   */
  async #tryCreate(name: string, path: string): Promise<LockHandle | "exists" | undefined> {
    const owner: LockOwner = Object.freeze({
      id: randomUUID(),
      pid: process.pid,
      bootId: this.#bootId,
      createdAt: this.#clock.now(),
      lockVersion: LOCK_FILE_VERSION,
    });
    const tempPath = `${path}.${owner.id}.tmp`;
    // Registered before any file exists, so another manager in this process
    // never mistakes our fresh lock (or temporary file) for a leftover of an
    // earlier process.
    this.#processHeldIds.add(owner.id);
    let file: FileHandleLike;
    try {
      file = await this.#fs.open(tempPath, "wx", 0o600);
    } catch (error) {
      this.#processHeldIds.delete(owner.id);
      if (isErrnoError(error, "ENOENT")) {
        this.#directoryReady = undefined;
        return undefined;
      }
      throw error;
    }
    let linked = false;
    try {
      try {
        await writeFully(file, encodeOwner(owner));
        if (this.#fsync) await file.sync();
      } finally {
        await file.close();
      }
      try {
        await this.#link(tempPath, path);
        linked = true;
      } catch (error) {
        if (isErrnoError(error, "EEXIST")) {
          await this.#removeTempFile(tempPath);
          this.#processHeldIds.delete(owner.id);
          return "exists";
        }
        throw error;
      }
      await this.#removeTempFile(tempPath);
      if (this.#fsync) await this.#fs.fsyncDirectory(this.#lockDir);
    } catch (error) {
      // The lock is ours by the link, and too young for anyone to break: safe to remove.
      if (linked) await this.#fs.unlink(path).catch(() => undefined);
      await this.#fs.unlink(tempPath).catch(() => undefined);
      this.#processHeldIds.delete(owner.id);
      if (!linked && isErrnoError(error, "ENOENT")) {
        // The directory, or our temporary file with it, was removed meanwhile.
        this.#directoryReady = undefined;
        return undefined;
      }
      throw error;
    }
    const held: HeldLock = { name, path, owner, releasing: undefined, renewing: undefined };
    this.#held.set(name, held);
    this.#armRenewal();
    return this.#handleFor(held);
  }

  /**
   * Removes our temporary file once linked (or refused). A failure is only
   * logged: the lock is decided either way, and `recoverStaleLocks()`
   * removes the leftover.
   */
  async #removeTempFile(tempPath: string): Promise<void> {
    try {
      await this.#fs.unlink(tempPath);
    } catch (error) {
      if (!isErrnoError(error, "ENOENT")) {
        this.#logger.warn("Could not remove temporary lock file", { path: tempPath, error });
      }
    }
  }

  /**
   * Removes a `{name}.lock.{id}.tmp` file left by a creator that crashed
   * before linking or cleaning up: when its record is stale (same rules as a
   * lock), or, unreadable or not, when its mtime is older than `corruptGraceMs`
   * (a live creator keeps one for milliseconds). Our own in-flight files are
   * left alone.
   * @returns whether the file was removed.
   */
  async #removeLeftoverTempFile(entry: string): Promise<boolean> {
    const path = join(this.#lockDir, entry);
    const bytes = await this.#readIfPresent(path);
    if (bytes === undefined) return false;
    const owner = decodeOwner(bytes);
    if (owner && this.#processHeldIds.has(owner.id)) return false;
    let stale = owner !== undefined && this.#staleReason(owner) !== undefined;
    if (!stale) {
      let mtimeMs: number;
      try {
        ({ mtimeMs } = await this.#fs.stat(path));
      } catch (error) {
        if (isErrnoError(error, "ENOENT")) return false;
        throw error;
      }
      stale = this.#clock.now() - mtimeMs > this.#corruptGraceMs;
    }
    if (!stale) return false;
    try {
      await this.#fs.unlink(path);
    } catch (error) {
      if (isErrnoError(error, "ENOENT")) return false;
      throw error;
    }
    return true;
  }

  #handleFor(held: HeldLock): LockHandle {
    const release = (): Promise<boolean> =>
      this.#held.get(held.name) === held ? this.#release(held) : Promise.resolve(false);
    return Object.freeze({
      name: held.name,
      id: held.owner.id,
      release,
      [asyncDisposeSymbol]: async (): Promise<void> => {
        await release();
      },
    });
  }

  async #inspectRepeatedly(name: string, path: string): Promise<Inspection> {
    let inspection = await this.#inspect(name, path);
    for (let round = 1; round < RECOVERY_INSPECTIONS && inspection.kind === "changed"; round++) {
      inspection = await this.#inspect(name, path);
    }
    return inspection;
  }

  /**
   * Reads an existing lock file, judges it, and removes it when stale and
   * still byte-for-byte what was judged (the double read).
   */
  async #inspect(name: string, path: string): Promise<Inspection> {
    const first = await this.#readIfPresent(path);
    if (first === undefined) return { kind: "missing" };
    const owner = decodeOwner(first);
    let reason: StaleReason | undefined;
    if (owner) {
      reason = this.#staleReason(owner);
      if (reason === undefined) {
        if (owner.bootId !== this.#bootId && owner.pid !== process.pid) {
          this.#logger.debug("Lock owner is from another boot but its pid is alive; kept as live", {
            name,
            owner,
            bootId: this.#bootId,
          });
        }
        return { kind: "live", owner };
      }
    } else {
      let mtimeMs: number;
      try {
        ({ mtimeMs } = await this.#fs.stat(path));
      } catch (error) {
        if (isErrnoError(error, "ENOENT")) return { kind: "missing" };
        throw error;
      }
      const ageMs = this.#clock.now() - mtimeMs;
      if (ageMs <= this.#corruptGraceMs) return { kind: "young-unreadable", ageMs };
      reason = "unreadable";
    }
    const second = await this.#readIfPresent(path);
    if (second === undefined) return { kind: "missing" };
    if (!second.equals(first)) return { kind: "changed" };
    try {
      await this.#fs.unlink(path);
    } catch (error) {
      if (isErrnoError(error, "ENOENT")) return { kind: "missing" };
      throw error;
    }
    this.#logger.warn("Removed stale lock", {
      name,
      reason,
      owner: owner ?? null,
      sameBoot: owner ? owner.bootId === this.#bootId : null,
    });
    return { kind: "removed", reason };
  }

  #staleReason(owner: LockOwner): StaleReason | undefined {
    const ageMs = this.#clock.now() - (owner.renewedAt ?? owner.createdAt);
    if (ageMs > this.#maxAgeMs) return "expired";
    if (owner.pid === process.pid) {
      if (this.#processHeldIds.has(owner.id)) return undefined;
      // Our own pid on a lock that predates this process: a restarted
      // container (or a reboot) handed the crashed holder's pid to us.
      if (owner.createdAt < processStartedAt) return "pid-reused";
    }
    return this.#isProcessAlive(owner.pid) ? undefined : "dead-pid";
  }

  async #readIfPresent(path: string): Promise<Buffer | undefined> {
    try {
      return await this.#fs.readFile(path);
    } catch (error) {
      if (isErrnoError(error, "ENOENT")) return undefined;
      throw error;
    }
  }

  #release(held: HeldLock): Promise<boolean> {
    if (held.releasing) return held.releasing.then(() => false);
    const releasing = this.#removeOwnLock(held).then(
      (removed) => {
        this.#forget(held);
        return removed;
      },
      (error: unknown) => {
        // Still ours as far as we know: let a later release try again.
        held.releasing = undefined;
        throw error;
      },
    );
    held.releasing = releasing;
    return releasing;
  }

  async #removeOwnLock(held: HeldLock): Promise<boolean> {
    await held.renewing;
    const current = await this.#readIfPresent(held.path);
    if (current === undefined) {
      this.#reportLost(held, "removed");
      return false;
    }
    if (decodeOwner(current)?.id !== held.owner.id) {
      this.#reportLost(held, "taken-over");
      return false;
    }
    try {
      await this.#fs.unlink(held.path);
    } catch (error) {
      if (!isErrnoError(error, "ENOENT")) throw error;
      this.#reportLost(held, "removed");
      return false;
    }
    return true;
  }

  /** Drops a lock from this manager's books; the id leaves the process registry only after the file is gone. */
  #forget(held: HeldLock): void {
    if (this.#held.get(held.name) === held) this.#held.delete(held.name);
    this.#processHeldIds.delete(held.owner.id);
    if (this.#held.size === 0 && this.#renewTimer) {
      this.#clock.clearTimeout(this.#renewTimer);
      this.#renewTimer = undefined;
    }
  }

  #reportLost(held: HeldLock, reason: LockLostEvent["reason"]): void {
    const event: LockLostEvent = { name: held.name, id: held.owner.id, reason };
    this.#logger.error("Lock held by this manager was lost", { ...event, lockDir: this.#lockDir });
    try {
      this.#onLockLost?.(event);
    } catch (error) {
      this.#logger.warn("onLockLost listener threw", { error });
    }
  }

  #armRenewal(): void {
    if (this.#renewTimer || this.#held.size === 0 || !Number.isFinite(this.#renewIntervalMs))
      return;
    this.#renewTimer = this.#clock.setTimeout(() => {
      this.#renewTimer = undefined;
      void this.#renewAll().finally(() => this.#armRenewal());
    }, this.#renewIntervalMs);
    this.#renewTimer.unref?.();
  }

  async #renewAll(): Promise<void> {
    const renewals = [...this.#held.values()]
      .filter((held) => !held.releasing && !held.renewing)
      .map((held) => {
        const renewing = this.#renew(held)
          .catch((error: unknown) => {
            this.#logger.warn("Could not renew lock; will try again", { name: held.name, error });
          })
          .finally(() => {
            held.renewing = undefined;
          });
        held.renewing = renewing;
        return renewing;
      });
    await Promise.all(renewals);
  }

  /** Rewrites `renewedAt` in place, after checking the file still carries our id. */
  async #renew(held: HeldLock): Promise<void> {
    const current = await this.#readIfPresent(held.path);
    if (current === undefined || decodeOwner(current)?.id !== held.owner.id) {
      this.#forget(held);
      this.#reportLost(held, current === undefined ? "removed" : "taken-over");
      return;
    }
    const renewed: LockOwner = Object.freeze({ ...held.owner, renewedAt: this.#clock.now() });
    const bytes = encodeOwner(renewed);
    // In place, not by rename: a reader sees the old record, the new one, or
    // (mid-write) an unreadable file with a fresh mtime, which is never broken.
    const file = await this.#fs.open(held.path, "r+");
    try {
      await writeFully(file, bytes);
      await file.truncate(bytes.length);
    } finally {
      await file.close();
    }
    held.owner = renewed;
  }
}

function lockNameOf(entry: string): string | undefined {
  if (!entry.endsWith(LOCK_SUFFIX)) return undefined;
  const name = entry.slice(0, -LOCK_SUFFIX.length);
  try {
    return assertSafeName(name);
  } catch {
    return undefined;
  }
}

async function writeFully(file: FileHandleLike, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset, offset);
    if (bytesWritten <= 0) throw new Error("Lock file write made no progress");
    offset += bytesWritten;
  }
}

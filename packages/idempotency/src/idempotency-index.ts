import { join } from "node:path";
import {
  assertSafeName,
  type Clock,
  type FileSystem,
  isErrnoError,
  type Logger,
  nodeFileSystem,
  silentLogger,
  systemClock,
  type TimerHandle,
} from "@beauvoir/core";
import { buildCompensationTable, isCompensationStrategy } from "./compensation.js";
import { createDefaultLocks, createDefaultStore } from "./default-dependencies.js";
import type { CompensationStrategy, IdempotencyEntry } from "./entry.js";
import {
  DuplicateExecutionError,
  IndexCorruptError,
  IndexNotOpenError,
  InvalidTransitionError,
  PendingWaitTimeoutError,
} from "./errors.js";
import { actionOfKey, generateIdempotencyKey } from "./idempotency-key.js";
import { decodeJournal, encodeJournalLine, type JournalRecord } from "./journal-format.js";
import { JournalWriter } from "./journal-writer.js";
import {
  type AuditQuery,
  type AuditResultLookup,
  IDEMPOTENCY_INDEX_DEFAULTS,
  type IdempotencyIndexOptions,
  type IdempotencySnapshot,
  type MarkPendingOptions,
  type MarkPendingResult,
  type OwnerLockHandle,
  type OwnerLockProvider,
  type PendingConflictMode,
  type SnapshotStore,
} from "./options.js";

const JOURNAL_NAME = /^journal\.(\d+)\.jsonl$/;

function journalName(generation: number): string {
  return `journal.${generation}.jsonl`;
}

interface ResolvedOptions {
  readonly dir: string;
  readonly lockName: string;
  readonly lockWaitMs: number;
  readonly ttlMs: number;
  readonly onPendingConflict: PendingConflictMode;
  readonly waitTimeoutMs: number;
  readonly compactionThreshold: number;
  readonly snapshotMaxBytes: number;
  readonly auditQuery: AuditQuery | undefined;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly fs: FileSystem;
}

function requireNumber(name: string, value: unknown, minimum: number, integer = false): number {
  if (typeof value !== "number" || Number.isNaN(value))
    throw new TypeError(`${name} must be a number`);
  if (value < minimum || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new RangeError(
      `${name} must be a finite ${integer ? "integer" : "number"} >= ${minimum} (got ${value})`,
    );
  }
  return value;
}

function resolveOptions(options: IdempotencyIndexOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null)
    throw new TypeError("options must be an object");
  if (typeof options.dir !== "string" || options.dir.length === 0) {
    throw new TypeError("dir must be a non-empty path");
  }
  const defaults = IDEMPOTENCY_INDEX_DEFAULTS;
  const mode = options.onPendingConflict ?? defaults.onPendingConflict;
  if (mode !== "skip" && mode !== "wait" && mode !== "fail") {
    throw new TypeError(
      `onPendingConflict must be "skip", "wait" or "fail" (got ${JSON.stringify(mode)})`,
    );
  }
  const auditQuery = options.auditQuery;
  if (
    auditQuery !== undefined &&
    typeof auditQuery !== "function" &&
    typeof (auditQuery as { findResultByIntentSeq?: unknown })?.findResultByIntentSeq !== "function"
  ) {
    throw new TypeError(
      "auditQuery must be a function or an object with findResultByIntentSeq(intentSeq)",
    );
  }
  const lockName = options.lockName ?? defaults.lockName;
  assertSafeName(lockName);
  return Object.freeze({
    dir: options.dir,
    lockName,
    lockWaitMs: requireNumber("lockWaitMs", options.lockWaitMs ?? defaults.lockWaitMs, 0),
    ttlMs: requireNumber("ttlMs", options.ttlMs ?? defaults.ttlMs, 1),
    onPendingConflict: mode,
    waitTimeoutMs: requireNumber(
      "waitTimeoutMs",
      options.waitTimeoutMs ?? defaults.waitTimeoutMs,
      0,
    ),
    compactionThreshold: requireNumber(
      "compactionThreshold",
      options.compactionThreshold ?? defaults.compactionThreshold,
      1,
      true,
    ),
    snapshotMaxBytes: requireNumber(
      "snapshotMaxBytes",
      options.snapshotMaxBytes ?? defaults.snapshotMaxBytes,
      1,
      true,
    ),
    auditQuery,
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? systemClock,
    fs: options.fs ?? nodeFileSystem,
  });
}

function toJsonData(value: unknown, name: string): unknown {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`${name} must be JSON data: ${(error as Error).message}`);
  }
  return text === undefined ? undefined : JSON.parse(text);
}

function validateSnapshot(value: unknown): IdempotencySnapshot {
  if (typeof value !== "object" || value === null) throw new IndexCorruptError("not an object");
  const snapshot = value as Partial<IdempotencySnapshot>;
  if (snapshot.format !== 1)
    throw new IndexCorruptError(`unknown format ${JSON.stringify(snapshot.format)}`);
  if (!Number.isSafeInteger(snapshot.generation) || (snapshot.generation as number) < 0) {
    throw new IndexCorruptError("generation is not a non-negative integer");
  }
  if (!Number.isSafeInteger(snapshot.lastSeq) || (snapshot.lastSeq as number) < 0) {
    throw new IndexCorruptError("lastSeq is not a non-negative integer");
  }
  if (!Array.isArray(snapshot.entries)) throw new IndexCorruptError("entries is not an array");
  for (const entry of snapshot.entries) {
    if (
      typeof entry !== "object" ||
      entry === null ||
      typeof entry.key !== "string" ||
      (entry.status !== "pending" && entry.status !== "completed" && entry.status !== "failed")
    ) {
      throw new IndexCorruptError("an entry has no key or an unknown status");
    }
  }
  return snapshot as IdempotencySnapshot;
}

function applyRecord(map: Map<string, IdempotencyEntry>, record: JournalRecord): void {
  if (record.type === "put") map.set(record.entry.key, Object.freeze({ ...record.entry }));
  else for (const key of record.keys) map.delete(key);
}

interface JournalFile {
  readonly name: string;
  readonly generation: number;
  readonly validBytes: number;
  readonly droppedBytes: number;
  readonly maxSeq: number;
}

/**
 * A durable dedup index for side effects: before a side effect runs its key is
 * marked `pending` on disk, afterwards `completed` or `failed`, so after a crash
 * the program knows which side effects may have happened and how to compensate.
 *
 * **Storage.** Every transition is one checksummed line appended to a journal
 * through an `O_APPEND` descriptor and fsynced before the call resolves;
 * concurrent transitions share one fsync (group commit). The cost of a
 * transition does not depend on the number of entries. The journal is folded
 * into a snapshot (a resilient JSON store) once it holds more records than
 * `max(compactionThreshold, entries)`, so compaction is O(1) per transition,
 * amortized. A torn last line (crash mid-write) is detected by its checksum and
 * dropped on open; every record is applied exactly once thanks to its `seq`.
 *
 * **Ownership.** `initialize()` takes an owner lock through `@beauvoir/locks`
 * and holds it until `close()`: one process at a time owns the index, so the
 * in-memory state is the truth and check-then-mark needs no lock file per call.
 * Inside the process, transitions on one key are serialized and check-then-mark
 * happens without yielding, so two callers can never both claim a key. After a
 * crash the next owner finds the dead owner's `pending` entries; they stay
 * contested until `reconcilePending()` hands them out (or settles them from the
 * audit trail).
 *
 * @example
 * ```ts
 * const index = new IdempotencyIndex({ dir: "/var/lib/agent/idempotency" });
 * await index.initialize();
 * const key = index.generateKey("add_labels", "acme/widgets", "issue-12", { labels: ["bug"] });
 * const claim = await index.markPending(key, intentSeq);
 * if (claim.claimed) {
 *   const result = await addLabels();
 *   await index.markCompleted(key, result);
 * }
 * await index.close();
 * ```
 */
export class IdempotencyIndex {
  readonly #options: ResolvedOptions;
  readonly #compensation: Readonly<Record<string, CompensationStrategy>>;
  readonly #store: SnapshotStore;
  readonly #locks: OwnerLockProvider;
  #state: "new" | "opening" | "open" | "closed" = "new";
  #opening: Promise<void> | null = null;
  /** What callers see: durable entries plus transitions waiting for their fsync. */
  readonly #entries = new Map<string, IdempotencyEntry>();
  /** Only what is on disk; the snapshot is taken from here. */
  readonly #durable = new Map<string, IdempotencyEntry>();
  /** Keys marked pending by this process and not yet settled. */
  readonly #live = new Set<string>();
  /** Pending keys of a previous owner that reconcilePending() handed out for compensation. */
  readonly #released = new Set<string>();
  /** The in-flight transition of each key; the next one on that key waits for it. */
  readonly #busy = new Map<string, Promise<unknown>>();
  readonly #waiters = new Map<string, Set<() => void>>();
  #writer: JournalWriter | null = null;
  #lock: OwnerLockHandle | null = null;
  #seq = 0;
  #durableSeq = 0;
  #generation = 0;
  #recordsSinceSnapshot = 0;
  #compactionQueued = false;

  /**
   * @param options - see {@link IdempotencyIndexOptions}; only `dir` is required.
   * @throws TypeError or RangeError naming the option that is wrong.
   */
  constructor(options: IdempotencyIndexOptions) {
    this.#options = resolveOptions(options);
    this.#compensation = buildCompensationTable(options.compensation);
    const { dir, logger, clock, fs, snapshotMaxBytes } = this.#options;
    this.#store =
      options.store ??
      createDefaultStore({
        path: join(dir, "snapshot.json"),
        maxSizeBytes: snapshotMaxBytes,
        logger,
        clock,
        fs,
      });
    this.#locks =
      options.locks ?? createDefaultLocks({ lockDir: join(dir, "locks"), logger, clock, fs });
  }

  /**
   * Builds an idempotency key: `{action}:{scope}/{resource}:{16 hex of SHA-256 of params}`,
   * with the keys of `params` sorted at every depth.
   * @param action - e.g. `add_issue_comment`; non-empty, no `:`.
   * @param scope - e.g. `acme/widgets`.
   * @param resource - e.g. `issue-12`.
   * @param params - the call's parameters (JSON data).
   * @returns the key; equal inputs (in any key order) give equal keys.
   * @throws TypeError for a bad action or params JSON cannot represent.
   * @example
   * ```ts
   * IdempotencyIndex.generateKey("add_labels", "acme/widgets", "issue-12", { labels: ["bug"] });
   * ```
   */
  static generateKey(action: string, scope: string, resource: string, params: unknown): string {
    return generateIdempotencyKey(action, scope, resource, params);
  }

  /**
   * Same as {@link IdempotencyIndex.generateKey}, on an instance.
   * @param action - e.g. `add_issue_comment`.
   * @param scope - e.g. `acme/widgets`.
   * @param resource - e.g. `issue-12`.
   * @param params - the call's parameters.
   * @returns the key.
   * @throws TypeError for a bad action or params JSON cannot represent.
   * @example
   * ```ts
   * const key = index.generateKey("create_branch", "acme/widgets", "fix-12", { from: "main" });
   * ```
   */
  generateKey(action: string, scope: string, resource: string, params: unknown): string {
    return generateIdempotencyKey(action, scope, resource, params);
  }

  /** Number of entries (all statuses). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Takes the owner lock, loads the snapshot, replays the journal (dropping a
   * torn tail) and opens the journal for appending. Calling it again is a no-op.
   * @returns once the index is usable.
   * @throws `LockHeldError` (`LOCK_HELD`) when another live process owns the index.
   * @throws {@link IndexCorruptError} when the snapshot is not an idempotency snapshot.
   * @throws {@link IndexNotOpenError} after `close()`.
   * @example
   * ```ts
   * await index.initialize();
   * ```
   */
  initialize(): Promise<void> {
    if (this.#state === "closed") return Promise.reject(new IndexNotOpenError("closed"));
    if (this.#opening) return this.#opening;
    this.#state = "opening";
    this.#opening = this.#open().then(
      () => {
        if (this.#state === "opening") this.#state = "open";
      },
      async (error: unknown) => {
        this.#opening = null;
        this.#state = "new";
        await this.#releaseLock();
        throw error;
      },
    );
    return this.#opening;
  }

  async #open(): Promise<void> {
    const { dir, fs, logger, lockName, lockWaitMs } = this.#options;
    await fs.mkdir(dir, { recursive: true });
    this.#lock = await this.#locks.acquire(lockName, lockWaitMs > 0 ? { waitMs: lockWaitMs } : {});
    const stored = await this.#store.get();
    const snapshot = stored === null ? null : validateSnapshot(stored);
    const coveredSeq = snapshot?.lastSeq ?? 0;
    for (const entry of snapshot?.entries ?? [])
      this.#durable.set(entry.key, Object.freeze({ ...entry }));
    this.#generation = snapshot?.generation ?? 0;
    let lastSeq = coveredSeq;
    let replayed = 0;
    const files: JournalFile[] = [];
    const names = (await fs.readdir(dir))
      .map((name) => ({ name, match: JOURNAL_NAME.exec(name) }))
      .filter((item) => item.match !== null)
      .map((item) => ({ name: item.name, generation: Number(item.match?.[1]) }))
      .sort((a, b) => a.generation - b.generation);
    for (const { name, generation } of names) {
      const decoded = decodeJournal(await fs.readFile(join(dir, name)));
      let maxSeq = 0;
      for (const record of decoded.records) {
        maxSeq = record.seq;
        if (record.seq <= lastSeq) continue;
        if (replayed === 0 && snapshot === null && record.seq > 1) {
          // Compaction deletes a journal only after a snapshot covers it, so a
          // missing snapshot with a journal starting late means the snapshot was lost.
          logger.error(
            "idempotency: no snapshot, and the journal starts after seq 1; older entries may be lost",
            {
              file: name,
              firstSeq: record.seq,
            },
          );
        }
        applyRecord(this.#durable, record);
        lastSeq = record.seq;
        replayed += 1;
      }
      if (decoded.problem !== undefined) {
        logger.warn("idempotency: dropped the damaged tail of a journal", {
          file: name,
          droppedBytes: decoded.droppedBytes,
          problem: decoded.problem,
        });
      }
      files.push({
        name,
        generation,
        validBytes: decoded.validBytes,
        droppedBytes: decoded.droppedBytes,
        maxSeq,
      });
    }
    this.#seq = lastSeq;
    this.#durableSeq = lastSeq;
    this.#recordsSinceSnapshot = replayed;
    for (const [key, entry] of this.#durable) this.#entries.set(key, entry);

    const newest = files.at(-1);
    const activeGeneration = Math.max(this.#generation, newest?.generation ?? 0);
    const activeName = journalName(activeGeneration);
    const active = files.find((file) => file.name === activeName);
    const activePath = join(dir, activeName);
    const handle = await fs.open(activePath, "a");
    try {
      if (active && active.droppedBytes > 0) {
        // Later appends must not follow the damaged bytes.
        await handle.truncate(active.validBytes);
        await handle.sync();
      }
      if (!active) await fs.fsyncDirectory(dir);
    } catch (error) {
      await handle.close();
      throw error;
    }
    this.#generation = activeGeneration;
    this.#writer = new JournalWriter(handle, activePath, active?.validBytes ?? 0);
    // Journals whose every record the snapshot already holds are no longer needed.
    await this.#removeJournals(
      files
        .filter((file) => file.name !== activeName && file.maxSeq <= coveredSeq)
        .map((file) => file.name),
    );
    const pending = [...this.#durable.values()].filter(
      (entry) => entry.status === "pending",
    ).length;
    logger.info("idempotency: index opened", { entries: this.#durable.size, pending, replayed });
  }

  async #removeJournals(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    const { dir, fs, logger } = this.#options;
    try {
      for (const name of names) {
        try {
          await fs.unlink(join(dir, name));
        } catch (error) {
          if (!isErrnoError(error, "ENOENT")) throw error;
        }
      }
      await fs.fsyncDirectory(dir);
    } catch (error) {
      // Harmless: a leftover journal is replayed and skipped by seq on the next open.
      logger.warn("idempotency: could not remove an old journal", { error });
    }
  }

  #assertOpen(): JournalWriter {
    if (this.#state === "closed") throw new IndexNotOpenError("closed");
    if (this.#state !== "open" || this.#writer === null)
      throw new IndexNotOpenError("not_initialized");
    return this.#writer;
  }

  /**
   * The entry of `key`, or `null`. Never waits and never applies the conflict
   * policy; that is `markPending()`'s job, since only it can decide atomically.
   * @param key - an idempotency key.
   * @returns the entry (frozen) or `null`.
   * @throws {@link IndexNotOpenError} before `initialize()` or after `close()`.
   * @example
   * ```ts
   * const entry = await index.check(key);
   * if (entry?.status === "completed") return entry.result;
   * ```
   */
  async check(key: string): Promise<IdempotencyEntry | null> {
    this.#assertOpen();
    return this.#entries.get(key) ?? null;
  }

  /**
   * The compensation strategy of an action: the configured table, else `skip`.
   * @param action - an action name.
   * @returns its strategy.
   * @example
   * ```ts
   * index.getStrategy("create_branch"); // "safe_retry"
   * ```
   */
  getStrategy(action: string): CompensationStrategy {
    return Object.hasOwn(this.#compensation, action)
      ? (this.#compensation[action] as CompensationStrategy)
      : "skip";
  }

  /**
   * Claims `key` for a side effect: checks and marks it `pending` atomically,
   * and resolves once the pending entry is on disk. Run the side effect only
   * when the result says `claimed: true`.
   *
   * When the key already exists: `completed`/`failed` → `claimed: false` with
   * that reason (in every mode). `pending` and claimed by this process (or left
   * by a dead owner and not yet handed out by `reconcilePending()`) → the
   * `onPendingConflict` policy: `skip` returns `claimed: false, reason: "pending"`,
   * `fail` throws, `wait` waits until the key settles (then answers as above).
   * A pending key handed out by `reconcilePending()`, or any pending key with
   * `takeover: true`, is re-claimed under the new `intentSeq`.
   *
   * @param key - the idempotency key.
   * @param intentSeq - `seq` of the audit intent record of this attempt.
   * @param strategyOrOptions - a strategy, an action name (its strategy is looked
   *   up), or {@link MarkPendingOptions}.
   * @returns what happened, see {@link MarkPendingResult}.
   * @throws {@link DuplicateExecutionError} in `fail` mode when the key is pending.
   * @throws {@link PendingWaitTimeoutError} in `wait` mode after `waitTimeoutMs`.
   * @throws {@link JournalWriteError} when the entry could not be made durable (nothing changed).
   * @throws the signal's reason when `signal` aborts a wait.
   * @example
   * ```ts
   * const claim = await index.markPending(key, intentSeq, "add_labels");
   * if (!claim.claimed) console.log("not running it:", claim.reason);
   * ```
   */
  async markPending(
    key: string,
    intentSeq: number,
    strategyOrOptions?: CompensationStrategy | string | MarkPendingOptions,
  ): Promise<MarkPendingResult> {
    this.#assertOpen();
    if (typeof key !== "string" || key.length === 0)
      throw new TypeError("key must be a non-empty string");
    if (!Number.isSafeInteger(intentSeq) || intentSeq < 0) {
      throw new TypeError(`intentSeq must be a non-negative integer (got ${intentSeq})`);
    }
    const options: MarkPendingOptions =
      typeof strategyOrOptions === "string"
        ? isCompensationStrategy(strategyOrOptions)
          ? { strategy: strategyOrOptions }
          : { action: strategyOrOptions }
        : (strategyOrOptions ?? {});
    if (options.strategy !== undefined && !isCompensationStrategy(options.strategy)) {
      throw new TypeError(`strategy must be "safe_retry", "check_then_retry" or "skip"`);
    }
    const action = options.action ?? actionOfKey(key);
    const strategy = options.strategy ?? this.getStrategy(action);
    const waitUntil = this.#options.clock.now() + this.#options.waitTimeoutMs;
    for (;;) {
      await this.#settled(key);
      const writer = this.#assertOpen();
      const current = this.#entries.get(key);
      if (current && current.status !== "pending")
        return { claimed: false, reason: current.status, entry: current };
      if (current && !options.takeover && !this.#released.has(key)) {
        const mode = this.#options.onPendingConflict;
        if (mode === "skip") return { claimed: false, reason: "pending", entry: current };
        if (mode === "fail") throw new DuplicateExecutionError(key, current);
        await this.#waitForChange(key, waitUntil, options.signal);
        continue;
      }
      const now = this.#options.clock.now();
      const entry: IdempotencyEntry = Object.freeze({
        key,
        status: "pending",
        intentSeq,
        strategy,
        action,
        createdAt: current?.createdAt ?? now,
        updatedAt: now,
      });
      const wasLive = this.#live.has(key);
      const wasReleased = this.#released.delete(key);
      this.#live.add(key);
      await this.#write(writer, { seq: 0, type: "put", entry }, [key], () => {
        if (!wasLive) this.#live.delete(key);
        if (wasReleased) this.#released.add(key);
      });
      if (current)
        this.#logger.info("idempotency: pending key re-claimed", {
          key,
          intentSeq,
          previousIntentSeq: current.intentSeq,
        });
      return { claimed: true, entry };
    }
  }

  get #logger(): Logger {
    return this.#options.logger;
  }

  /**
   * Marks a pending key completed, durably. Waiters on the key wake up.
   * @param key - a pending key.
   * @param result - what the side effect returned (JSON data), kept with the entry.
   * @returns once the transition is on disk.
   * @throws {@link InvalidTransitionError} when the key is not pending.
   * @throws {@link JournalWriteError} when it could not be made durable (nothing changed).
   * @throws TypeError when `result` is not JSON data.
   * @example
   * ```ts
   * await index.markCompleted(key, { commentId: 991 });
   * ```
   */
  async markCompleted(key: string, result?: unknown): Promise<void> {
    this.#assertOpen();
    const data = toJsonData(result, "result");
    await this.#settle(key, "completed", (current, now) => {
      const { error: _error, result: _result, ...rest } = current;
      return data === undefined
        ? { ...rest, status: "completed", updatedAt: now }
        : { ...rest, status: "completed", updatedAt: now, result: data };
    });
  }

  /**
   * Marks a pending key failed, durably. `failed` is terminal: `markPending()`
   * will not claim the key again, so a failing step is not retried forever.
   * @param key - a pending key.
   * @param error - why it failed.
   * @returns once the transition is on disk.
   * @throws {@link InvalidTransitionError} when the key is not pending.
   * @throws {@link JournalWriteError} when it could not be made durable (nothing changed).
   * @example
   * ```ts
   * await index.markFailed(key, new Error("422 Validation Failed"));
   * ```
   */
  async markFailed(key: string, error: string | Error): Promise<void> {
    this.#assertOpen();
    const message = error instanceof Error ? error.message : String(error);
    await this.#settle(key, "failed", (current, now) => {
      const { error: _error, result: _result, ...rest } = current;
      return { ...rest, status: "failed", updatedAt: now, error: message };
    });
  }

  async #settle(
    key: string,
    to: "completed" | "failed",
    build: (current: IdempotencyEntry, now: number) => IdempotencyEntry,
  ): Promise<void> {
    await this.#settled(key);
    const writer = this.#assertOpen();
    const current = this.#entries.get(key);
    if (current?.status !== "pending")
      throw new InvalidTransitionError(key, current?.status ?? null, to);
    const entry = Object.freeze(build(current, this.#options.clock.now()));
    await this.#write(writer, { seq: 0, type: "put", entry }, [key], undefined, () => {
      this.#live.delete(key);
      this.#released.delete(key);
      this.#notify(key);
    });
  }

  /**
   * Drops completed and failed entries whose last transition is older than
   * `ttlMs`. Pending entries are never evicted: they stand for side effects in
   * doubt. Durable like any transition.
   * @returns how many entries were removed.
   * @throws {@link JournalWriteError} when it could not be made durable (nothing removed).
   * @example
   * ```ts
   * const removed = await index.evict();
   * ```
   */
  async evict(): Promise<number> {
    const writer = this.#assertOpen();
    const cutoff = this.#options.clock.now() - this.#options.ttlMs;
    const keys: string[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.status !== "pending" && entry.updatedAt <= cutoff && !this.#busy.has(entry.key))
        keys.push(entry.key);
    }
    if (keys.length === 0) return 0;
    await this.#write(writer, { seq: 0, type: "evict", keys }, keys);
    this.#logger.info("idempotency: evicted expired entries", { count: keys.length });
    return keys.length;
  }

  /**
   * Settles what can be settled among the pending entries left by a previous
   * owner (a crash), and returns the rest for compensation.
   *
   * With an `auditQuery`: an audit result with an `error` → `markFailed`, a
   * result without one → `markCompleted` (the side effect finished, only step 5
   * was lost), no result → returned. Without one: every such entry is returned.
   * Returned entries can then be re-claimed by `markPending()` (e.g. for a
   * `safe_retry` re-run). Failed entries are never returned; keys pending in
   * this process are in flight, not in doubt, and are left alone.
   * @returns the entries still needing compensation, each with its `strategy`.
   * @throws {@link JournalWriteError} when a promotion could not be made durable.
   * @example
   * ```ts
   * for (const entry of await index.reconcilePending()) {
   *   if (entry.strategy === "safe_retry") await rerun(entry);
   * }
   * ```
   */
  async reconcilePending(): Promise<IdempotencyEntry[]> {
    this.#assertOpen();
    const query = this.#options.auditQuery;
    const orphans = [...this.#entries.values()].filter(
      (entry) => entry.status === "pending" && !this.#live.has(entry.key),
    );
    const needing: IdempotencyEntry[] = [];
    for (const orphan of orphans) {
      let lookup: AuditResultLookup | null | undefined;
      if (query) {
        try {
          lookup =
            typeof query === "function"
              ? await query(orphan.intentSeq)
              : await query.findResultByIntentSeq(orphan.intentSeq);
        } catch (error) {
          this.#logger.warn("idempotency: audit lookup failed; the entry needs compensation", {
            key: orphan.key,
            error,
          });
          lookup = null;
        }
      }
      await this.#settled(orphan.key);
      const current = this.#entries.get(orphan.key);
      if (current?.status !== "pending" || this.#live.has(orphan.key)) continue;
      if (lookup && lookup.hasResult !== false) {
        if (typeof lookup.error === "string") {
          await this.markFailed(orphan.key, lookup.error);
          this.#logger.info("idempotency: pending entry promoted to failed from the audit trail", {
            key: orphan.key,
          });
        } else {
          await this.markCompleted(orphan.key, lookup.result);
          this.#logger.info(
            "idempotency: pending entry promoted to completed from the audit trail",
            { key: orphan.key },
          );
        }
        continue;
      }
      this.#released.add(orphan.key);
      this.#notify(orphan.key);
      needing.push(current);
    }
    return needing;
  }

  /**
   * Waits for queued transitions, closes the journal and releases the owner
   * lock. Waiters in `wait` mode are rejected. Calling it again is a no-op.
   * @returns once everything is closed.
   * @example
   * ```ts
   * await index.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    const opening = this.#opening;
    this.#state = "closed";
    if (opening) await opening.catch(() => {});
    for (const wake of [...this.#waiters.values()].flatMap((set) => [...set])) wake();
    try {
      await this.#writer?.close();
    } finally {
      this.#writer = null;
      await this.#releaseLock();
    }
  }

  async #releaseLock(): Promise<void> {
    const lock = this.#lock;
    this.#lock = null;
    if (lock) await lock.release();
  }

  /** Waits until no transition on `key` is in flight. */
  async #settled(key: string): Promise<void> {
    for (let busy = this.#busy.get(key); busy; busy = this.#busy.get(key)) {
      await busy.catch(() => {});
    }
  }

  /**
   * Applies `record` in memory at once (so concurrent callers see it), appends
   * it, and on failure puts the affected keys back as they are on disk. The
   * callbacks run before the key stops being busy, so the next transition on
   * the key sees their effect.
   */
  async #write(
    writer: JournalWriter,
    draft: JournalRecord,
    keys: readonly string[],
    onFailure?: () => void,
    onSuccess?: () => void,
  ): Promise<void> {
    this.#seq += 1;
    const record: JournalRecord = { ...draft, seq: this.#seq };
    applyRecord(this.#entries, record);
    const written = writer.append(encodeJournalLine(record), () => {
      applyRecord(this.#durable, record);
      this.#durableSeq = record.seq;
      this.#recordsSinceSnapshot += 1;
    });
    for (const key of keys) this.#busy.set(key, written);
    try {
      await written;
      onSuccess?.();
    } catch (error) {
      for (const key of keys) {
        const durable = this.#durable.get(key);
        if (durable) this.#entries.set(key, durable);
        else this.#entries.delete(key);
      }
      onFailure?.();
      throw error;
    } finally {
      for (const key of keys) if (this.#busy.get(key) === written) this.#busy.delete(key);
    }
    this.#maybeCompact(writer);
  }

  #maybeCompact(writer: JournalWriter): void {
    if (this.#compactionQueued || this.#state !== "open") return;
    if (
      this.#recordsSinceSnapshot < Math.max(this.#options.compactionThreshold, this.#durable.size)
    )
      return;
    this.#compactionQueued = true;
    writer
      .exclusive(() => this.#compact(writer))
      .catch((error: unknown) =>
        this.#logger.warn("idempotency: compaction failed; the journal keeps growing", { error }),
      )
      .finally(() => {
        this.#compactionQueued = false;
      });
  }

  /**
   * Folds the journal into a new snapshot. Runs between journal batches. The
   * order makes every crash point safe: the snapshot (covering seq ≤ lastSeq)
   * is durable before a new journal is started, and old journals are deleted
   * only after that; a record in both places is skipped by its seq on replay.
   */
  async #compact(writer: JournalWriter): Promise<void> {
    const { dir, fs } = this.#options;
    const generation = this.#generation + 1;
    const lastSeq = this.#durableSeq;
    const replaced = this.#recordsSinceSnapshot;
    await this.#store.set({ format: 1, generation, lastSeq, entries: [...this.#durable.values()] });
    this.#recordsSinceSnapshot -= replaced;
    const path = join(dir, journalName(generation));
    const handle = await fs.open(path, "a");
    try {
      await fs.fsyncDirectory(dir);
    } catch (error) {
      await handle.close();
      throw error;
    }
    const previous = writer.replaceFile(handle, path, 0);
    this.#generation = generation;
    await previous.close().catch(() => {});
    const stale = (await fs.readdir(dir)).filter(
      (name) => JOURNAL_NAME.test(name) && name !== journalName(generation),
    );
    await this.#removeJournals(stale);
    this.#logger.debug("idempotency: journal compacted", {
      generation,
      lastSeq,
      entries: this.#durable.size,
    });
  }

  #waitForChange(key: string, waitUntil: number, signal: AbortSignal | undefined): Promise<void> {
    const { clock, waitTimeoutMs } = this.#options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const remaining = waitUntil - clock.now();
    if (remaining <= 0) return Promise.reject(new PendingWaitTimeoutError(key, waitTimeoutMs));
    return new Promise<void>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const waiters = this.#waiters.get(key) ?? new Set<() => void>();
      this.#waiters.set(key, waiters);
      const finish = () => {
        waiters.delete(wake);
        if (waiters.size === 0 && this.#waiters.get(key) === waiters) this.#waiters.delete(key);
        if (timer !== undefined) clock.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const wake = () => {
        finish();
        resolve();
      };
      const onAbort = () => {
        finish();
        reject(signal?.reason);
      };
      waiters.add(wake);
      timer = clock.setTimeout(() => {
        finish();
        reject(new PendingWaitTimeoutError(key, waitTimeoutMs));
      }, remaining);
      timer.unref?.();
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #notify(key: string): void {
    const waiters = this.#waiters.get(key);
    if (waiters) for (const wake of [...waiters]) wake();
  }
}

import { join } from "node:path";
import { ensureDurableDirectory } from "@beauvoir/core";
import type { Compactor } from "./compaction.js";
import { buildCompensationTable } from "./compensation.js";
import { createDefaultLocks, snapshotStoreFor } from "./default-dependencies.js";
import type { CompensationStrategy, IdempotencyEntry } from "./entry.js";
import { EntryTable } from "./entry-table.js";
import { IndexNotOpenError } from "./errors.js";
import { generateIdempotencyKey } from "./idempotency-key.js";
import { indexIo } from "./journal-files.js";
import type { JournalWriter } from "./journal-writer.js";
import { KeyTransitions } from "./key-transitions.js";
import { openJournal } from "./open-journal.js";
import type {
  IdempotencyIndexOptions,
  MarkPendingOptions,
  MarkPendingResult,
  OwnerLockHandle,
  OwnerLockProvider,
  SnapshotStore,
} from "./options.js";
import { type ResolvedOptions, resolveOptions } from "./resolve-options.js";
import type { Settlement } from "./settlement.js";

/**
 * A durable dedup index for side effects: before a side effect runs its key is
 * marked `pending` on disk, afterwards `completed` or `failed`, so after a crash
 * the program knows which side effects may have happened and how to compensate.
 *
 * **Storage.** Every transition is one checksummed line appended to a journal
 * and fsynced before the call resolves; concurrent transitions share one
 * fsync (group commit). The journal is folded into a snapshot once it holds
 * more records than `max(compactionThreshold, entries)`. On open, only a torn
 * last line may be cut; any other damage is reported ({@link IndexCorruptError})
 * and left as it is. Everything written passes through the redactor.
 *
 * **Ownership.** `initialize()` takes an owner lock through `@beauvoir/locks`
 * and holds it until `close()`: one process at a time owns the index, so the
 * in-memory state is the truth and check-then-mark needs no lock file per call.
 * After a crash the next owner finds the dead owner's `pending` entries; they
 * stay contested until `reconcilePending()` hands them out (or settles them
 * from the audit trail).
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
  readonly #snapshotFile: string;
  readonly #locks: OwnerLockProvider;
  readonly #table = new EntryTable();
  readonly #transitions: KeyTransitions;
  #state: "new" | "opening" | "open" | "closed" = "new";
  #opening: Promise<void> | null = null;
  #writer: JournalWriter | null = null;
  #compactor: Compactor | null = null;
  #lock: OwnerLockHandle | null = null;

  /**
   * @param options - see {@link IdempotencyIndexOptions}; only `dir` is required.
   * @throws TypeError or RangeError naming the option that is wrong (nothing is touched on disk).
   */
  constructor(options: IdempotencyIndexOptions) {
    this.#options = resolveOptions(options);
    this.#compensation = buildCompensationTable(options.compensation);
    const { dir, logger, clock, fs, snapshotMaxBytes } = this.#options;
    ({ store: this.#store, snapshotFile: this.#snapshotFile } = snapshotStoreFor({
      dir,
      store: this.#options.store,
      maxSizeBytes: snapshotMaxBytes,
      logger,
      clock,
      fs,
    }));
    this.#locks =
      this.#options.locks ?? createDefaultLocks({ lockDir: join(dir, "locks"), logger, clock, fs });
    this.#transitions = new KeyTransitions({
      options: this.#options,
      table: this.#table,
      writer: () => this.#assertOpen(),
      strategyOf: (action) => this.getStrategy(action),
      afterWrite: (writer) => this.#maybeCompact(writer),
    });
  }

  /**
   * Builds an idempotency key, `{action}:{scope}/{resource}:{16 hex}`: the
   * visible scope and resource are redacted, the hex digits hash the
   * unredacted scope, resource and params (keys sorted at every depth).
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
   * Same as {@link IdempotencyIndex.generateKey}, redacting with this index's redactor.
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
    return generateIdempotencyKey(action, scope, resource, params, this.#options.redactor);
  }

  /** Number of entries (all statuses). */
  get size(): number {
    return this.#table.entries.size;
  }

  /** How long a settled key is remembered (the resolved `ttlMs` option), in milliseconds. */
  get ttlMs(): number {
    return this.#options.ttlMs;
  }

  /**
   * Creates the directory if missing (0700, durable in its parent), takes the
   * owner lock, reads the snapshot and every journal, and opens the journal
   * for appending. Only a torn last line is cut; any other damage rejects and
   * leaves the files as they are. Calling it again is a no-op.
   * @returns once the index is usable.
   * @throws `LockHeldError` (`LOCK_HELD`) when another live process owns the index.
   * @throws {@link IndexCorruptError} when the files are damaged (with the file and line).
   * @throws `SymlinkRefusedError` when a file of the index is a symbolic link.
   * @throws {@link IndexIoError} when a file or the directory cannot be read or created.
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
    await indexIo("create", dir, () => ensureDurableDirectory(fs, dir));
    this.#lock = await indexIo(
      "lock",
      dir,
      () => this.#locks.acquire(lockName, lockWaitMs > 0 ? { waitMs: lockWaitMs } : {}),
      true,
    );
    const opened = await openJournal({
      dir,
      fs,
      store: this.#store,
      logger,
      snapshotFile: this.#snapshotFile,
    });
    this.#table.load(opened.recovered.entries, opened.recovered.replayed);
    this.#writer = opened.writer;
    this.#compactor = opened.compactor;
    const pending = [...this.#table.durable.values()].filter((entry) => entry.status === "pending");
    logger.info("idempotency: index opened", {
      entries: this.#table.durable.size,
      pending: pending.length,
      replayed: opened.recovered.replayed,
    });
  }

  #assertOpen(): JournalWriter {
    if (this.#state === "closed") throw new IndexNotOpenError("closed");
    if (this.#state !== "open" || this.#writer === null) {
      throw new IndexNotOpenError("not_initialized");
    }
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
    return this.#table.entries.get(key) ?? null;
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
   * @throws {@link KeyContainsSecretError} when the redactor would change the key.
   * @throws {@link JournalWriteError} when the entry could not be written (nothing changed).
   * @throws `FailStoppedError` when an fsync failed (now or earlier): reopen the index.
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
    return this.#transitions.claim(key, intentSeq, strategyOrOptions);
  }

  /**
   * Marks a pending key completed, durably. Waiters on the key wake up. A
   * result JSON cannot hold never leaves the key pending: it is stored in the
   * JSON-safe form of `toJsonSafe()` (a `Map` as an object or `[key, value]`
   * pairs, a `bigint` as a string, a cycle as `"[Circular]"`…), redacted.
   * @param key - a pending key.
   * @param result - what the side effect returned, kept with the entry.
   * @returns once the transition is on disk.
   * @throws {@link InvalidTransitionError} when the key is not pending.
   * @throws {@link JournalWriteError} when it could not be written (nothing changed).
   * @throws `FailStoppedError` when an fsync failed (now or earlier).
   * @example
   * ```ts
   * await index.markCompleted(key, { commentId: 991 });
   * ```
   */
  async markCompleted(key: string, result?: unknown): Promise<void> {
    this.#assertOpen();
    await this.#transitions.complete(key, result);
  }

  /**
   * Marks a pending key failed, durably. `failed` is terminal: `markPending()`
   * will not claim the key again, so a failing step is not retried forever.
   * @param key - a pending key.
   * @param error - why it failed: a string, an `Error` (its message), an HTTP
   *   failure (`HTTP <status> <METHOD> <url>: <message>`) or anything else; redacted.
   * @returns once the transition is on disk.
   * @throws {@link InvalidTransitionError} when the key is not pending.
   * @throws {@link JournalWriteError} when it could not be written (nothing changed).
   * @throws `FailStoppedError` when an fsync failed (now or earlier).
   * @example
   * ```ts
   * await index.markFailed(key, new Error("422 Validation Failed"));
   * ```
   */
  async markFailed(key: string, error: unknown): Promise<void> {
    this.#assertOpen();
    await this.#transitions.fail(key, error);
  }

  /**
   * Writes a terminal entry for `key` whatever its state (absent, pending,
   * failed or completed), in one durable journal line: an operator's decision
   * ("it was done"), or the index repaired from the audit trail. Waiters on
   * the key wake up; a caller of this process still running the key's side
   * effect will find it settled (`INVALID_TRANSITION` on its own settlement).
   * @param key - the key.
   * @param settlement - the status and, optionally, action, strategy,
   *   intentSeq, result (completed) or error (failed).
   * @returns the entry written.
   * @throws TypeError for a settlement that is not one (before any write).
   * @throws {@link KeyContainsSecretError} when the redactor would change the key.
   * @throws {@link JournalWriteError} or `FailStoppedError` when it could not be made durable.
   * @example
   * ```ts
   * await index.settle(key, { status: "completed", result: { commentId: 991 } });
   * ```
   */
  async settle(key: string, settlement: Settlement): Promise<IdempotencyEntry> {
    this.#assertOpen();
    return this.#transitions.settle(key, settlement);
  }

  /**
   * Removes the entry of `key` whatever its state, in one durable journal
   * line, so a later `markPending()` claims it afresh (an operator clearing a
   * key on purpose). Waiters on the key wake up and may claim it.
   * @param key - the key.
   * @returns the entry removed, or `null` when the key was absent (nothing written).
   * @throws {@link KeyContainsSecretError} when the redactor would change the key.
   * @throws {@link JournalWriteError} or `FailStoppedError` when it could not be made durable.
   * @example
   * ```ts
   * const removed = await index.reset(key);
   * ```
   */
  async reset(key: string): Promise<IdempotencyEntry | null> {
    this.#assertOpen();
    return this.#transitions.reset(key);
  }

  /**
   * Drops completed and failed entries whose last transition is at least
   * `ttlMs` old: their keys become new side effects again. Pending entries are
   * never evicted: they stand for side effects in doubt. Durable like any transition.
   * @returns how many entries were removed.
   * @throws {@link JournalWriteError} or `FailStoppedError` when it could not be made durable (nothing removed).
   * @example
   * ```ts
   * const removed = await index.evict();
   * ```
   */
  async evict(): Promise<number> {
    this.#assertOpen();
    return this.#transitions.evict();
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
   * @throws {@link JournalWriteError} or `FailStoppedError` when a promotion could not be made durable.
   * @example
   * ```ts
   * for (const entry of await index.reconcilePending()) {
   *   if (entry.strategy === "safe_retry") await rerun(entry);
   * }
   * ```
   */
  async reconcilePending(): Promise<IdempotencyEntry[]> {
    this.#assertOpen();
    return this.#transitions.reconcile();
  }

  /**
   * Waits for queued transitions, writes a snapshot (so the journal a restart
   * appends to holds nothing the snapshot lacks, and damage to it after a
   * clean shutdown costs no entry), closes the journal and releases the owner lock. Waiters in `wait`
   * mode are rejected. Calling it again is a no-op.
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
    this.#transitions.waiters.notifyAll();
    const writer = this.#writer;
    try {
      if (writer && !writer.failure) {
        await this.#compactor?.run(writer, this.#table, "snapshot").catch(() => {});
      }
      await writer?.close();
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

  #maybeCompact(writer: JournalWriter): void {
    const table = this.#table;
    const threshold = Math.max(this.#options.compactionThreshold, table.durable.size);
    if (this.#state === "open" && table.recordsSinceSnapshot >= threshold) {
      this.#compactor?.schedule(writer, table);
    }
  }
}

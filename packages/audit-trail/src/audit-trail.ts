import { join } from "node:path";
import {
  type Clock,
  type FileHandleLike,
  type FileSystem,
  type Logger,
  nodeFileSystem,
  silentLogger,
  systemClock,
  type TimerHandle,
} from "@beauvoir/core";
import { AsyncMutex } from "@beauvoir/mutex";
import { SecretRedactor } from "@beauvoir/redactor";
import type {
  AuditPhase,
  AuditRecord,
  DeniedEntry,
  DryRunEntry,
  IntentEntry,
  IntentResult,
} from "./audit-record.js";
import { canonicalJson } from "./canonical-json.js";
import { scanChain } from "./chain-scanner.js";
import {
  AuditInvalidEntryError,
  AuditNotReadyError,
  AuditReadError,
  AuditUnknownIntentError,
  AuditWriteError,
} from "./errors.js";
import { toKeyBytes } from "./hmac-key.js";
import { AUDIT_TRAIL_DEFAULTS, type AuditRedactor, type AuditTrailOptions } from "./options.js";
import { buildRecordLine, GENESIS, type RecordContent } from "./record-line.js";
import { openForAppend, type RecoveryReport, recoverTail } from "./recovery.js";
import { type HistoryLayout, layoutOf, listSegments, nextSegmentName } from "./segments.js";
import { type ChainVerification, verifyFiles } from "./verify-audit-file.js";

/** A record waiting in the queue for the writer. */
interface Draft {
  content: RecordContent;
  /** fsync before the caller's promise resolves (`intent`, `result`, `denied`). */
  durable: boolean;
  resolve: (seq: number) => void;
  reject: (error: unknown) => void;
}

/** A record built and chained, in the batch being written. */
interface Chained {
  draft: Draft;
  seq: number;
  prevHash: string;
  previousSegmentHash: string | undefined;
  hash: string;
  hmac: string | undefined;
}

type State = "uninitialized" | "initializing" | "open" | "closing" | "closed" | "failed";

/** Results of one rotated file, loaded when a query reaches back before the current file. */
interface SegmentIndex {
  firstSeq: number | undefined;
  results: Map<number, IntentResult>;
}

const MAX_SHORT_WRITE_RETRIES = 3;
const SEGMENT_INDEX_CACHE = 3;

/**
 * A hash-chained, append-only JSONL record of every side effect: an `intent`
 * before it runs, a `result` after, `denied` when policy refuses it, `dry_run`
 * when it is only simulated. Each line carries the SHA-256 of its canonical
 * form and the hash of the line before, so any later edit shows; with
 * `hmacKey`, an HMAC too, so a rewrite without the key shows.
 *
 * Durability: when `recordIntent()`, `recordResult()` or `recordDenied()`
 * resolves, its line has been fsynced. Concurrent callers share fsyncs (group
 * commit): one write and one fsync cover every record queued before them, and
 * records reach the file in `seq` order.
 *
 * One writer per file: do not open the same path from two processes.
 *
 * @example
 * ```ts
 * const audit = new AuditTrail({ path: "/var/lib/agent/audit.jsonl" });
 * await audit.initialize();
 * const seq = await audit.recordIntent({ action: "add_issue_comment", target: "acme/app#12", params: { body: "hi" } });
 * try {
 *   const response = await postComment();
 *   await audit.recordResult(seq, { id: response.id });
 * } catch (error) {
 *   await audit.recordResult(seq, undefined, error as Error);
 *   throw error;
 * }
 * await audit.close();
 * ```
 */
export class AuditTrail {
  readonly #layout: HistoryLayout;
  readonly #hmacKey: Uint8Array | undefined;
  readonly #maxSizeBytes: number;
  readonly #dryRunFsyncDelayMs: number;
  readonly #redactor: AuditRedactor;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #fs: FileSystem;
  // Serializes every operation on the descriptor: batch writes and fsyncs,
  // rotation, the dry-run fsync, close, and reads that must see whole lines.
  readonly #mutex = new AsyncMutex({
    maxHoldMs: Number.POSITIVE_INFINITY,
    defaultTimeoutMs: Number.POSITIVE_INFINITY,
  });

  #state: State = "uninitialized";
  #failure: unknown;
  #initializing: Promise<RecoveryReport> | undefined;
  #closing: Promise<void> | undefined;
  #handle: FileHandleLike | undefined;
  #fileSize = 0;
  #lastSeq = 0;
  #lastHash: string | undefined;
  #pendingLink: string | undefined;
  #currentFirstSeq = 1;
  #openIntents = new Map<number, AuditRecord>();
  readonly #resolving = new Set<number>();
  #results = new Map<number, IntentResult>();
  #segments: string[] = [];
  readonly #segmentIndexes = new Map<string, SegmentIndex>();
  readonly #segmentFirstSeqs = new Map<string, number | undefined>();
  #queue: Draft[] = [];
  #writer: Promise<void> | undefined;
  #unsyncedBytes = 0;
  #dryRunTimer: TimerHandle | undefined;
  #rotationDeferred = false;

  /**
   * @param options - see {@link AuditTrailOptions}; only `path` is required.
   * @throws TypeError or RangeError naming the option when one is invalid.
   */
  constructor(options: AuditTrailOptions) {
    if (typeof options !== "object" || options === null)
      throw new TypeError("options must be an object");
    if (typeof options.path !== "string" || options.path.length === 0) {
      throw new TypeError("path must be a non-empty string");
    }
    this.#layout = layoutOf(options.path);
    this.#hmacKey =
      options.hmacKey === undefined ? undefined : toKeyBytes(options.hmacKey, "hmacKey");
    this.#maxSizeBytes = options.maxSizeBytes ?? AUDIT_TRAIL_DEFAULTS.maxSizeBytes;
    if (
      typeof this.#maxSizeBytes !== "number" ||
      !(this.#maxSizeBytes >= 1) ||
      (Number.isFinite(this.#maxSizeBytes) && !Number.isInteger(this.#maxSizeBytes))
    ) {
      throw new RangeError(
        `maxSizeBytes must be a whole number >= 1 or Infinity, got ${options.maxSizeBytes}`,
      );
    }
    this.#dryRunFsyncDelayMs =
      options.dryRunFsyncDelayMs ?? AUDIT_TRAIL_DEFAULTS.dryRunFsyncDelayMs;
    if (
      typeof this.#dryRunFsyncDelayMs !== "number" ||
      !Number.isFinite(this.#dryRunFsyncDelayMs) ||
      this.#dryRunFsyncDelayMs < 0
    ) {
      throw new RangeError(
        `dryRunFsyncDelayMs must be a finite number >= 0, got ${options.dryRunFsyncDelayMs}`,
      );
    }
    if (options.redactor !== undefined && typeof options.redactor?.redactAny !== "function") {
      throw new TypeError("redactor must have a redactAny(value) method");
    }
    this.#redactor = options.redactor ?? new SecretRedactor();
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    this.#fs = options.fs ?? nodeFileSystem;
  }

  /** The current file's path, as given. */
  get path(): string {
    return this.#layout.current;
  }

  /** Seq of the last record written (0 before the first). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /**
   * Opens the file (creating it and its directory if missing), checks the
   * chain, cuts a damaged tail, and rebuilds the in-memory state: last seq and
   * hash, open intents, the intent→result index. Logs a warning with the count
   * of records cut. Calling it again returns the same report.
   * @returns what was found and repaired.
   * @throws {@link AuditHmacMismatchError} when records other than the tail fail the HMAC check (file untouched).
   * @throws {@link AuditReadError} / {@link AuditWriteError} on filesystem failures.
   * @throws {@link AuditNotReadyError} after `close()`.
   */
  initialize(): Promise<RecoveryReport> {
    if (this.#state === "closing" || this.#state === "closed") {
      return Promise.reject(new AuditNotReadyError("closed"));
    }
    this.#initializing ??= this.#initialize();
    return this.#initializing;
  }

  async #initialize(): Promise<RecoveryReport> {
    this.#state = "initializing";
    try {
      const tail = await recoverTail({
        fs: this.#fs,
        layout: this.#layout,
        hmacKey: this.#hmacKey,
        logger: this.#logger,
      });
      this.#handle = tail.handle;
      this.#fileSize = tail.fileSize;
      this.#lastSeq = tail.lastSeq;
      this.#lastHash = tail.lastHash;
      this.#pendingLink = tail.pendingLink;
      this.#currentFirstSeq = tail.currentFirstSeq;
      this.#openIntents = tail.openIntents;
      this.#results = tail.results;
      this.#segments = tail.segments;
      this.#state = "open";
      return tail.report;
    } catch (error) {
      this.#state = "uninitialized";
      this.#initializing = undefined;
      throw error;
    }
  }

  /**
   * Records that an action is about to run. Call it before the side effect and
   * run the side effect only once it resolves.
   * @param entry - action, target, params (redacted before writing), optional dedupeKey.
   * @returns the record's seq, to pass to {@link AuditTrail.recordResult}; resolves after an fsync covering the line.
   * @throws {@link AuditInvalidEntryError} for a malformed entry.
   * @throws {@link AuditWriteError} when the write or fsync fails.
   * @throws {@link AuditNotReadyError} before `initialize()`, after `close()`, or after a failed fsync.
   */
  recordIntent(entry: IntentEntry): Promise<number> {
    return this.#submit(() => {
      const content = this.#describeEntry("intent", entry, false);
      if (entry.dedupeKey !== undefined) {
        if (typeof entry.dedupeKey !== "string") {
          throw new AuditInvalidEntryError("dedupeKey", "dedupeKey must be a string");
        }
        content.dedupeKey = entry.dedupeKey;
      }
      return { content, durable: true };
    });
  }

  /**
   * Records how an intent ended: its return value, or the error it failed
   * with. The intent's action, target and dedupeKey are copied onto the result.
   * @param intentSeq - the seq `recordIntent()` returned.
   * @param result - what the action returned (redacted before writing); `undefined` to record none.
   * @param error - the failure, when it failed (an `Error` is written as `name: message`, redacted).
   * @returns the result record's seq; resolves after an fsync covering the line.
   * @throws {@link AuditUnknownIntentError} when `intentSeq` is not an open intent.
   * @throws {@link AuditInvalidEntryError}, {@link AuditWriteError}, {@link AuditNotReadyError} as for `recordIntent`.
   */
  recordResult(intentSeq: number, result: unknown, error?: string | Error): Promise<number> {
    return this.#submit(() => {
      const intent = this.#openIntents.get(intentSeq);
      if (!intent || this.#resolving.has(intentSeq)) {
        throw new AuditUnknownIntentError(
          intentSeq,
          intent || this.#results.has(intentSeq) ? "already_resolved" : "not_open",
        );
      }
      const content: RecordContent = {
        phase: "result",
        ts: this.#now(),
        action: intent.action,
        target: intent.target,
        paramsJson: "{}",
        intentSeq,
        dryRun: false,
      };
      if (intent.dedupeKey !== undefined) content.dedupeKey = intent.dedupeKey;
      if (result !== undefined) {
        const resultJson = this.#serialize("result", this.#redact("result", result));
        if (resultJson !== undefined) content.resultJson = resultJson;
      }
      if (error !== undefined) content.error = this.#describeError(error);
      this.#resolving.add(intentSeq);
      return { content, durable: true, onFailure: () => this.#resolving.delete(intentSeq) };
    });
  }

  /**
   * Records that policy refused an action (it did not run).
   * @param entry - action, target, params (redacted), optional reason (stored, redacted, as the record's `error`).
   * @returns the record's seq; resolves after an fsync covering the line.
   * @throws {@link AuditInvalidEntryError}, {@link AuditWriteError}, {@link AuditNotReadyError} as for `recordIntent`.
   */
  recordDenied(entry: DeniedEntry): Promise<number> {
    return this.#submit(() => {
      const content = this.#describeEntry("denied", entry, false);
      if (entry.reason !== undefined) content.error = this.#describeError(entry.reason);
      return { content, durable: true };
    });
  }

  /**
   * Records an action that was only simulated. Resolves once the line is
   * written; the fsync follows within `dryRunFsyncDelayMs` (or at `close()`).
   * @param entry - action, target, params (redacted).
   * @returns the record's seq.
   * @throws {@link AuditInvalidEntryError}, {@link AuditWriteError}, {@link AuditNotReadyError} as for `recordIntent`.
   */
  recordDryRun(entry: DryRunEntry): Promise<number> {
    return this.#submit(() => ({
      content: this.#describeEntry("dry_run", entry, true),
      durable: false,
    }));
  }

  /**
   * Tells whether an intent has a result record, from the index built at
   * `initialize()` and kept current by `recordResult()`. For an intent older
   * than the current file, the rotated file holding it is read once (and its
   * index cached).
   * @param intentSeq - the intent's seq.
   * @returns `{ hasResult: true, error?, result? }`, or `null` when there is no result.
   * @throws {@link AuditNotReadyError} before `initialize()`.
   * @throws {@link AuditReadError} when a rotated file cannot be read.
   */
  async findResultByIntentSeq(intentSeq: number): Promise<IntentResult | null> {
    this.#assertInitialized();
    const found = this.#results.get(intentSeq);
    if (found) return { ...found };
    if (!(intentSeq >= 1 && intentSeq < this.#currentFirstSeq)) return null;
    // Newest first: the first file that starts at or before the seq holds it.
    // First seqs stay known after a file's index leaves the cache, so files
    // that cannot hold the seq are not read again.
    for (let index = this.#segments.length - 1; index >= 0; index--) {
      const name = this.#segments[index]!;
      const firstSeq = this.#segmentFirstSeqs.has(name)
        ? this.#segmentFirstSeqs.get(name)
        : (await this.#segmentIndex(name)).firstSeq;
      if (firstSeq !== undefined && firstSeq <= intentSeq) {
        const result = (await this.#segmentIndex(name)).results.get(intentSeq);
        return result ? { ...result } : null;
      }
    }
    return null;
  }

  /**
   * Intents with no result yet, oldest first: after a crash, the actions that
   * may or may not have run (boot reconciliation decides what to do with them).
   * @returns copies of the intent records.
   * @throws {@link AuditNotReadyError} before `initialize()`.
   */
  getPendingIntents(): AuditRecord[] {
    this.#assertInitialized();
    return [...this.#openIntents.values()].map((record) => ({
      ...record,
      params: { ...record.params },
    }));
  }

  /**
   * Verifies the whole history: every rotated file, oldest first, then the
   * current file, as one chain; and that the file still ends with the last
   * record this trail wrote. Records queued but not yet written are not
   * included.
   * @returns the verification; `valid: false` with `brokenAt` and `reason` on the first problem.
   * @throws {@link AuditReadError} when a file cannot be read.
   * @throws {@link AuditNotReadyError} before `initialize()`.
   */
  async verifyChain(): Promise<ChainVerification> {
    this.#assertInitialized();
    const release = await this.#mutex.acquire();
    try {
      const segments = await listSegments(this.#fs, this.#layout);
      const files = [
        ...segments.map((name) => join(this.#layout.directory, name)),
        this.#layout.current,
      ];
      const verification = await verifyFiles(this.#fs, files, {
        hmacKey: this.#hmacKey,
        mode: "history",
        missingIsEmpty: true,
      });
      const expectedHash = this.#lastHash ?? this.#pendingLink;
      if (
        verification.valid &&
        this.#lastSeq > 0 &&
        (verification.lastSeq !== this.#lastSeq || verification.lastHash !== expectedHash)
      ) {
        return {
          ...verification,
          valid: false,
          brokenAt: (verification.lastSeq ?? 0) + 1,
          reason: "tail_mismatch",
          detail: `the history ends at seq ${verification.lastSeq ?? 0}, but this trail wrote up to seq ${this.#lastSeq}`,
          file: this.#layout.current,
        };
      }
      return verification;
    } finally {
      release();
    }
  }

  /**
   * Writes what is queued, fsyncs anything not yet fsynced (pending dry-run
   * records), closes the file and refuses further records. Safe to call twice.
   * @throws {@link AuditWriteError} when the final fsync or close fails (the descriptor is closed anyway).
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#state === "initializing") await this.#initializing!.catch(() => {});
    const previous = this.#state;
    this.#state = previous === "failed" ? "failed" : "closing";
    while (this.#writer) await this.#writer;
    const release = await this.#mutex.acquire();
    try {
      this.#clearDryRunTimer();
      const handle = this.#handle;
      this.#handle = undefined;
      if (!handle) return;
      let failure: unknown;
      if (this.#unsyncedBytes > 0 && previous !== "failed") {
        try {
          await handle.sync();
          this.#unsyncedBytes = 0;
        } catch (error) {
          failure = new AuditWriteError(
            "fsync",
            this.#layout.current,
            "The final fsync failed",
            error,
          );
        }
      }
      try {
        await handle.close();
      } catch (error) {
        failure ??= new AuditWriteError(
          "close",
          this.#layout.current,
          "Closing the file failed",
          error,
        );
      }
      if (failure) throw failure;
    } finally {
      this.#state = "closed";
      release();
    }
  }

  #submit(
    prepare: () => { content: RecordContent; durable: boolean; onFailure?: () => void },
  ): Promise<number> {
    if (this.#state !== "open") return Promise.reject(this.#notReady());
    let prepared: ReturnType<typeof prepare>;
    try {
      prepared = prepare();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({
        content: prepared.content,
        durable: prepared.durable,
        resolve,
        reject: prepared.onFailure
          ? (error) => {
              prepared.onFailure!();
              reject(error);
            }
          : reject,
      });
      // Start the writer on the next microtask, so that records submitted in
      // the same synchronous run share one write and one fsync.
      this.#writer ??= Promise.resolve().then(() => this.#drainQueue());
    });
  }

  async #drainQueue(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        if (this.#state === "failed") {
          this.#rejectQueue(this.#notReady());
          break;
        }
        const release = await this.#mutex.acquire();
        try {
          await this.#writeBatch();
        } finally {
          release();
        }
      }
    } finally {
      this.#writer = undefined;
    }
  }

  async #writeBatch(): Promise<void> {
    const drafts = this.#queue;
    this.#queue = [];
    const handle = this.#handle!;
    let prevHash = this.#lastHash ?? GENESIS;
    let previousSegmentHash = this.#lastHash === undefined ? this.#pendingLink : undefined;
    let seq = this.#lastSeq;
    const chained: Chained[] = [];
    let text = "";
    let durable = false;
    for (const draft of drafts) {
      seq++;
      const built = buildRecordLine(
        draft.content,
        { seq, prevHash, previousSegmentHash },
        this.#hmacKey,
      );
      chained.push({
        draft,
        seq,
        prevHash,
        previousSegmentHash,
        hash: built.hash,
        hmac: built.hmac,
      });
      text += built.line;
      prevHash = built.hash;
      previousSegmentHash = undefined;
      durable ||= draft.durable;
    }
    const bytes = Buffer.from(text, "utf8");

    try {
      await this.#writeFully(handle, bytes);
    } catch (error) {
      await this.#undoPartialWrite(handle, error);
      for (const { draft } of chained) draft.reject(error);
      return;
    }
    this.#fileSize += bytes.length;
    this.#unsyncedBytes += bytes.length;
    this.#commit(chained);

    if (durable) {
      try {
        await handle.sync();
      } catch (error) {
        const failure = new AuditWriteError("fsync", this.#layout.current, "fsync failed", error);
        this.#fail(failure);
        for (const { draft } of chained) draft.reject(failure);
        return;
      }
      this.#unsyncedBytes = 0;
      this.#clearDryRunTimer();
    } else {
      this.#armDryRunTimer();
    }
    // Rotate before answering, so that a caller who sees its record resolved
    // also sees the rotation it triggered (rotation failures do not concern
    // these records: they are on disk already).
    if (this.#fileSize >= this.#maxSizeBytes) await this.#maybeRotate();
    for (const { draft, seq: recordSeq } of chained) draft.resolve(recordSeq);
  }

  async #writeFully(handle: FileHandleLike, bytes: Buffer): Promise<void> {
    let offset = 0;
    let retries = 0;
    while (offset < bytes.length) {
      let bytesWritten: number;
      try {
        ({ bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, null));
      } catch (error) {
        throw new AuditWriteError("write", this.#layout.current, "write failed", error);
      }
      offset += bytesWritten;
      if (offset < bytes.length && ++retries > MAX_SHORT_WRITE_RETRIES) {
        throw new AuditWriteError(
          "short-write",
          this.#layout.current,
          `Only ${offset} of ${bytes.length} bytes written after ${MAX_SHORT_WRITE_RETRIES} retries`,
        );
      }
    }
  }

  /** After a failed write, cuts whatever part of the batch reached the file so the chain stays whole. */
  async #undoPartialWrite(handle: FileHandleLike, cause: unknown): Promise<void> {
    try {
      await handle.truncate(this.#fileSize);
    } catch (error) {
      this.#fail(
        new AuditWriteError(
          "truncate",
          this.#layout.current,
          "Could not cut a partly written batch after a failed write",
          error,
        ),
      );
      this.#logger.error("Audit trail stopped: a failed write could not be undone", {
        error,
        cause,
      });
    }
  }

  /** Moves the in-memory tail past a batch that is now in the file. */
  #commit(chained: Chained[]): void {
    for (const record of chained) {
      const { content } = record.draft;
      if (content.phase === "intent") {
        this.#openIntents.set(record.seq, this.#toRecord(record));
      } else if (content.phase === "result") {
        const intentSeq = content.intentSeq!;
        this.#openIntents.delete(intentSeq);
        this.#resolving.delete(intentSeq);
        const entry: IntentResult = { hasResult: true };
        if (content.error !== undefined) entry.error = content.error;
        if (content.resultJson !== undefined) entry.result = JSON.parse(content.resultJson);
        this.#results.set(intentSeq, entry);
      }
    }
    const last = chained[chained.length - 1]!;
    this.#lastSeq = last.seq;
    this.#lastHash = last.hash;
    this.#pendingLink = undefined;
  }

  #toRecord(record: Chained): AuditRecord {
    const { content } = record.draft;
    const result = {
      seq: record.seq,
      prevHash: record.prevHash,
      hash: record.hash,
      phase: content.phase,
      ts: content.ts,
      action: content.action,
      target: content.target,
      dryRun: content.dryRun,
    } as AuditRecord;
    // Parsed only if getPendingIntents() asks: most intents get their result
    // before anyone looks, and this runs once per intent on the write path.
    let params: Record<string, unknown> | undefined;
    Object.defineProperty(result, "params", {
      enumerable: true,
      get: () => {
        params ??= JSON.parse(content.paramsJson) as Record<string, unknown>;
        return params;
      },
    });
    if (record.hmac !== undefined) result.hmac = record.hmac;
    if (content.dedupeKey !== undefined) result.dedupeKey = content.dedupeKey;
    if (record.previousSegmentHash !== undefined)
      result.previousSegmentHash = record.previousSegmentHash;
    return result;
  }

  /** Called when the file is at or over `maxSizeBytes`. */
  async #maybeRotate(): Promise<void> {
    if (this.#openIntents.size > 0) {
      if (!this.#rotationDeferred) {
        this.#rotationDeferred = true;
        this.#logger.warn("Audit file rotation deferred until every open intent has its result", {
          path: this.#layout.current,
          sizeBytes: this.#fileSize,
          openIntents: this.#openIntents.size,
        });
      }
      return;
    }
    this.#rotationDeferred = false;
    const fs = this.#fs;
    const layout = this.#layout;
    const handle = this.#handle!;
    const name = nextSegmentName(
      layout,
      this.#clock.now(),
      this.#segments[this.#segments.length - 1],
    );
    const rotatedPath = join(layout.directory, name);
    try {
      if (this.#unsyncedBytes > 0) await handle.sync();
      this.#unsyncedBytes = 0;
      this.#clearDryRunTimer();
    } catch (error) {
      this.#fail(
        new AuditWriteError("fsync", layout.current, "fsync before rotation failed", error),
      );
      return;
    }
    try {
      await fs.rename(layout.current, rotatedPath);
    } catch (error) {
      // Nothing changed on disk: keep appending to the current file and try again after the next write.
      this.#logger.error("Audit file rotation failed; will retry after the next write", {
        path: layout.current,
        error,
      });
      return;
    }
    try {
      await fs.fsyncDirectory(layout.directory);
      // Creates the new file and fsyncs the directory again for its entry.
      this.#handle = await openForAppend(fs, layout, false);
    } catch (error) {
      this.#fail(
        AuditWriteError.isInstance(error)
          ? error
          : new AuditWriteError("rename", layout.current, "Completing the rotation failed", error),
      );
      return;
    } finally {
      await handle.close().catch(() => {});
    }
    this.#segments.push(name);
    this.#segmentFirstSeqs.set(name, this.#currentFirstSeq);
    this.#fileSize = 0;
    this.#pendingLink = this.#lastHash;
    this.#lastHash = undefined;
    this.#currentFirstSeq = this.#lastSeq + 1;
    this.#results = new Map();
    this.#logger.info("Audit file rotated", { path: layout.current, rotatedTo: rotatedPath });
  }

  #armDryRunTimer(): void {
    if (this.#dryRunTimer) return;
    this.#dryRunTimer = this.#clock.setTimeout(() => {
      this.#dryRunTimer = undefined;
      void this.#syncDryRuns();
    }, this.#dryRunFsyncDelayMs);
    this.#dryRunTimer.unref?.();
  }

  #clearDryRunTimer(): void {
    if (this.#dryRunTimer) this.#clock.clearTimeout(this.#dryRunTimer);
    this.#dryRunTimer = undefined;
  }

  async #syncDryRuns(): Promise<void> {
    const release = await this.#mutex.acquire();
    try {
      if (this.#unsyncedBytes === 0 || !this.#handle || this.#state === "failed") return;
      await this.#handle.sync();
      this.#unsyncedBytes = 0;
    } catch (error) {
      this.#fail(
        new AuditWriteError(
          "fsync",
          this.#layout.current,
          "fsync of dry-run records failed",
          error,
        ),
      );
    } finally {
      release();
    }
  }

  /** After a failed fsync nothing since the last good one can be trusted: stop taking records. */
  #fail(error: unknown): void {
    if (this.#state === "failed") return;
    this.#failure = error;
    this.#state = "failed";
    this.#clearDryRunTimer();
    this.#logger.error("Audit trail stopped after a failed file operation", {
      path: this.#layout.current,
      error,
    });
    this.#rejectQueue(this.#notReady());
  }

  #rejectQueue(error: unknown): void {
    const drafts = this.#queue;
    this.#queue = [];
    for (const draft of drafts) draft.reject(error);
  }

  #notReady(): AuditNotReadyError {
    switch (this.#state) {
      case "failed":
        return new AuditNotReadyError("failed", this.#failure);
      case "closing":
      case "closed":
        return new AuditNotReadyError("closed");
      default:
        return new AuditNotReadyError("uninitialized");
    }
  }

  #assertInitialized(): void {
    if (this.#state === "uninitialized" || this.#state === "initializing") {
      throw new AuditNotReadyError("uninitialized");
    }
  }

  #now(): string {
    return new Date(this.#clock.now()).toISOString();
  }

  #describeEntry(
    phase: AuditPhase,
    entry: IntentEntry | DeniedEntry | DryRunEntry,
    dryRun: boolean,
  ): RecordContent {
    if (typeof entry !== "object" || entry === null)
      throw new AuditInvalidEntryError("entry", "entry must be an object");
    if (typeof entry.action !== "string" || entry.action.length === 0) {
      throw new AuditInvalidEntryError("action", "action must be a non-empty string");
    }
    if (typeof entry.target !== "string")
      throw new AuditInvalidEntryError("target", "target must be a string");
    const { params } = entry;
    if (typeof params !== "object" || params === null || Array.isArray(params)) {
      throw new AuditInvalidEntryError("params", "params must be a plain object");
    }
    const paramsJson = this.#serialize("params", this.#redact("params", params));
    if (paramsJson === undefined || !paramsJson.startsWith("{")) {
      throw new AuditInvalidEntryError("params", "params did not redact to an object");
    }
    return {
      phase,
      ts: this.#now(),
      action: entry.action,
      target: entry.target,
      paramsJson,
      dryRun,
    };
  }

  #redact(field: string, value: unknown): unknown {
    try {
      return this.#redactor.redactAny(value);
    } catch (error) {
      throw new AuditInvalidEntryError(field, `Redacting ${field} failed`, error);
    }
  }

  #serialize(field: string, value: unknown): string | undefined {
    try {
      return canonicalJson(value);
    } catch (error) {
      throw new AuditInvalidEntryError(
        field,
        `${field} cannot be written as JSON: ${(error as Error).message}`,
        error,
      );
    }
  }

  #describeError(error: string | Error): string {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const redacted = this.#redact("error", text);
    return typeof redacted === "string" ? redacted : String(redacted);
  }

  async #segmentIndex(name: string): Promise<SegmentIndex> {
    const cached = this.#segmentIndexes.get(name);
    if (cached) {
      // Most recently used last, so eviction drops the least recently used.
      this.#segmentIndexes.delete(name);
      this.#segmentIndexes.set(name, cached);
      return cached;
    }
    const path = join(this.#layout.directory, name);
    let buffer: Buffer;
    try {
      buffer = await this.#fs.readFile(path);
    } catch (error) {
      throw new AuditReadError(path, error);
    }
    const results = new Map<number, IntentResult>();
    const scan = scanChain(buffer, {
      onRecord: (record) => {
        if (record.phase !== "result") return;
        const entry: IntentResult = { hasResult: true };
        if (record.error !== undefined) entry.error = record.error;
        if (record.result !== undefined) entry.result = record.result;
        results.set(record.intentSeq!, entry);
      },
    });
    const index: SegmentIndex = { firstSeq: scan.firstSeq, results };
    this.#segmentFirstSeqs.set(name, scan.firstSeq);
    this.#segmentIndexes.set(name, index);
    if (this.#segmentIndexes.size > SEGMENT_INDEX_CACHE) {
      this.#segmentIndexes.delete(this.#segmentIndexes.keys().next().value!);
    }
    return index;
  }
}

import { BeauvoirError } from "@beauvoir/core";
import type {
  AuditRecord,
  DedupeKeyResult,
  DeniedEntry,
  DryRunEntry,
  IntentEntry,
  IntentResult,
  PrunedSegment,
} from "./audit-record.js";
import { appendsObserved, publishAppend } from "./diagnostics.js";
import { EntryContent } from "./entry-content.js";
import { AuditInvalidEntryError, AuditNotReadyError, AuditUnknownIntentError } from "./errors.js";
import { noteWritten } from "./intent-ledger.js";
import {
  type AuditTrailOptions,
  type ResolvedAuditTrailOptions,
  resolveAuditTrailOptions,
} from "./options.js";
import type { RecordContent } from "./record-line.js";
import { RecordWriter } from "./record-writer.js";
import { type RecoveryReport, recoverHistory } from "./recovery.js";
import { ResultIndex } from "./result-index.js";
import { SegmentRotation } from "./segment-rotation.js";
import { type HistoryLayout, layoutOf } from "./segments.js";
import { signingSwitches } from "./signing-switch.js";
import { type ChainVerification, verifyWrittenHistory } from "./verify-audit-file.js";
import { claimWriter } from "./writer-registry.js";

type State = "uninitialized" | "initializing" | "open" | "closing" | "closed";

/**
 * @internal How `pruneAuditHistory` appends its `checkpoint` record to a
 * trail it opened: registered by `initialize()`, not part of the public API
 * (a checkpoint written by anything but a prune would let files go that are
 * still there).
 */
export const checkpointWriters = new WeakMap<
  AuditTrail,
  (segments: readonly PrunedSegment[], before: string) => Promise<number>
>();

/** What only an initialized trail has. */
interface OpenTrail {
  writer: RecordWriter;
  index: ResultIndex;
  openIntents: Map<number, AuditRecord>;
}

/**
 * A hash-chained, append-only JSONL record of every side effect: an `intent`
 * before it runs, a `result` after, `denied` when policy refuses it, `dry_run`
 * when it is only simulated. Each line carries the SHA-256 of its canonical
 * form and the hash of the line before, so any later edit shows; with
 * `hmacKey`, an HMAC too, so a rewrite without the key shows.
 *
 * Durability: when `recordIntent()`, `recordResult()` or `recordDenied()`
 * resolves, its line has been fsynced. Concurrent callers share fsyncs (group
 * commit). Integrity: `initialize()` verifies the whole history and cuts only
 * a torn last line; any other damage is reported, never repaired by deleting
 * data. One writer per file: a second `AuditTrail` on the same file in this
 * process is refused until the first is closed.
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
  readonly #options: ResolvedAuditTrailOptions;
  readonly #layout: HistoryLayout;
  readonly #entries: EntryContent;
  readonly #resolving = new Set<number>();
  #state: State = "uninitialized";
  #open: OpenTrail | undefined;
  #initializing: Promise<RecoveryReport> | undefined;
  #closing: Promise<void> | undefined;
  #release: (() => void) | undefined;

  /**
   * @param options - see {@link AuditTrailOptions}; only `path` is required.
   * @throws TypeError or RangeError naming the option when one is invalid.
   */
  constructor(options: AuditTrailOptions) {
    this.#options = resolveAuditTrailOptions(options);
    this.#layout = layoutOf(this.#options.path);
    this.#entries = new EntryContent(this.#options.redactor, this.#options.clock);
  }

  /** The current file's path, as given. */
  get path(): string {
    return this.#layout.current;
  }

  /** Seq of the last record written (0 before the first). */
  get lastSeq(): number {
    return this.#open?.writer.lastSeq ?? 0;
  }

  /**
   * Takes the file for this trail (one writer per file in the process),
   * verifies the whole history (every rotated file, then the current one, as
   * one chain; HMACs under a key), cuts a torn last line of the current file
   * if there is one, and rebuilds the in-memory state: last seq and hash, open
   * intents, the intent→result and dedupeKey→result indexes. Calling it again
   * returns the same report, except after a fail stop (`FailStoppedError`):
   * then it reopens the trail, reading and verifying the file from disk again.
   * @returns what was found and cut.
   * @throws {@link AuditCorruptError} for any other damage (the files are left exactly as they are).
   * @throws {@link AuditFileInUseError} while another trail of this process has the file.
   * @throws SymlinkRefusedError (`SYMLINK_REFUSED`) for a symbolic link in place of a file of the history.
   * @throws {@link AuditReadError} / {@link AuditWriteError} on filesystem failures.
   * @throws {@link AuditNotReadyError} after `close()`.
   */
  initialize(): Promise<RecoveryReport> {
    if (this.#state === "closing" || this.#state === "closed") {
      return Promise.reject(new AuditNotReadyError("closed"));
    }
    const stopped = this.#state === "open" && this.#open?.writer.failure !== undefined;
    if (!this.#initializing || stopped) {
      const attempt = stopped ? this.#reopen() : this.#initialize();
      this.#initializing = attempt;
      // A failed attempt can be retried.
      attempt.catch(() => {
        if (this.#initializing === attempt) this.#initializing = undefined;
      });
    }
    return this.#initializing;
  }

  /**
   * After a fail stop: cuts what the failed fsync left in the file (until
   * that works, the trail stays stopped), drops the stopped writer and reads
   * the history from disk again.
   */
  async #reopen(): Promise<RecoveryReport> {
    const stopped = this.#open!;
    await stopped.writer.discardUnsynced();
    this.#open = undefined;
    this.#state = "initializing";
    this.#resolving.clear();
    await stopped.writer.close().catch(() => {});
    return this.#initialize();
  }

  async #initialize(): Promise<RecoveryReport> {
    this.#state = "initializing";
    try {
      this.#release = claimWriter(this.#layout.current, this);
      const switchRequest = signingSwitches.get(this);
      const recovered = await recoverHistory({
        fs: this.#options.fs,
        layout: this.#layout,
        hmacKey: this.#options.hmacKey,
        logger: this.#options.logger,
        allowUncoveredUnsigned: switchRequest !== undefined,
      });
      const openIntents = recovered.openIntents;
      const index = new ResultIndex({
        fs: this.#options.fs,
        layout: this.#layout,
        hmacKey: this.#options.hmacKey,
        current: recovered.results,
        byDedupeKey: recovered.byDedupeKey,
        segments: recovered.segments,
        currentFirstSeq: recovered.currentFirstSeq,
      });
      const writer = new RecordWriter(recovered, {
        path: this.#layout.current,
        hmacKey: this.#options.hmacKey,
        maxSizeBytes: this.#options.maxSizeBytes,
        dryRunFsyncDelayMs: this.#options.dryRunFsyncDelayMs,
        clock: this.#options.clock,
        logger: this.#options.logger,
        rotation: new SegmentRotation({
          fs: this.#options.fs,
          layout: this.#layout,
          clock: this.#options.clock,
          logger: this.#options.logger,
          newestSegment: recovered.segments[recovered.segments.length - 1]?.name,
        }),
        canRotate: () => openIntents.size === 0,
        openIntents: () => openIntents.size,
        onWritten: (records) => noteWritten(records, openIntents, index),
        onRotated: (name, nextFirstSeq) => index.rotated(name, nextFirstSeq),
      });
      this.#open = { writer, index, openIntents };
      this.#state = "open";
      checkpointWriters.set(this, (segments, before) =>
        this.#submit(() => ({
          content: this.#entries.checkpoint(segments, { before }),
          durable: true,
        })),
      );
      if (switchRequest && recovered.uncoveredUnsigned > 0) {
        const seq = await writer.submit(this.#entries.signingStarted(), true);
        switchRequest.started = { seq, unsignedRecords: recovered.uncoveredUnsigned };
      }
      return { ...recovered.report, lastSeq: writer.lastSeq };
    } catch (error) {
      this.#state = "uninitialized";
      const open = this.#open;
      this.#open = undefined;
      await open?.writer.close().catch(() => {});
      this.#release?.();
      this.#release = undefined;
      throw error;
    }
  }

  /**
   * Records that an action is about to run. Call it before the side effect and
   * run the side effect only once it resolves.
   * @param entry - action, target, params and optional dedupeKey (each redacted before writing).
   * @returns the record's seq, to pass to {@link AuditTrail.recordResult}; resolves after an fsync covering the line.
   * @throws {@link AuditInvalidEntryError} for a malformed entry (nothing written).
   * @throws {@link AuditWriteError} when the write fails (the trail goes on).
   * @throws `FailStoppedError` when the fsync fails, and on every call after it.
   * @throws {@link AuditNotReadyError} before `initialize()` or after `close()`.
   */
  recordIntent(entry: IntentEntry): Promise<number> {
    return this.#submit(() => ({ content: this.#entries.intent(entry), durable: true }));
  }

  /**
   * Records how an intent ended: its return value, or the error it failed
   * with. The intent's action, target and dedupeKey are copied onto the result.
   * @param intentSeq - the seq `recordIntent()` returned.
   * @param result - what the action returned (redacted before writing); `undefined` to record none.
   * @param error - the failure, when it failed (an `Error` is written as `name: message`, redacted; an error whose fields cannot be read gets a placeholder).
   * @returns the result record's seq; resolves after an fsync covering the line.
   * @throws {@link AuditUnknownIntentError} when `intentSeq` is not an open intent.
   * @throws {@link AuditInvalidEntryError}, {@link AuditWriteError}, `FailStoppedError`, {@link AuditNotReadyError} as for `recordIntent`.
   */
  recordResult(intentSeq: number, result: unknown, error?: string | Error): Promise<number> {
    return this.#submit((open) => {
      const intent = open.openIntents.get(intentSeq);
      if (!intent || this.#resolving.has(intentSeq)) {
        const resolved = intent !== undefined || open.index.hasCurrentResult(intentSeq);
        throw new AuditUnknownIntentError(intentSeq, resolved ? "already_resolved" : "not_open");
      }
      const content = this.#entries.result(intent, result, error);
      this.#resolving.add(intentSeq);
      return { content, durable: true, settled: () => this.#resolving.delete(intentSeq) };
    });
  }

  /**
   * Records that policy refused an action (it did not run).
   * @param entry - action, target, params, optional reason (stored as the record's `error`); each redacted.
   * @returns the record's seq; resolves after an fsync covering the line.
   * @throws {@link AuditInvalidEntryError}, {@link AuditWriteError}, `FailStoppedError`, {@link AuditNotReadyError} as for `recordIntent`.
   */
  recordDenied(entry: DeniedEntry): Promise<number> {
    return this.#submit(() => ({ content: this.#entries.denied(entry), durable: true }));
  }

  /**
   * Records an action that was only simulated. Resolves once the line is
   * written; the fsync follows within `dryRunFsyncDelayMs` (or at `close()`).
   * @param entry - action, target, params (redacted).
   * @returns the record's seq.
   * @throws {@link AuditInvalidEntryError}, {@link AuditWriteError}, `FailStoppedError`, {@link AuditNotReadyError} as for `recordIntent`.
   */
  recordDryRun(entry: DryRunEntry): Promise<number> {
    return this.#submit(() => ({ content: this.#entries.dryRun(entry), durable: false }));
  }

  /**
   * Tells whether an intent has a result record, from the index built at
   * `initialize()` and kept current by `recordResult()`. For an intent older
   * than the current file, the rotated file holding it is read once (and its
   * index cached).
   * @param intentSeq - the intent's seq.
   * @returns `{ hasResult: true, error?, result? }`, or `null` when there is no result.
   * @throws {@link AuditNotReadyError} before `initialize()`.
   * @throws {@link AuditReadError} / {@link AuditCorruptError} when a rotated file cannot be read or changed since `initialize()`.
   */
  async findResultByIntentSeq(intentSeq: number): Promise<IntentResult | null> {
    return this.#ready().index.byIntentSeq(intentSeq);
  }

  /**
   * The latest result whose intent carried `dedupeKey`, over the whole
   * history (every rotated file), from the index built while `initialize()`
   * verified it and kept current by `recordResult()`. The key is redacted the
   * way keys are redacted on write, so the raw key a caller holds finds its
   * record. Lets a caller whose own index lost a key learn that the action ran.
   * @param dedupeKey - the key given to `recordIntent()` (raw or as stored).
   * @returns `{ intentSeq, resultSeq, ts, result?, error? }` (`ts` is the result's), or `null` when no intent with that key has a result.
   * @throws {@link AuditInvalidEntryError} when `dedupeKey` is not a string.
   * @throws {@link AuditNotReadyError} before `initialize()`.
   * @throws {@link AuditReadError} / {@link AuditCorruptError} as for {@link AuditTrail.findResultByIntentSeq}.
   */
  async findResultByDedupeKey(dedupeKey: string): Promise<DedupeKeyResult | null> {
    const open = this.#ready();
    return open.index.byDedupeKey(this.#entries.dedupeKey(dedupeKey));
  }

  /**
   * Intents with no result yet, oldest first: after a crash, the actions that
   * may or may not have run (boot reconciliation decides what to do with them).
   * @returns copies of the intent records.
   * @throws {@link AuditNotReadyError} before `initialize()`.
   */
  getPendingIntents(): AuditRecord[] {
    return [...this.#ready().openIntents.values()].map((record) => ({
      ...record,
      params: { ...record.params },
    }));
  }

  /**
   * Verifies the whole history again from disk: every rotated file, oldest
   * first, then the current file, as one chain; and that it still ends with
   * the last record this trail wrote. Records queued but not yet written are
   * not included.
   * @returns the verification; `valid: false` with `brokenAt` and `reason` on the first problem.
   * @throws {@link AuditReadError} when a file cannot be read; SymlinkRefusedError for a link in place of one.
   * @throws {@link AuditNotReadyError} before `initialize()`.
   */
  async verifyChain(): Promise<ChainVerification> {
    const { writer } = this.#ready();
    return writer.exclusive(() =>
      verifyWrittenHistory(this.#options.fs, this.#layout, this.#options.hmacKey, {
        lastSeq: writer.lastSeq,
        lastHash: writer.lastHash,
      }),
    );
  }

  /**
   * Writes what is queued, fsyncs anything not yet fsynced (pending dry-run
   * records), closes the file, gives it up for another writer and refuses
   * further records. Safe to call twice.
   * @throws `FailStoppedError` when the final fsync fails; {@link AuditWriteError} when close fails (the descriptor is closed anyway).
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#state === "initializing") await this.#initializing!.catch(() => {});
    this.#state = "closing";
    try {
      await this.#open?.writer.close();
    } finally {
      this.#state = "closed";
      this.#release?.();
      this.#release = undefined;
    }
  }

  #submit(
    prepare: (open: OpenTrail) => {
      content: RecordContent;
      durable: boolean;
      settled?: () => void;
    },
  ): Promise<number> {
    if (this.#state !== "open") return Promise.reject(this.#notReady());
    const open = this.#open!;
    if (open.writer.failure) return Promise.reject(open.writer.failure);
    let prepared: ReturnType<typeof prepare>;
    try {
      prepared = prepare(open);
    } catch (error) {
      return Promise.reject(
        BeauvoirError.isInstance(error)
          ? error
          : new AuditInvalidEntryError("entry", "the entry could not be read", error),
      );
    }
    let written = open.writer.submit(prepared.content, prepared.durable);
    if (appendsObserved()) {
      const { content } = prepared;
      written = written.then((seq) => {
        publishAppend(this.path, seq, content);
        return seq;
      });
    }
    if (!prepared.settled) return written;
    return written.finally(prepared.settled);
  }

  #ready(): OpenTrail {
    if (this.#state === "uninitialized" || this.#state === "initializing" || !this.#open) {
      throw new AuditNotReadyError("uninitialized");
    }
    return this.#open;
  }

  #notReady(): AuditNotReadyError {
    return new AuditNotReadyError(
      this.#state === "closing" || this.#state === "closed" ? "closed" : "uninitialized",
    );
  }
}

import {
  type Clock,
  FailStoppedError,
  type FileHandleLike,
  type Logger,
  type TimerHandle,
} from "@beauvoir/core";
import { AsyncMutex } from "@beauvoir/mutex";
import { appendFully } from "./current-file.js";
import { AuditWriteError } from "./errors.js";
import { buildRecordLine, GENESIS, type RecordContent } from "./record-line.js";
import type { SegmentRotation } from "./segment-rotation.js";

/** A record chained and in the file (its fsync may still be on its way). */
export interface WrittenRecord {
  content: RecordContent;
  seq: number;
  prevHash: string;
  previousSegmentHash: string | undefined;
  hash: string;
  hmac: string | undefined;
}

/** Where the current file stands when the writer takes over. */
export interface WriterStart {
  handle: FileHandleLike;
  fileSize: number;
  lastSeq: number;
  /** Hash of the current file's last record; undefined while it is empty. */
  lastHash: string | undefined;
  /** For an empty current file after rotated ones: the hash its first record links to. */
  pendingLink: string | undefined;
}

/** What the writer needs from the trail around it. */
export interface RecordWriterOptions {
  /** The current file's path, for errors. */
  path: string;
  hmacKey: Uint8Array | undefined;
  maxSizeBytes: number;
  dryRunFsyncDelayMs: number;
  clock: Clock;
  logger: Logger;
  rotation: SegmentRotation;
  /** Whether the full file may be rotated now (no intent waiting for its result). */
  canRotate: () => boolean;
  /** How many intents are open, for the deferred-rotation warning. */
  openIntents: () => number;
  /** A batch reached the file: update what is known in memory. */
  onWritten: (records: WrittenRecord[]) => void;
  /** The current file was rotated to `name`; the new file starts at `nextFirstSeq`. */
  onRotated: (name: string, nextFirstSeq: number) => void;
}

/** A record waiting for the writer. */
interface Draft {
  content: RecordContent;
  /** fsync before the caller's promise resolves (every phase but `dry_run`). */
  durable: boolean;
  resolve: (seq: number) => void;
  reject: (error: unknown) => void;
}

/**
 * Appends records to the current file with group commit: records queued while
 * a write and fsync are in flight go out together in the next single write
 * and fsync, in seq order; each durable record resolves only after an fsync
 * that covers its line. Before a batch, a full file is rotated (when no
 * intent is open), so the current file is never left empty by a rotation.
 *
 * Fail stop: once an fsync fails (or a failed write cannot be undone, or a
 * rotation breaks half way), what reached the disk is unknown, and a retried
 * fsync could report a success that is not one. Every record of the batch,
 * every queued one and every later call then reject with `FailStoppedError`
 * until the trail is reopened (which re-reads the file from disk). After a
 * failed fsync the file is first cut back to its size at the last fsync that
 * succeeded: Linux marks the pages of a failed fsync clean, so the page cache
 * still shows those lines while the disk may never get them, and a reopened
 * trail that read them would chain onto records a power cut turns into a
 * hole in the middle of the file. Nothing past that size was acknowledged as
 * durable (dry-run records are acknowledged before their fsync, by design).
 */
export class RecordWriter {
  readonly #options: RecordWriterOptions;
  // Serializes every use of the descriptor: batch writes and fsyncs, rotation,
  // the dry-run fsync, close, and reads that must see whole lines.
  readonly #mutex = new AsyncMutex({
    maxHoldMs: Number.POSITIVE_INFINITY,
    defaultTimeoutMs: Number.POSITIVE_INFINITY,
  });
  #handle: FileHandleLike | undefined;
  #fileSize: number;
  /** The file's size at its last fsync that succeeded: what the disk is known to hold. */
  #syncedSize: number;
  /** A failed fsync left bytes past `#syncedSize`, and cutting them failed too. */
  #cutPending = false;
  #lastSeq: number;
  #lastHash: string | undefined;
  #pendingLink: string | undefined;
  #unsyncedBytes = 0;
  #queue: Draft[] = [];
  #draining: Promise<void> | undefined;
  #dryRunTimer: TimerHandle | undefined;
  #rotationDeferred = false;
  #failure: FailStoppedError | undefined;

  constructor(start: WriterStart, options: RecordWriterOptions) {
    this.#options = options;
    this.#handle = start.handle;
    this.#fileSize = start.fileSize;
    this.#syncedSize = start.fileSize;
    this.#lastSeq = start.lastSeq;
    this.#lastHash = start.lastHash;
    this.#pendingLink = start.pendingLink;
  }

  /** Seq of the last record written. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Hash of the last record written (in the current file or, right after a rotation, the previous one). */
  get lastHash(): string | undefined {
    return this.#lastHash ?? this.#pendingLink;
  }

  /** The error every write is refused with since the trail failed stop, if it did. */
  get failure(): FailStoppedError | undefined {
    return this.#failure;
  }

  /**
   * Queues a record.
   * @returns its seq, once written (and, for a durable record, fsynced).
   */
  submit(content: RecordContent, durable: boolean): Promise<number> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({ content, durable, resolve, reject });
      // Start on the next microtask, so that records submitted in the same
      // synchronous run share one write and one fsync.
      this.#draining ??= Promise.resolve().then(() => this.#drain());
    });
  }

  /** Runs `task` while no batch, rotation or fsync is in progress. */
  async exclusive<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.#mutex.acquire();
    try {
      return await task();
    } finally {
      release();
    }
  }

  /**
   * Writes what is queued, fsyncs what is not yet fsynced and closes the file.
   * @throws `FailStoppedError` when the final fsync fails; {@link AuditWriteError} when close fails.
   */
  async close(): Promise<void> {
    while (this.#draining) await this.#draining;
    await this.exclusive(async () => {
      this.#clearDryRunTimer();
      const handle = this.#handle;
      this.#handle = undefined;
      if (!handle) return;
      let failure: unknown;
      if (this.#unsyncedBytes > 0 && !this.#failure) {
        try {
          await handle.sync();
          this.#synced();
        } catch (error) {
          failure = this.#fail(
            new AuditWriteError("fsync", this.#options.path, "The final fsync failed", error),
          );
          await this.#cutUnsynced(handle);
        }
      } else if (this.#cutPending) {
        // Tried once more, for a new trail that reads the file next; a failure is logged.
        await this.#cutUnsynced(handle);
      }
      try {
        await handle.close();
      } catch (error) {
        failure ??= new AuditWriteError(
          "close",
          this.#options.path,
          "Closing the file failed",
          error,
        );
      }
      if (failure) throw failure;
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        if (this.#failure) {
          this.#rejectQueue(this.#failure);
          break;
        }
        await this.exclusive(() => this.#writeBatch());
      }
    } finally {
      this.#draining = undefined;
    }
  }

  async #writeBatch(): Promise<void> {
    if (this.#fileSize >= this.#options.maxSizeBytes) await this.#rotateIfAllowed();
    const drafts = this.#queue;
    this.#queue = [];
    if (this.#failure) {
      for (const draft of drafts) draft.reject(this.#failure);
      return;
    }
    const handle = this.#handle!;
    const written = this.#chain(drafts);
    const bytes = Buffer.from(written.map((record) => record.line).join(""), "utf8");
    try {
      await appendFully(handle, bytes, this.#options.path);
    } catch (error) {
      const undone = await this.#undoPartialWrite(handle, error);
      for (const draft of drafts) draft.reject(undone ? error : this.#failure);
      return;
    }
    this.#fileSize += bytes.length;
    this.#unsyncedBytes += bytes.length;
    const last = written[written.length - 1]!;
    this.#lastSeq = last.seq;
    this.#lastHash = last.hash;
    this.#pendingLink = undefined;
    this.#options.onWritten(written);

    if (drafts.some((draft) => draft.durable)) {
      try {
        await handle.sync();
      } catch (error) {
        const failure = this.#fail(
          new AuditWriteError("fsync", this.#options.path, "fsync failed", error),
        );
        await this.#cutUnsynced(handle);
        for (const draft of drafts) draft.reject(failure);
        return;
      }
      this.#synced();
      this.#clearDryRunTimer();
    } else {
      this.#armDryRunTimer();
    }
    for (const [index, draft] of drafts.entries()) draft.resolve(written[index]!.seq);
  }

  #chain(drafts: Draft[]): (WrittenRecord & { line: string })[] {
    let prevHash = this.#lastHash ?? GENESIS;
    let previousSegmentHash = this.#lastHash === undefined ? this.#pendingLink : undefined;
    let seq = this.#lastSeq;
    return drafts.map(({ content }) => {
      seq++;
      const built = buildRecordLine(
        content,
        { seq, prevHash, previousSegmentHash },
        this.#options.hmacKey,
      );
      const record = {
        content,
        seq,
        prevHash,
        previousSegmentHash,
        hash: built.hash,
        hmac: built.hmac,
        line: built.line,
      };
      prevHash = built.hash;
      previousSegmentHash = undefined;
      return record;
    });
  }

  /** Before a batch, with the file at or over `maxSizeBytes`. */
  async #rotateIfAllowed(): Promise<void> {
    if (!this.#options.canRotate()) {
      if (!this.#rotationDeferred) {
        this.#rotationDeferred = true;
        this.#options.logger.warn(
          "Audit file rotation deferred until every open intent has its result",
          {
            path: this.#options.path,
            sizeBytes: this.#fileSize,
            openIntents: this.#options.openIntents(),
          },
        );
      }
      return;
    }
    this.#rotationDeferred = false;
    const handle = this.#handle!;
    try {
      if (this.#unsyncedBytes > 0) await handle.sync();
      this.#synced();
      this.#clearDryRunTimer();
    } catch (error) {
      this.#fail(
        new AuditWriteError("fsync", this.#options.path, "fsync before rotation failed", error),
      );
      await this.#cutUnsynced(handle);
      return;
    }
    let rotated: Awaited<ReturnType<SegmentRotation["rotate"]>>;
    try {
      rotated = await this.#options.rotation.rotate(handle);
    } catch (error) {
      this.#handle = undefined;
      this.#fail(error);
      return;
    }
    if (!rotated) return;
    this.#handle = rotated.handle;
    this.#fileSize = 0;
    this.#syncedSize = 0;
    this.#pendingLink = this.#lastHash ?? this.#pendingLink;
    this.#lastHash = undefined;
    this.#options.onRotated(rotated.name, this.#lastSeq + 1);
  }

  /**
   * After a failed write, cuts whatever part of the batch reached the file so
   * the chain stays whole. Nothing of the batch was acknowledged, and the
   * records before it were fsynced already, so the trail can go on.
   * @returns false when the cut failed too (the trail then fails stop).
   */
  async #undoPartialWrite(handle: FileHandleLike, cause: unknown): Promise<boolean> {
    try {
      await handle.truncate(this.#fileSize);
      return true;
    } catch (error) {
      this.#fail(
        new AuditWriteError(
          "truncate",
          this.#options.path,
          "Could not cut a partly written batch after a failed write",
          { truncate: error, write: cause },
        ),
      );
      return false;
    }
  }

  #armDryRunTimer(): void {
    if (this.#dryRunTimer) return;
    this.#dryRunTimer = this.#options.clock.setTimeout(() => {
      this.#dryRunTimer = undefined;
      void this.#syncDryRuns();
    }, this.#options.dryRunFsyncDelayMs);
    this.#dryRunTimer.unref?.();
  }

  #clearDryRunTimer(): void {
    if (this.#dryRunTimer) this.#options.clock.clearTimeout(this.#dryRunTimer);
    this.#dryRunTimer = undefined;
  }

  async #syncDryRuns(): Promise<void> {
    await this.exclusive(async () => {
      if (this.#unsyncedBytes === 0 || !this.#handle || this.#failure) return;
      try {
        await this.#handle.sync();
        this.#synced();
      } catch (error) {
        this.#fail(
          new AuditWriteError(
            "fsync",
            this.#options.path,
            "fsync of dry-run records failed",
            error,
          ),
        );
        await this.#cutUnsynced(this.#handle);
      }
    });
  }

  /** After an fsync of the current file succeeded: everything written is on the disk. */
  #synced(): void {
    this.#unsyncedBytes = 0;
    this.#syncedSize = this.#fileSize;
  }

  /**
   * Before a stopped trail is reopened: cuts the file back to its size at the
   * last fsync that succeeded, if that was not done when the fsync failed.
   * @throws `FailStoppedError` when the cut fails (the trail must stay stopped).
   */
  async discardUnsynced(): Promise<void> {
    await this.exclusive(async () => {
      if (this.#cutPending && this.#handle && !(await this.#cutUnsynced(this.#handle))) {
        throw this.#failure;
      }
    });
  }

  /**
   * After a failed fsync: cuts the bytes past the last fsynced size (and
   * fsyncs the cut), so that the page cache shows what the disk holds.
   * @returns false when the cut failed (it is tried again before a reopen).
   */
  async #cutUnsynced(handle: FileHandleLike): Promise<boolean> {
    if (this.#fileSize > this.#syncedSize) {
      try {
        await handle.truncate(this.#syncedSize);
        await handle.sync();
      } catch (error) {
        this.#cutPending = true;
        this.#options.logger.error(
          "Audit trail could not cut the records whose fsync failed; it stays stopped",
          { path: this.#options.path, keptBytes: this.#syncedSize, error },
        );
        return false;
      }
      this.#fileSize = this.#syncedSize;
    }
    this.#unsyncedBytes = 0;
    this.#cutPending = false;
    return true;
  }

  /** Stops taking records for good; returns the error every call now gets. */
  #fail(cause: unknown): FailStoppedError {
    if (this.#failure) return this.#failure;
    const failure = new FailStoppedError(this.#options.path, cause);
    this.#failure = failure;
    this.#clearDryRunTimer();
    this.#options.logger.error(
      "Audit trail stopped after a failed file operation; reopen it to go on",
      {
        path: this.#options.path,
        error: cause,
      },
    );
    this.#rejectQueue(failure);
    return failure;
  }

  #rejectQueue(error: unknown): void {
    const drafts = this.#queue;
    this.#queue = [];
    for (const draft of drafts) draft.reject(error);
  }
}

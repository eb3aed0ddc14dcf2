import { FailStoppedError, type FileHandleLike } from "@beauvoir/core";
import { IndexNotOpenError, JournalWriteError } from "./errors.js";
import { encodeJournalLine, type JournalDraft, type JournalRecord } from "./journal-format.js";

interface QueuedRecord {
  readonly kind: "record";
  readonly draft: JournalDraft;
  readonly onDurable: ((record: JournalRecord) => void) | undefined;
  readonly resolve: (record: JournalRecord) => void;
  readonly reject: (error: unknown) => void;
}

interface QueuedTask {
  readonly kind: "task";
  readonly run: () => Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** How many short writes in a row are retried before a batch is given up. */
const MAX_SHORT_WRITES = 3;

/** A failure of the write itself, before any fsync of the batch was tried. */
class WriteFailure {
  constructor(readonly cause: unknown) {}
}

/**
 * Appends records to the journal through one `O_APPEND` descriptor, with group
 * commit: every record queued while an fsync is running goes out in the next
 * write and shares the next fsync. A record's promise resolves only after an
 * fsync that covers it. The writer gives each record its `seq` when the batch
 * is formed, so the sequence has no gaps: a missing record is provable.
 *
 * On a failed `write` the file is cut back to its last durable length (and
 * fsynced), the batch is rejected with {@link JournalWriteError} and its seqs
 * are reused. A failed fsync is never retried: the kernel may have dropped the
 * dirty pages while the file still reads back as written, so the batch is cut
 * back out of the file and the writer fails stop (`FailStoppedError`, on that
 * batch and every later call); the index must be reopened, which re-reads the
 * file from disk.
 *
 * Exclusive tasks (compaction) run between batches, never during one.
 */
export class JournalWriter {
  #handle: FileHandleLike;
  #path: string;
  #durableBytes: number;
  #nextSeq: number;
  #queue: Array<QueuedRecord | QueuedTask> = [];
  #running: Promise<void> | null = null;
  #stopped: FailStoppedError | undefined;
  #closed = false;

  /**
   * @param handle - descriptor opened for appending.
   * @param path - its path, for error messages.
   * @param durableBytes - the file's current (durable, valid) length.
   * @param lastSeq - the seq of the last durable record of the history.
   */
  constructor(handle: FileHandleLike, path: string, durableBytes: number, lastSeq: number) {
    this.#handle = handle;
    this.#path = path;
    this.#durableBytes = durableBytes;
    this.#nextSeq = lastSeq + 1;
  }

  /** The file currently appended to. */
  get path(): string {
    return this.#path;
  }

  /** The seq of the last durable record. Exact inside {@link exclusive}. */
  get lastSeq(): number {
    return this.#nextSeq - 1;
  }

  /** Why the writer stopped accepting writes, once it has. */
  get failure(): FailStoppedError | undefined {
    return this.#stopped;
  }

  /**
   * Queues a record and resolves once it is written and fsynced.
   * @param draft - the transition, without its seq.
   * @param onDurable - runs synchronously once the record is durable, before
   *   any exclusive task can start (so a snapshot taken by that task sees it).
   * @returns the record as written, with its seq.
   * @throws {@link JournalWriteError} when the write failed (the record is not in the file).
   * @throws `FailStoppedError` when an fsync failed, on this batch or an earlier one.
   */
  append(draft: JournalDraft, onDurable?: (record: JournalRecord) => void): Promise<JournalRecord> {
    const refusal = this.#refusal();
    if (refusal) return Promise.reject(refusal);
    return new Promise<JournalRecord>((resolve, reject) => {
      this.#queue.push({ kind: "record", draft, onDurable, resolve, reject });
      this.#schedule();
    });
  }

  /**
   * Runs `task` after everything queued before it, holding back what is queued
   * after it until it settles.
   * @param task - the exclusive work (e.g. compaction).
   * @returns the task's completion.
   */
  exclusive(task: () => Promise<void>): Promise<void> {
    const refusal = this.#refusal();
    if (refusal) return Promise.reject(refusal);
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ kind: "task", run: task, resolve, reject });
      this.#schedule();
    });
  }

  /**
   * Points the writer at a new file; call only from inside {@link exclusive}.
   * @param handle - the new descriptor.
   * @param path - its path.
   * @param durableBytes - its current length.
   * @returns the previous descriptor, for the caller to close.
   */
  replaceFile(handle: FileHandleLike, path: string, durableBytes: number): FileHandleLike {
    const previous = this.#handle;
    this.#handle = handle;
    this.#path = path;
    this.#durableBytes = durableBytes;
    return previous;
  }

  /**
   * Stops accepting writes for good (a rotation left the directory in doubt).
   * @param cause - why.
   */
  stop(cause: unknown): void {
    this.#stopped ??= new FailStoppedError(this.#path, cause);
  }

  /** Waits for queued work, then closes the descriptor. Later calls are refused. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#running) await this.#running;
    await this.#handle.close();
  }

  #refusal(): Error | undefined {
    if (this.#closed) return new IndexNotOpenError("closed");
    return this.#stopped;
  }

  #schedule(): void {
    if (this.#running) return;
    // Starting on a later microtask lets every transition issued in the same
    // tick join the first batch.
    this.#running = Promise.resolve().then(() => this.#drain());
  }

  async #drain(): Promise<void> {
    for (;;) {
      const head = this.#queue[0];
      if (head === undefined) {
        // Cleared in the same step that finds the queue empty, so an append
        // arriving next always starts a new drain.
        this.#running = null;
        return;
      }
      if (head.kind === "task") {
        this.#queue.shift();
        if (this.#stopped) head.reject(this.#stopped);
        else await Promise.resolve().then(head.run).then(head.resolve, head.reject);
        continue;
      }
      let count = 0;
      while (this.#queue[count]?.kind === "record") count += 1;
      const batch = this.#queue.splice(0, count) as QueuedRecord[];
      if (this.#stopped) {
        for (const item of batch) item.reject(this.#stopped);
        continue;
      }
      const accepted: Array<{ item: QueuedRecord; record: JournalRecord }> = [];
      const lines: string[] = [];
      for (const item of batch) {
        const record = { ...item.draft, seq: this.#nextSeq + accepted.length } as JournalRecord;
        try {
          lines.push(encodeJournalLine(record));
          accepted.push({ item, record });
        } catch (error) {
          item.reject(error);
        }
      }
      if (accepted.length === 0) continue;
      const failure = await this.#writeDurably(Buffer.from(lines.join(""), "utf8"));
      if (failure) {
        for (const { item } of accepted) item.reject(failure);
        continue;
      }
      this.#nextSeq += accepted.length;
      for (const { item, record } of accepted) {
        item.onDurable?.(record);
        item.resolve(record);
      }
    }
  }

  /** Writes and fsyncs `bytes`; returns the error to reject the batch with, if any. */
  async #writeDurably(bytes: Buffer): Promise<Error | undefined> {
    try {
      await this.#write(bytes);
    } catch (error) {
      if (!(error instanceof WriteFailure)) throw error;
      return this.#cutBack(error.cause);
    }
    try {
      await this.#handle.sync();
    } catch (error) {
      const cut = await this.#discardUnsynced();
      this.stop(
        cut === undefined
          ? error
          : new AggregateError([error, cut], "fsync failed, and cutting the batch back failed too"),
      );
      return this.#stopped;
    }
    this.#durableBytes += bytes.length;
    return undefined;
  }

  /**
   * After a failed fsync: Linux marks the pages it could not write clean, so
   * the file still reads back with the batch while the disk may never get it,
   * and a new instance reading it would take transitions that were refused
   * for durable ones (and leave a hole in the journal at the next power cut).
   * The batch was not acknowledged: it is cut (truncate, fsync) so the file
   * reads back as the disk holds it. The writer stops either way.
   * @returns why the cut failed, when it did (a new instance may then read the batch back).
   */
  async #discardUnsynced(): Promise<unknown> {
    try {
      await this.#handle.truncate(this.#durableBytes);
      await this.#handle.sync();
      return undefined;
    } catch (error) {
      return error;
    }
  }

  async #write(bytes: Buffer): Promise<void> {
    let written = 0;
    let shortWrites = 0;
    try {
      while (written < bytes.length) {
        const { bytesWritten } = await this.#handle.write(
          bytes,
          written,
          bytes.length - written,
          null,
        );
        written += bytesWritten;
        if (written < bytes.length && ++shortWrites > MAX_SHORT_WRITES) {
          throw new Error(
            `gave up after ${MAX_SHORT_WRITES} short writes (${written} of ${bytes.length} bytes)`,
          );
        }
      }
    } catch (error) {
      throw new WriteFailure(error);
    }
  }

  /**
   * Removes a batch whose write failed, so it never sits in front of later
   * records. No fsync of the batch was tried, so fsyncing the cut is not a retry.
   */
  async #cutBack(cause: unknown): Promise<Error> {
    try {
      await this.#handle.truncate(this.#durableBytes);
      await this.#handle.sync();
    } catch (error) {
      this.stop(error);
      return this.#stopped as FailStoppedError;
    }
    return new JournalWriteError(this.#path, cause);
  }
}

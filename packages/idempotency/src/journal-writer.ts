import type { FileHandleLike } from "@beauvoir/core";
import { IndexNotOpenError, JournalWriteError } from "./errors.js";

interface QueuedLine {
  readonly kind: "line";
  readonly line: string;
  readonly onDurable: (() => void) | undefined;
  readonly resolve: () => void;
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

/**
 * Appends lines to the journal through one `O_APPEND` descriptor, with group
 * commit: every line queued while an fsync is running goes out in the next
 * write and shares the next fsync. A line's promise resolves only after an
 * fsync that covers it.
 *
 * On a failed write or fsync the file is cut back to its last durable length,
 * so a half-written batch never sits in front of later records. If even that
 * fails the writer refuses all further work (`INDEX_NOT_OPEN`, reason `broken`).
 *
 * Exclusive tasks (compaction) run between batches, never during one.
 */
export class JournalWriter {
  #handle: FileHandleLike;
  #path: string;
  #durableBytes: number;
  #queue: Array<QueuedLine | QueuedTask> = [];
  #running: Promise<void> | null = null;
  #broken: unknown = undefined;
  #closed = false;

  /**
   * @param handle - descriptor opened for appending.
   * @param path - its path, for error messages.
   * @param durableBytes - the file's current (durable, valid) length.
   */
  constructor(handle: FileHandleLike, path: string, durableBytes: number) {
    this.#handle = handle;
    this.#path = path;
    this.#durableBytes = durableBytes;
  }

  /** The file currently appended to. */
  get path(): string {
    return this.#path;
  }

  /**
   * Queues `line` and resolves once it is written and fsynced.
   * @param line - one encoded journal line, newline included.
   * @param onDurable - runs synchronously once the line is durable, before any
   *   exclusive task can start (so a snapshot taken by that task sees it).
   * @returns a promise that resolves when the line is durable.
   * @throws {@link JournalWriteError} when the write or fsync failed (the line is not in the file).
   */
  append(line: string, onDurable?: () => void): Promise<void> {
    const refusal = this.#refusal();
    if (refusal) return Promise.reject(refusal);
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ kind: "line", line, onDurable, resolve, reject });
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

  /** Waits for queued work, then closes the descriptor. Later calls are refused. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#running) await this.#running;
    await this.#handle.close();
  }

  #refusal(): Error | undefined {
    if (this.#closed) return new IndexNotOpenError("closed");
    if (this.#broken !== undefined) return new IndexNotOpenError("broken", this.#broken);
    return undefined;
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
        await Promise.resolve().then(head.run).then(head.resolve, head.reject);
        continue;
      }
      let count = 0;
      while (this.#queue[count]?.kind === "line") count += 1;
      const batch = this.#queue.splice(0, count) as QueuedLine[];
      if (this.#broken !== undefined) {
        for (const item of batch) item.reject(new IndexNotOpenError("broken", this.#broken));
        continue;
      }
      try {
        await this.#writeDurably(Buffer.from(batch.map((item) => item.line).join(""), "utf8"));
      } catch (error) {
        const failure = new JournalWriteError(this.#path, error);
        for (const item of batch) item.reject(failure);
        continue;
      }
      for (const item of batch) {
        item.onDurable?.();
        item.resolve();
      }
    }
  }

  async #writeDurably(bytes: Buffer): Promise<void> {
    try {
      let written = 0;
      let shortWrites = 0;
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
      await this.#handle.sync();
      this.#durableBytes += bytes.length;
    } catch (error) {
      try {
        await this.#handle.truncate(this.#durableBytes);
        await this.#handle.sync();
      } catch (truncateError) {
        this.#broken = truncateError;
      }
      throw error;
    }
  }
}

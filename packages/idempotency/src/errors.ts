import { BeauvoirError, isBeauvoirErrorWithCode } from "@beauvoir/core";
import type { IdempotencyEntry, IdempotencyStatus } from "./entry.js";

/** Error codes thrown by `@beauvoir/idempotency`. */
export type IdempotencyErrorCode =
  | "DUPLICATE_EXECUTION"
  | "PENDING_WAIT_TIMEOUT"
  | "INVALID_TRANSITION"
  | "JOURNAL_WRITE_FAILED"
  | "INDEX_NOT_OPEN"
  | "INDEX_CORRUPT";

/**
 * Thrown by `markPending()` in `"fail"` mode when the key is already pending:
 * running the side effect now could run it twice.
 */
export class DuplicateExecutionError extends BeauvoirError<"DUPLICATE_EXECUTION"> {
  /** The idempotency key that is already pending. */
  readonly key: string;
  /** The entry as it stands (status `pending`). */
  readonly entry: IdempotencyEntry;

  /**
   * @param key - the contested key.
   * @param entry - the pending entry that holds it.
   */
  constructor(key: string, entry: IdempotencyEntry) {
    super(
      "DUPLICATE_EXECUTION",
      `Key "${key}" is already pending (intent ${entry.intentSeq}); running it again could duplicate its side effect`,
    );
    this.key = key;
    this.entry = entry;
  }

  /** @returns true for a {@link DuplicateExecutionError} from any copy of the package. */
  static override isInstance(value: unknown): value is DuplicateExecutionError {
    return isBeauvoirErrorWithCode(value, "DUPLICATE_EXECUTION");
  }
}

/** Thrown by `markPending()` in `"wait"` mode when the key is still pending after `waitTimeoutMs`. */
export class PendingWaitTimeoutError extends BeauvoirError<"PENDING_WAIT_TIMEOUT"> {
  /** The key that stayed pending. */
  readonly key: string;
  /** How long the caller waited, in milliseconds. */
  readonly waitedMs: number;

  /**
   * @param key - the key that stayed pending.
   * @param waitedMs - the timeout that ran out.
   */
  constructor(key: string, waitedMs: number) {
    super("PENDING_WAIT_TIMEOUT", `Key "${key}" was still pending after waiting ${waitedMs} ms`);
    this.key = key;
    this.waitedMs = waitedMs;
  }

  /** @returns true for a {@link PendingWaitTimeoutError} from any copy of the package. */
  static override isInstance(value: unknown): value is PendingWaitTimeoutError {
    return isBeauvoirErrorWithCode(value, "PENDING_WAIT_TIMEOUT");
  }
}

/**
 * Thrown when a transition is not allowed from the entry's current status:
 * `markCompleted()`/`markFailed()` on a key that is not pending (failed is terminal).
 */
export class InvalidTransitionError extends BeauvoirError<"INVALID_TRANSITION"> {
  /** The key. */
  readonly key: string;
  /** Its status, or `null` when the key is unknown. */
  readonly from: IdempotencyStatus | null;
  /** The status that was asked for. */
  readonly to: IdempotencyStatus;

  /**
   * @param key - the key.
   * @param from - its current status, `null` if absent.
   * @param to - the refused target status.
   */
  constructor(key: string, from: IdempotencyStatus | null, to: IdempotencyStatus) {
    super(
      "INVALID_TRANSITION",
      `Cannot mark "${key}" ${to}: it is ${from === null ? "not in the index" : from}`,
    );
    this.key = key;
    this.from = from;
    this.to = to;
  }

  /** @returns true for an {@link InvalidTransitionError} from any copy of the package. */
  static override isInstance(value: unknown): value is InvalidTransitionError {
    return isBeauvoirErrorWithCode(value, "INVALID_TRANSITION");
  }
}

/**
 * Thrown when a transition could not be made durable (write or fsync failed).
 * The transition is rolled back in memory and the journal is cut back to its
 * last good record, so the index stays consistent with the disk.
 */
export class JournalWriteError extends BeauvoirError<"JOURNAL_WRITE_FAILED"> {
  /** The journal file. */
  readonly path: string;

  /**
   * @param path - the journal file.
   * @param cause - the underlying filesystem error.
   */
  constructor(path: string, cause: unknown) {
    super("JOURNAL_WRITE_FAILED", `Could not make a transition durable in ${path}`, { cause });
    this.path = path;
  }

  /** @returns true for a {@link JournalWriteError} from any copy of the package. */
  static override isInstance(value: unknown): value is JournalWriteError {
    return isBeauvoirErrorWithCode(value, "JOURNAL_WRITE_FAILED");
  }
}

/** Thrown when the index is used before `initialize()`, after `close()`, or after an unrecoverable write failure. */
export class IndexNotOpenError extends BeauvoirError<"INDEX_NOT_OPEN"> {
  /** Why the index is not usable. */
  readonly reason: "not_initialized" | "closed" | "broken";

  /**
   * @param reason - why the index is not usable.
   * @param cause - for `"broken"`, the failure that broke it.
   */
  constructor(reason: "not_initialized" | "closed" | "broken", cause?: unknown) {
    const messages = {
      not_initialized: "The idempotency index is not initialized; call initialize() first",
      closed: "The idempotency index is closed",
      broken:
        "The idempotency index could not restore its journal after a write failure; reopen it",
    } as const;
    super("INDEX_NOT_OPEN", messages[reason], cause === undefined ? {} : { cause });
    this.reason = reason;
  }

  /** @returns true for an {@link IndexNotOpenError} from any copy of the package. */
  static override isInstance(value: unknown): value is IndexNotOpenError {
    return isBeauvoirErrorWithCode(value, "INDEX_NOT_OPEN");
  }
}

/**
 * Thrown by `initialize()` when the snapshot is readable JSON but not an
 * idempotency snapshot. Nothing on disk is changed, so it can be inspected.
 */
export class IndexCorruptError extends BeauvoirError<"INDEX_CORRUPT"> {
  /** What was wrong with it. */
  readonly detail: string;

  /** @param detail - what was wrong with the snapshot. */
  constructor(detail: string) {
    super("INDEX_CORRUPT", `The idempotency snapshot is not valid: ${detail}`);
    this.detail = detail;
  }

  /** @returns true for an {@link IndexCorruptError} from any copy of the package. */
  static override isInstance(value: unknown): value is IndexCorruptError {
    return isBeauvoirErrorWithCode(value, "INDEX_CORRUPT");
  }
}

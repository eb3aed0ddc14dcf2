import { BeauvoirError, isBeauvoirErrorWithCode } from "@beauvoir/core";
import type { IdempotencyEntry, IdempotencyStatus } from "./entry.js";

/**
 * Error codes thrown by `@beauvoir/idempotency`. A failed fsync throws
 * `@beauvoir/core`'s `FailStoppedError` (`FAIL_STOPPED`), a symbolic link where
 * a file of the index belongs `SymlinkRefusedError` (`SYMLINK_REFUSED`), and a
 * held owner lock `@beauvoir/locks`' `LockHeldError` (`LOCK_HELD`).
 */
export type IdempotencyErrorCode =
  | "DUPLICATE_EXECUTION"
  | "PENDING_WAIT_TIMEOUT"
  | "INVALID_TRANSITION"
  | "JOURNAL_WRITE_FAILED"
  | "INDEX_NOT_OPEN"
  | "INDEX_CORRUPT"
  | "INDEX_IO_FAILED"
  | "KEY_CONTAINS_SECRET";

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
 * Thrown when a transition could not be written (a `write` failed, e.g.
 * ENOSPC). The transition is rolled back in memory and the journal was cut
 * back, durably, to its last good record, so the index stays consistent with
 * the disk and keeps working. (A failed fsync is not retried: it throws
 * `FailStoppedError` instead.)
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

/** Thrown when the index is used before `initialize()` or after `close()`. */
export class IndexNotOpenError extends BeauvoirError<"INDEX_NOT_OPEN"> {
  /** Why the index is not usable. */
  readonly reason: "not_initialized" | "closed";

  /** @param reason - why the index is not usable. */
  constructor(reason: "not_initialized" | "closed") {
    const messages = {
      not_initialized: "The idempotency index is not initialized; call initialize() first",
      closed: "The idempotency index is closed",
    } as const;
    super("INDEX_NOT_OPEN", messages[reason]);
    this.reason = reason;
  }

  /** @returns true for an {@link IndexNotOpenError} from any copy of the package. */
  static override isInstance(value: unknown): value is IndexNotOpenError {
    return isBeauvoirErrorWithCode(value, "INDEX_NOT_OPEN");
  }
}

/** The kinds of damage {@link IndexCorruptError} and `verifyIdempotencyIndex()` report. */
export type IndexProblemKind =
  /** A line that is not a torn tail fails its checksum, does not parse, or breaks the seq order. */
  | "damaged-line"
  /** Sequence numbers prove records are missing (a journal cut short or deleted, a lost snapshot). */
  | "missing-records"
  /** A journal the snapshot continues from is missing, or has lost its header. */
  | "missing-journal"
  /** The snapshot is readable but is not an idempotency snapshot. */
  | "invalid-snapshot";

/** One piece of damage found in an index directory. */
export interface IndexProblem {
  /** What is wrong. */
  readonly kind: IndexProblemKind;
  /** The damaged (or missing) file, as an absolute path. */
  readonly file: string;
  /** The first bad line of `file`, from 1; absent when the whole file is concerned. */
  readonly line?: number | undefined;
  /** A sentence saying what was found. */
  readonly detail: string;
}

/**
 * Thrown by `initialize()` when the index's files are damaged in a way a crash
 * cannot explain: a bad line that is not a torn tail, records proven missing by
 * their sequence numbers, a journal the snapshot continues from gone, or a
 * snapshot that is not one. Nothing on disk was changed, so the damage can be
 * inspected; `repairIdempotencyIndex()` (`beauvoir-index repair <dir>`) moves
 * the damaged part aside.
 */
export class IndexCorruptError extends BeauvoirError<"INDEX_CORRUPT"> {
  /** The first damaged file, as an absolute path. */
  readonly file: string;
  /** Its first bad line, from 1; `undefined` when the whole file is concerned. */
  readonly line: number | undefined;
  /** What is wrong with it. */
  readonly detail: string;
  /** The kind of the first problem. */
  readonly kind: IndexProblemKind;
  /** Every problem found, the first one first. */
  readonly problems: readonly IndexProblem[];

  /** @param problems - what was found; at least one. */
  constructor(problems: readonly [IndexProblem, ...IndexProblem[]]) {
    const [first] = problems;
    const where = first.line === undefined ? first.file : `${first.file} line ${first.line}`;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : "";
    super(
      "INDEX_CORRUPT",
      `The idempotency index is damaged: ${where}: ${first.detail}${more}. Nothing was changed; inspect it with "beauvoir-index verify", move the damage aside with "beauvoir-index repair"`,
    );
    this.file = first.file;
    this.line = first.line;
    this.detail = first.detail;
    this.kind = first.kind;
    this.problems = Object.freeze([...problems]);
  }

  /** @returns true for an {@link IndexCorruptError} from any copy of the package. */
  static override isInstance(value: unknown): value is IndexCorruptError {
    return isBeauvoirErrorWithCode(value, "INDEX_CORRUPT");
  }
}

/**
 * Thrown when a file or directory of the index cannot be read or created (EACCES,
 * EISDIR, EROFS, ENOSPC, EIO…) while opening or repairing it. Nothing was
 * written through it.
 */
export class IndexIoError extends BeauvoirError<"INDEX_IO_FAILED"> {
  /** The file or directory concerned. */
  readonly path: string;
  /** What the index was doing: `"read"`, `"create"`, `"list"`… */
  readonly operation: string;

  /**
   * @param operation - what the index was doing.
   * @param path - the file or directory.
   * @param cause - the filesystem error.
   */
  constructor(operation: string, path: string, cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code;
    super(
      "INDEX_IO_FAILED",
      `Could not ${operation} ${path}${typeof code === "string" ? ` (${code})` : ""}`,
      { cause },
    );
    this.path = path;
    this.operation = operation;
  }

  /** @returns true for an {@link IndexIoError} from any copy of the package. */
  static override isInstance(value: unknown): value is IndexIoError {
    return isBeauvoirErrorWithCode(value, "INDEX_IO_FAILED");
  }
}

/**
 * Thrown by `markPending()`, `settle()` and `reset()` when the key itself
 * would be changed by the redactor: storing it would put a secret on disk, and
 * storing its redacted form would make it a different key after a restart.
 * Keys from `generateKey()` never cause this.
 */
export class KeyContainsSecretError extends BeauvoirError<"KEY_CONTAINS_SECRET"> {
  /** The key as the redactor shows it. */
  readonly redactedKey: string;

  /** @param redactedKey - the key with its secret replaced. */
  constructor(redactedKey: string) {
    super(
      "KEY_CONTAINS_SECRET",
      `The key "${redactedKey}" holds text the redactor hides; derive keys with generateKey(), which hashes the secret instead`,
    );
    this.redactedKey = redactedKey;
  }

  /** @returns true for a {@link KeyContainsSecretError} from any copy of the package. */
  static override isInstance(value: unknown): value is KeyContainsSecretError {
    return isBeauvoirErrorWithCode(value, "KEY_CONTAINS_SECRET");
  }
}

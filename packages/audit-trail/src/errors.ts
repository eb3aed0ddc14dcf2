import { BeauvoirError, isBeauvoirErrorWithCode } from "@beauvoir/core";
import type { ChainBreakReason } from "./chain-scanner.js";

/** Error codes thrown by `@beauvoir/audit-trail`. */
export type AuditTrailErrorCode =
  | "AUDIT_WRITE"
  | "AUDIT_READ"
  | "AUDIT_CORRUPT"
  | "AUDIT_FILE_IN_USE"
  | "AUDIT_NOT_READY"
  | "AUDIT_UNKNOWN_INTENT"
  | "AUDIT_INVALID_ENTRY";

/** The file operation that failed inside an {@link AuditWriteError}. */
export type AuditWriteOperation =
  | "mkdir"
  | "open"
  | "write"
  | "short-write"
  | "fsync"
  | "truncate"
  | "rename"
  | "link"
  | "unlink"
  | "close";

/**
 * A change to the audit file failed: a write (including short writes that did
 * not complete after 3 retries), an fsync, a truncation, the rotation rename, or
 * opening the file. The records of the failed batch are not acknowledged.
 *
 * @example
 * ```ts
 * try {
 *   await audit.recordIntent(entry);
 * } catch (error) {
 *   if (AuditWriteError.isInstance(error)) console.error(`audit ${error.operation} failed`, error.cause);
 *   throw error; // do not run the side effect: it was not recorded
 * }
 * ```
 */
export class AuditWriteError extends BeauvoirError<"AUDIT_WRITE"> {
  /** Which call failed. */
  readonly operation: AuditWriteOperation;
  /** The file (or directory) it was called on. */
  readonly path: string;

  /**
   * @param operation - the failing call.
   * @param path - the file or directory.
   * @param message - what happened.
   * @param cause - the underlying error, when there is one.
   */
  constructor(operation: AuditWriteOperation, path: string, message: string, cause?: unknown) {
    super("AUDIT_WRITE", message, cause === undefined ? {} : { cause });
    this.operation = operation;
    this.path = path;
  }

  /** @returns true for an {@link AuditWriteError} from any copy of the package. */
  static override isInstance(value: unknown): value is AuditWriteError {
    return isBeauvoirErrorWithCode(value, "AUDIT_WRITE");
  }
}

/** Reading an audit file or listing its directory failed (other than "does not exist").
 *
 * @example
 * ```ts
 * const result = await verifyAuditFile(path).catch((error) => {
 *   if (AuditReadError.isInstance(error)) return undefined; // missing or unreadable
 *   throw error;
 * });
 * ```
 */
export class AuditReadError extends BeauvoirError<"AUDIT_READ"> {
  /** The file or directory that could not be read. */
  readonly path: string;

  /**
   * @param path - the file or directory.
   * @param cause - the underlying error.
   */
  constructor(path: string, cause: unknown) {
    super("AUDIT_READ", `Could not read ${path}`, { cause });
    this.path = path;
  }

  /** @returns true for an {@link AuditReadError} from any copy of the package. */
  static override isInstance(value: unknown): value is AuditReadError {
    return isBeauvoirErrorWithCode(value, "AUDIT_READ");
  }
}

/** Why an {@link AuditTrail} cannot take records right now. */
export type AuditTrailState = "uninitialized" | "closed";

/**
 * The trail is not open: `initialize()` was not awaited yet (or failed), or
 * `close()` was called. (A trail stopped by a failed write or fsync throws
 * `FailStoppedError` from `@beauvoir/core` instead.)
 *
 * @example
 * ```ts
 * catch (error) {
 *   if (AuditNotReadyError.isInstance(error) && error.state === "uninitialized") await audit.initialize();
 * }
 * ```
 */
export class AuditNotReadyError extends BeauvoirError<"AUDIT_NOT_READY"> {
  /** The state that refused the call. */
  readonly state: AuditTrailState;

  /**
   * @param state - why the trail is not usable.
   */
  constructor(state: AuditTrailState) {
    const messages: Record<AuditTrailState, string> = {
      uninitialized: "The audit trail is not initialized; await initialize() first",
      closed: "The audit trail is closed",
    };
    super("AUDIT_NOT_READY", messages[state]);
    this.state = state;
  }

  /** @returns true for an {@link AuditNotReadyError} from any copy of the package. */
  static override isInstance(value: unknown): value is AuditNotReadyError {
    return isBeauvoirErrorWithCode(value, "AUDIT_NOT_READY");
  }
}

/**
 * `recordResult()` named an intent that is not waiting for a result: no such
 * intent in the current file, or its result is already recorded (or being
 * recorded).
 *
 * @example
 * ```ts
 * await audit.recordResult(seq, result).catch((error) => {
 *   if (!(AuditUnknownIntentError.isInstance(error) && error.reason === "already_resolved")) throw error;
 * });
 * ```
 */
export class AuditUnknownIntentError extends BeauvoirError<"AUDIT_UNKNOWN_INTENT"> {
  /** The seq the caller passed. */
  readonly intentSeq: number;
  /** `not_open`: no open intent has this seq; `already_resolved`: its result exists or is on its way. */
  readonly reason: "not_open" | "already_resolved";

  /**
   * @param intentSeq - the seq passed to `recordResult()`.
   * @param reason - which of the two cases.
   */
  constructor(intentSeq: number, reason: "not_open" | "already_resolved") {
    super(
      "AUDIT_UNKNOWN_INTENT",
      reason === "already_resolved"
        ? `Intent ${intentSeq} already has a result`
        : `No open intent with seq ${intentSeq}`,
    );
    this.intentSeq = intentSeq;
    this.reason = reason;
  }

  /** @returns true for an {@link AuditUnknownIntentError} from any copy of the package. */
  static override isInstance(value: unknown): value is AuditUnknownIntentError {
    return isBeauvoirErrorWithCode(value, "AUDIT_UNKNOWN_INTENT");
  }
}

/**
 * A `record*()` entry cannot be written: a field has the wrong type, or a value
 * cannot be represented as JSON (a `BigInt`, a cycle).
 *
 * @example
 * ```ts
 * await audit.recordIntent({ action: "a", target: "t", params: { id: 1n } }); // rejects: field "params"
 * ```
 */
export class AuditInvalidEntryError extends BeauvoirError<"AUDIT_INVALID_ENTRY"> {
  /** The offending field, e.g. `"params"` or `"action"`. */
  readonly field: string;

  /**
   * @param field - the offending field.
   * @param message - what is wrong with it.
   * @param cause - the underlying error, when there is one.
   */
  constructor(field: string, message: string, cause?: unknown) {
    super("AUDIT_INVALID_ENTRY", message, cause === undefined ? {} : { cause });
    this.field = field;
  }

  /** @returns true for an {@link AuditInvalidEntryError} from any copy of the package. */
  static override isInstance(value: unknown): value is AuditInvalidEntryError {
    return isBeauvoirErrorWithCode(value, "AUDIT_INVALID_ENTRY");
  }
}

/**
 * The audit history is damaged somewhere a crash cannot explain: a record that
 * does not match its hash, a missing, reordered or truncated record or file, an
 * HMAC that does not verify, or an unsigned record under a key. Nothing was cut
 * or changed: the files are exactly as they were found. Only a torn last line
 * of the current file (a write that provably did not finish) is ever cut by
 * `initialize()`; everything else waits for an operator, who can look at the
 * files and run `beauvoir-audit repair` (or {@link repairAuditHistory}) to move
 * the damaged part aside.
 *
 * @example
 * ```ts
 * try {
 *   await audit.initialize();
 * } catch (error) {
 *   if (AuditCorruptError.isInstance(error)) console.error(`${error.file} line ${error.line}: ${error.reason}`);
 *   throw error;
 * }
 * ```
 */
export class AuditCorruptError extends BeauvoirError<"AUDIT_CORRUPT"> {
  /** The file holding the first bad record. */
  readonly file: string;
  /** 1-based line of the first bad record in `file`. */
  readonly line: number;
  /** The seq the first bad record has or should have, when it can be told. */
  readonly seq: number | undefined;
  /** What is wrong; see {@link ChainBreakReason}. */
  readonly reason: ChainBreakReason;
  /** Human-readable detail of the problem. */
  readonly detail: string;

  /**
   * @param damage - where and why the history is broken.
   * @param message - the diagnosis, when it says more than `detail`.
   */
  constructor(
    damage: { file: string; line: number; seq?: number; reason: ChainBreakReason; detail: string },
    message?: string,
  ) {
    const at = damage.seq === undefined ? "" : ` (seq ${damage.seq})`;
    super(
      "AUDIT_CORRUPT",
      message ??
        `The audit history is damaged at ${damage.file} line ${damage.line}${at}: ${damage.reason}, ${damage.detail}. The files were left as they are; see beauvoir-audit repair`,
    );
    this.file = damage.file;
    this.line = damage.line;
    this.seq = damage.seq;
    this.reason = damage.reason;
    this.detail = damage.detail;
  }

  /** @returns true for an {@link AuditCorruptError} from any copy of the package. */
  static override isInstance(value: unknown): value is AuditCorruptError {
    return isBeauvoirErrorWithCode(value, "AUDIT_CORRUPT");
  }
}

/**
 * Another {@link AuditTrail} of this process already writes this file (or a
 * repair is running on it). One file has one writer: two would each chain
 * their records onto the same last hash and break the history. The other one
 * releases the file in `close()`.
 *
 * @example
 * ```ts
 * await first.close();
 * await second.initialize(); // now it may write
 * ```
 */
export class AuditFileInUseError extends BeauvoirError<"AUDIT_FILE_IN_USE"> {
  /** The file, as the refused caller named it. */
  readonly path: string;

  /**
   * @param path - the audit file.
   */
  constructor(path: string) {
    super(
      "AUDIT_FILE_IN_USE",
      `${path} is already open for writing in this process; close() the other AuditTrail first`,
    );
    this.path = path;
  }

  /** @returns true for an {@link AuditFileInUseError} from any copy of the package. */
  static override isInstance(value: unknown): value is AuditFileInUseError {
    return isBeauvoirErrorWithCode(value, "AUDIT_FILE_IN_USE");
  }
}

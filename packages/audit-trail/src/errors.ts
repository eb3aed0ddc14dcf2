import { BeauvoirError, isBeauvoirErrorWithCode } from "@beauvoir/core";

/** Error codes thrown by `@beauvoir/audit-trail`. */
export type AuditTrailErrorCode =
  | "AUDIT_WRITE"
  | "AUDIT_READ"
  | "AUDIT_NOT_READY"
  | "AUDIT_UNKNOWN_INTENT"
  | "AUDIT_INVALID_ENTRY"
  | "AUDIT_HMAC_MISMATCH";

/** The file operation that failed inside an {@link AuditWriteError}. */
export type AuditWriteOperation =
  | "mkdir"
  | "open"
  | "write"
  | "short-write"
  | "fsync"
  | "truncate"
  | "rename"
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
export type AuditTrailState = "uninitialized" | "closed" | "failed";

/**
 * The trail is not open: `initialize()` was not awaited yet, `close()` was
 * called, or an earlier fsync failed (after which nothing written since the last
 * good fsync can be trusted, so the trail refuses to go on; open a new one, whose
 * recovery checks the file).
 *
 * @example
 * ```ts
 * catch (error) {
 *   if (AuditNotReadyError.isInstance(error) && error.state === "failed") audit = await reopen();
 * }
 * ```
 */
export class AuditNotReadyError extends BeauvoirError<"AUDIT_NOT_READY"> {
  /** The state that refused the call. */
  readonly state: AuditTrailState;

  /**
   * @param state - why the trail is not usable.
   * @param cause - for `"failed"`, the error that broke the trail.
   */
  constructor(state: AuditTrailState, cause?: unknown) {
    const messages: Record<AuditTrailState, string> = {
      uninitialized: "The audit trail is not initialized; await initialize() first",
      closed: "The audit trail is closed",
      failed: "The audit trail stopped after a failed fsync; open a new one to recover",
    };
    super("AUDIT_NOT_READY", messages[state], cause === undefined ? {} : { cause });
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
 * `initialize()` found records whose hashes are consistent but whose HMAC does
 * not match the configured key, somewhere other than the tail: the key changed,
 * or someone without the key rewrote part of the file. Recovery only cuts
 * mismatches at the tail (appended after the last record the key verifies);
 * anything else would throw away valid history, so the file is left untouched
 * for an operator to look at.
 *
 * @example
 * ```ts
 * try {
 *   await audit.initialize();
 * } catch (error) {
 *   if (AuditHmacMismatchError.isInstance(error)) console.error(`audit file fails the key check at seq ${error.seq}`);
 *   throw error;
 * }
 * ```
 */
export class AuditHmacMismatchError extends BeauvoirError<"AUDIT_HMAC_MISMATCH"> {
  /** The first record whose HMAC did not match. */
  readonly seq: number;
  /** The file it is in. */
  readonly path: string;

  /**
   * @param seq - first mismatching record.
   * @param path - the audit file.
   * @param message - the diagnosis.
   */
  constructor(seq: number, path: string, message: string) {
    super("AUDIT_HMAC_MISMATCH", message);
    this.seq = seq;
    this.path = path;
  }

  /** @returns true for an {@link AuditHmacMismatchError} from any copy of the package. */
  static override isInstance(value: unknown): value is AuditHmacMismatchError {
    return isBeauvoirErrorWithCode(value, "AUDIT_HMAC_MISMATCH");
  }
}

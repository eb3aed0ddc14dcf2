export {
  buildCompensationTable,
  DEFAULT_COMPENSATION,
  isCompensationStrategy,
} from "./compensation.js";
export type { CompensationStrategy, IdempotencyEntry, IdempotencyStatus } from "./entry.js";
export {
  DuplicateExecutionError,
  type IdempotencyErrorCode,
  IndexCorruptError,
  IndexIoError,
  IndexNotOpenError,
  type IndexProblem,
  type IndexProblemKind,
  InvalidTransitionError,
  JournalWriteError,
  KeyContainsSecretError,
  PendingWaitTimeoutError,
} from "./errors.js";
export { IdempotencyIndex } from "./idempotency-index.js";
export { canonicalJson, generateIdempotencyKey } from "./idempotency-key.js";
export { toJsonSafe } from "./json-safe.js";
export {
  type AuditQuery,
  type AuditResultLookup,
  IDEMPOTENCY_INDEX_DEFAULTS,
  type IdempotencyIndexOptions,
  type MarkPendingOptions,
  type MarkPendingResult,
  type OwnerLockHandle,
  type OwnerLockProvider,
  type PendingConflictMode,
  type SnapshotStore,
} from "./options.js";
export type { IndexRedactor } from "./redaction.js";
export {
  type IndexRepairReport,
  type RepairIndexOptions,
  repairIdempotencyIndex,
} from "./repair-index.js";
export type { Settlement } from "./settlement.js";
export type { IdempotencySnapshot, SnapshotPosition } from "./snapshot.js";
export {
  type IndexVerifyReport,
  type VerifyIndexOptions,
  verifyIdempotencyIndex,
} from "./verify-index.js";

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
  IndexNotOpenError,
  InvalidTransitionError,
  JournalWriteError,
  PendingWaitTimeoutError,
} from "./errors.js";
export { IdempotencyIndex } from "./idempotency-index.js";
export { canonicalJson, generateIdempotencyKey } from "./idempotency-key.js";
export {
  type AuditQuery,
  type AuditResultLookup,
  IDEMPOTENCY_INDEX_DEFAULTS,
  type IdempotencyIndexOptions,
  type IdempotencySnapshot,
  type MarkPendingOptions,
  type MarkPendingResult,
  type OwnerLockHandle,
  type OwnerLockProvider,
  type PendingConflictMode,
  type SnapshotStore,
} from "./options.js";

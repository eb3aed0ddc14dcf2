export { LockCorruptError, LockHeldError, LockIoError, type LocksErrorCode } from "./errors.js";
export { asyncDisposeSymbol, type LockHandle } from "./lock-handle.js";
export { LockManager } from "./lock-manager.js";
export { LOCK_FILE_VERSION, type LockOwner } from "./lock-owner.js";
export {
  type AcquireOptions,
  type BreakLockResult,
  LOCK_MANAGER_DEFAULTS,
  type LockFileSystem,
  type LockLostEvent,
  type LockManagerOptions,
  type LockStatus,
  type RecoveryReport,
} from "./options.js";
export type { LockStaleReason } from "./stale-lock-judge.js";

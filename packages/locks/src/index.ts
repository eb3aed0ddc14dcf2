export { LockCorruptError, LockHeldError, type LocksErrorCode } from "./errors.js";
export { asyncDisposeSymbol, type LockHandle } from "./lock-handle.js";
export { LockManager } from "./lock-manager.js";
export { LOCK_FILE_VERSION, type LockOwner } from "./lock-owner.js";
export {
  type AcquireOptions,
  LOCK_MANAGER_DEFAULTS,
  type LockFileSystem,
  type LockLostEvent,
  type LockManagerOptions,
  type RecoveryReport,
} from "./options.js";

export { AsyncMutex, type AsyncMutexOptions } from "./async-mutex.js";
export { AsyncSemaphore } from "./async-semaphore.js";
export { type MutexErrorCode, MutexTimeoutError } from "./errors.js";
export {
  type AcquireOptions,
  LOCK_QUEUE_DEFAULTS,
  type LockQueueOptions,
  type Release,
  type RunExclusiveOptions,
} from "./options.js";

import type { Clock, Logger } from "@beauvoir/core";

/** Options shared by {@link AsyncMutex} and {@link AsyncSemaphore}. */
export interface LockQueueOptions {
  /**
   * The lease: a holder that keeps the lock longer than this loses it, the next
   * waiter gets it, and a warning is logged. `Infinity` turns leases off.
   * @default 60_000
   */
  maxHoldMs?: number | undefined;
  /**
   * Default wait for `acquire()` when the call gives none.
   * @default 30_000
   */
  defaultTimeoutMs?: number | undefined;
  /** Receives the lease-revocation warning. @default silentLogger */
  logger?: Pick<Logger, "warn"> | undefined;
  /** Source of time and timers, for tests. @default systemClock */
  clock?: Clock | undefined;
}

/** Per-call options of `acquire()` and `runExclusive()`. */
export interface AcquireOptions {
  /** Aborting removes the caller from the queue; `acquire()` rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/** Options of `runExclusive()`. */
export interface RunExclusiveOptions extends AcquireOptions {
  /** How long to wait for the lock. @default the queue's `defaultTimeoutMs` */
  timeoutMs?: number | undefined;
}

/** Frees the permit it was returned for; calling it again, or after a lease revocation, does nothing. */
export type Release = () => void;

/** Defaults applied to every {@link LockQueueOptions}. */
export const LOCK_QUEUE_DEFAULTS = Object.freeze({
  maxHoldMs: 60_000,
  defaultTimeoutMs: 30_000,
});

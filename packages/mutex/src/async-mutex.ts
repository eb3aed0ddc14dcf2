import { AsyncSemaphore } from "./async-semaphore.js";
import type { LockQueueOptions } from "./options.js";

/** Options of {@link AsyncMutex}. */
export type AsyncMutexOptions = LockQueueOptions;

/**
 * A promise-based mutual-exclusion lock with strict FIFO handoff, timeouts,
 * `AbortSignal` cancellation and a lease that takes the lock back from a
 * holder that forgot to release it.
 *
 * Not re-entrant: acquiring again from inside a held section waits for itself
 * and fails with `MutexTimeoutError` when its timeout runs out.
 *
 * @example
 * ```ts
 * const mutex = new AsyncMutex();
 * const release = await mutex.acquire();
 * try {
 *   await appendToFile(line);
 * } finally {
 *   release();
 * }
 * ```
 */
export class AsyncMutex extends AsyncSemaphore {
  /** @param options - lease, default timeout, logger and clock. */
  constructor(options: AsyncMutexOptions = {}) {
    super(1, options);
  }

  /**
   * Releases the lock, whoever holds it, and hands it to the next waiter.
   * Harmless when the lock is free. Prefer the function `acquire()` returned:
   * it cannot release a lock that a later holder took after a lease revocation.
   */
  release(): void {
    this.releaseOldest();
  }

  /** @returns whether someone holds the lock now. */
  isHeld(): boolean {
    return this.oldestHolder() !== undefined;
  }

  /** @returns milliseconds since the current holder acquired the lock, or 0 when free. */
  holdDuration(): number {
    const holder = this.oldestHolder();
    return holder ? this.clock.now() - holder.acquiredAt : 0;
  }
}

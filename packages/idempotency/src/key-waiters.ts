import type { Clock, TimerHandle } from "@beauvoir/core";
import { PendingWaitTimeoutError } from "./errors.js";

/**
 * Callers of `markPending()` in `"wait"` mode, per key: each waits until the
 * key changes (settled, reset, handed out, the index closed), its deadline
 * passes, or its signal aborts.
 */
export class KeyWaiters {
  readonly #clock: Clock;
  readonly #waiters = new Map<string, Set<() => void>>();

  /** @param clock - the clock deadlines are measured on. */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * Waits for the next change of `key`.
   * @param key - the key.
   * @param waitUntil - the deadline (clock time).
   * @param waitTimeoutMs - the whole timeout, for the error.
   * @param signal - cancels the wait.
   * @returns once woken.
   * @throws {@link PendingWaitTimeoutError} at the deadline; the signal's reason on abort.
   */
  wait(
    key: string,
    waitUntil: number,
    waitTimeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const clock = this.#clock;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const remaining = waitUntil - clock.now();
    if (remaining <= 0) return Promise.reject(new PendingWaitTimeoutError(key, waitTimeoutMs));
    return new Promise<void>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const waiters = this.#waiters.get(key) ?? new Set<() => void>();
      this.#waiters.set(key, waiters);
      const finish = () => {
        waiters.delete(wake);
        if (waiters.size === 0 && this.#waiters.get(key) === waiters) this.#waiters.delete(key);
        if (timer !== undefined) clock.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const wake = () => {
        finish();
        resolve();
      };
      const onAbort = () => {
        finish();
        reject(signal?.reason);
      };
      waiters.add(wake);
      timer = clock.setTimeout(() => {
        finish();
        reject(new PendingWaitTimeoutError(key, waitTimeoutMs));
      }, remaining);
      timer.unref?.();
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Wakes every waiter of `key`.
   * @param key - the key that changed.
   */
  notify(key: string): void {
    const waiters = this.#waiters.get(key);
    if (waiters) for (const wake of [...waiters]) wake();
  }

  /** Wakes every waiter of every key (the index is closing). */
  notifyAll(): void {
    for (const wake of [...this.#waiters.values()].flatMap((set) => [...set])) wake();
  }
}

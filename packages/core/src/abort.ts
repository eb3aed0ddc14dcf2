import { type Clock, systemClock } from "./clock.js";

/** Options for {@link delay}. */
export interface DelayOptions {
  /** Cancels the wait; the promise rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** The clock whose timers are used. @default systemClock */
  clock?: Clock | undefined;
  /** Let the process exit while waiting. @default false */
  unref?: boolean | undefined;
}

/**
 * Waits `ms` milliseconds, or less if `signal` aborts.
 * @param ms - how long to wait.
 * @param options - signal, clock, unref.
 * @returns a promise that resolves after the wait.
 * @throws the signal's `reason` when it aborts.
 * @example
 * ```ts
 * await delay(100, { signal: AbortSignal.timeout(50) }); // rejects after 50 ms
 * ```
 */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal, clock = systemClock, unref = false } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (unref) timer.unref?.();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

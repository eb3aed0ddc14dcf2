/** A handle returned by {@link Clock.setTimeout}. */
export interface TimerHandle {
  /** Lets the process exit while the timer is pending (Node's `unref`). */
  unref?(): unknown;
}

/**
 * The source of time for every Beauvoir package. Inject one to test
 * time-dependent behaviour without global fake timers.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `callback` once after `delayMs`. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer made by {@link Clock.setTimeout}; unknown handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock: `Date.now()` and Node's timers.
 *
 * @example
 * ```ts
 * const startedAt = systemClock.now();
 * ```
 */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (callback: () => void, delayMs: number): TimerHandle => setTimeout(callback, delayMs),
  clearTimeout: (handle: TimerHandle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
});

import type { Clock, TimerHandle } from "./clock.js";

interface PendingTimer extends TimerHandle {
  readonly id: number;
  readonly dueAt: number;
  readonly callback: () => void;
}

/**
 * A clock that only moves when told to, for tests. Timers fire, in due order,
 * during {@link ManualClock.advance}.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(0);
 * clock.setTimeout(() => console.log("fired"), 100);
 * clock.advance(100); // logs "fired"
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers = new Map<number, PendingTimer>();

  /** @param startAt - the initial time in epoch milliseconds. */
  constructor(startAt = 0) {
    this.#now = startAt;
  }

  /** @returns the current manual time. */
  now(): number {
    return this.#now;
  }

  /** Schedules `callback` at `now() + delayMs`. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer: PendingTimer = {
      id: this.#nextId++,
      dueAt: this.#now + Math.max(0, delayMs),
      callback,
      unref: () => timer,
    };
    this.#timers.set(timer.id, timer);
    return timer;
  }

  /** Cancels a pending timer. */
  clearTimeout(handle: TimerHandle): void {
    const id = (handle as Partial<PendingTimer> | undefined)?.id;
    if (id !== undefined) this.#timers.delete(id);
  }

  /** Number of timers not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, earliest
   * first; timers scheduled by a firing callback fire too if they are due.
   */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const next = this.#earliestDueBy(target);
      if (!next) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.dueAt);
      next.callback();
    }
    this.#now = target;
  }

  /** Sets the time to `epochMs` (forward only), firing due timers. */
  set(epochMs: number): void {
    this.advance(Math.max(0, epochMs - this.#now));
  }

  #earliestDueBy(limit: number): PendingTimer | undefined {
    let earliest: PendingTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (timer.dueAt > limit) continue;
      if (!earliest || timer.dueAt < earliest.dueAt) earliest = timer;
    }
    return earliest;
  }
}

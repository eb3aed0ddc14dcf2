import {
  assertDurationOption,
  type Clock,
  silentLogger,
  systemClock,
  type TimerHandle,
} from "@beauvoir/core";
import { MutexTimeoutError } from "./errors.js";
import {
  type AcquireOptions,
  LOCK_QUEUE_DEFAULTS,
  type LockQueueOptions,
  type Release,
  type RunExclusiveOptions,
} from "./options.js";

interface Grant {
  readonly acquiredAt: number;
  readonly leaseEndsAt: number;
  active: boolean;
}

interface Waiter {
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly resolve: (release: Release) => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  settled: boolean;
}

/**
 * A counting semaphore with a strict FIFO queue: at most `permits` holders at a
 * time, waiters served in arrival order, each wait bounded by a timeout and
 * cancellable with an `AbortSignal`, each hold bounded by a lease.
 *
 * Timers are shared, not made per call: one for the earliest waiter deadline,
 * armed only while someone waits, and one unref'd watchdog for leases, so an
 * idle semaphore never keeps the process alive.
 *
 * @example
 * ```ts
 * const uploads = new AsyncSemaphore(3);
 * await uploads.runExclusive(() => upload(file)); // at most 3 at once
 * ```
 */
export class AsyncSemaphore {
  readonly #permits: number;
  readonly #maxHoldMs: number;
  readonly #defaultTimeoutMs: number;
  readonly #logger: NonNullable<LockQueueOptions["logger"]>;
  readonly #clock: Clock;

  #available: number;
  readonly #holders = new Set<Grant>();
  #queue: Waiter[] = [];
  #queueHead = 0;
  #waiting = 0;
  #deadlineTimer: TimerHandle | undefined;
  #deadlineTimerDueAt = Number.POSITIVE_INFINITY;
  #leaseTimer: TimerHandle | undefined;

  /**
   * @param permits - how many holders may hold at once (a whole number >= 1).
   * @param options - lease, default timeout, logger and clock.
   * @throws RangeError when `permits` or a duration option is invalid.
   */
  constructor(permits: number, options: LockQueueOptions = {}) {
    if (!Number.isInteger(permits) || permits < 1) {
      throw new RangeError(`permits must be a whole number >= 1, got ${permits}`);
    }
    this.#permits = permits;
    this.#available = permits;
    this.#maxHoldMs = assertDurationOption(
      options.maxHoldMs ?? LOCK_QUEUE_DEFAULTS.maxHoldMs,
      "maxHoldMs",
    );
    this.#defaultTimeoutMs = assertDurationOption(
      options.defaultTimeoutMs ?? LOCK_QUEUE_DEFAULTS.defaultTimeoutMs,
      "defaultTimeoutMs",
    );
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Waits for a permit.
   * @param timeoutMs - longest wait; `Infinity` waits forever. @default 30_000
   * @param options - `signal` to cancel the wait.
   * @returns a {@link Release} function for this acquisition.
   * @throws {@link MutexTimeoutError} when the wait runs out (also on re-entry from inside a held section).
   * @throws the signal's reason when `signal` aborts first.
   */
  acquire(
    timeoutMs: number = this.#defaultTimeoutMs,
    options: AcquireOptions = {},
  ): Promise<Release> {
    assertDurationOption(timeoutMs, "timeoutMs");
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#available > 0 && this.#waiting === 0) {
      this.#available--;
      return Promise.resolve(this.#grant());
    }
    return this.#enqueue(timeoutMs, signal);
  }

  /**
   * Runs `fn` while holding a permit and releases it afterwards, whether `fn`
   * returns or throws.
   * @param fn - the critical section.
   * @param options - `timeoutMs` for the wait and `signal` to cancel it.
   * @returns what `fn` returns.
   * @throws {@link MutexTimeoutError}, the signal's reason, or whatever `fn` throws.
   */
  async runExclusive<T>(fn: () => T | Promise<T>, options: RunExclusiveOptions = {}): Promise<T> {
    const release = await this.acquire(options.timeoutMs ?? this.#defaultTimeoutMs, options);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Number of callers waiting in the queue. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Number of permits free right now. */
  get available(): number {
    return this.#available;
  }

  /** Total permits, as given to the constructor. */
  get permits(): number {
    return this.#permits;
  }

  /** @internal The oldest active grant, for the mutex's holder queries. */
  protected oldestHolder(): Grant | undefined {
    for (const grant of this.#holders) return grant;
    return undefined;
  }

  /** @internal Releases the oldest active grant; a no-op when nothing is held. */
  protected releaseOldest(): void {
    const grant = this.oldestHolder();
    if (grant) this.#release(grant);
  }

  /** @internal */
  protected get clock(): Clock {
    return this.#clock;
  }

  #grant(): Release {
    const acquiredAt = this.#clock.now();
    const grant: Grant = { acquiredAt, leaseEndsAt: acquiredAt + this.#maxHoldMs, active: true };
    this.#holders.add(grant);
    if (this.#maxHoldMs !== Number.POSITIVE_INFINITY && !this.#leaseTimer) {
      this.#armLeaseWatchdog(this.#maxHoldMs);
    }
    return () => this.#release(grant);
  }

  #release(grant: Grant): void {
    if (!grant.active) return;
    grant.active = false;
    this.#holders.delete(grant);
    this.#handOff();
  }

  /** Gives a freed permit to the first live waiter, or returns it to the pool. */
  #handOff(): void {
    const waiter = this.#dequeue();
    if (!waiter) {
      this.#available++;
      return;
    }
    this.#settle(waiter);
    waiter.resolve(this.#grant());
  }

  #enqueue(timeoutMs: number, signal: AbortSignal | undefined): Promise<Release> {
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        deadline: this.#clock.now() + timeoutMs,
        timeoutMs,
        resolve,
        reject,
        signal,
        onAbort: undefined,
        settled: false,
      };
      if (signal) {
        waiter.onAbort = () => {
          if (waiter.settled) return;
          this.#settle(waiter);
          reject(signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#queue.push(waiter);
      this.#waiting++;
      if (waiter.deadline < this.#deadlineTimerDueAt) this.#armDeadlineTimer(waiter.deadline);
    });
  }

  #dequeue(): Waiter | undefined {
    while (this.#queueHead < this.#queue.length) {
      const waiter = this.#queue[this.#queueHead++]!;
      if (!waiter.settled) return waiter;
    }
    return undefined;
  }

  /** Marks a waiter as done (granted, timed out or aborted) and tidies up once nobody waits. */
  #settle(waiter: Waiter): void {
    waiter.settled = true;
    if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
    this.#waiting--;
    if (this.#waiting === 0) {
      this.#queue = [];
      this.#queueHead = 0;
      this.#clearDeadlineTimer();
    }
  }

  #armDeadlineTimer(dueAt: number): void {
    this.#clearDeadlineTimer();
    if (dueAt === Number.POSITIVE_INFINITY) return;
    this.#deadlineTimerDueAt = dueAt;
    this.#deadlineTimer = this.#clock.setTimeout(
      () => this.#expireWaiters(),
      Math.max(0, dueAt - this.#clock.now()),
    );
  }

  #clearDeadlineTimer(): void {
    if (this.#deadlineTimer) this.#clock.clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
    this.#deadlineTimerDueAt = Number.POSITIVE_INFINITY;
  }

  #expireWaiters(): void {
    this.#deadlineTimer = undefined;
    this.#deadlineTimerDueAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    let nextDeadline = Number.POSITIVE_INFINITY;
    for (let index = this.#queueHead; index < this.#queue.length; index++) {
      const waiter = this.#queue[index]!;
      if (waiter.settled) continue;
      if (waiter.deadline <= now) {
        this.#settle(waiter);
        waiter.reject(new MutexTimeoutError(waiter.timeoutMs));
      } else if (waiter.deadline < nextDeadline) {
        nextDeadline = waiter.deadline;
      }
    }
    if (this.#waiting > 0) this.#armDeadlineTimer(nextDeadline);
  }

  #armLeaseWatchdog(delayMs: number): void {
    this.#leaseTimer = this.#clock.setTimeout(() => this.#revokeExpiredLeases(), delayMs);
    this.#leaseTimer.unref?.();
  }

  #revokeExpiredLeases(): void {
    this.#leaseTimer = undefined;
    const now = this.#clock.now();
    let nextLeaseEnd = Number.POSITIVE_INFINITY;
    for (const grant of [...this.#holders]) {
      if (grant.leaseEndsAt <= now) {
        this.#logger.warn("Lock held past its lease; revoking it and granting the next waiter", {
          heldMs: now - grant.acquiredAt,
          maxHoldMs: this.#maxHoldMs,
        });
        this.#release(grant);
      } else if (grant.leaseEndsAt < nextLeaseEnd) {
        nextLeaseEnd = grant.leaseEndsAt;
      }
    }
    if (nextLeaseEnd !== Number.POSITIVE_INFINITY && !this.#leaseTimer) {
      this.#armLeaseWatchdog(nextLeaseEnd - now);
    }
  }
}

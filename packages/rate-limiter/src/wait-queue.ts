import type { Clock, TimerHandle } from "@beauvoir/core";
import { type RateLimitBucket, RateLimitExhaustedError, RateLimitedError } from "./errors.js";

/** @internal One `consume()` call waiting for its token. */
export interface Waiter {
  readonly workflowId: string;
  /** Latest time at which it may be granted, epoch ms (`Infinity`: none). */
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** @internal What the queue asks of the limiter. */
export interface WaitQueueHost {
  readonly clock: Clock;
  now(): number;
  /**
   * How long `workflowId` must wait at `now` (0: it may go; `Infinity`: never),
   * with the bucket that decides it.
   */
  waitOf(workflowId: string, now: number): { wait: number; bucket: RateLimitBucket };
  /** Takes the tokens of an allowed request. */
  take(workflowId: string, now: number): void;
}

/**
 * @internal The `consume()` waiters, first come, first served: each time the
 * queue is looked at (a timer at the earliest time anyone may go, any
 * `tryConsume()`, any recorded limit), waiters are granted in arrival order.
 * A waiter held back only by its own workflow bucket is passed over, since the
 * global token is of no use to it yet, and keeps its place. Waiters that can
 * never be served (a bucket that does not refill) or no longer within their
 * `maxWaitMs` are rejected as soon as that is known. One timer serves the
 * whole queue and exists only while someone waits.
 */
export class WaitQueue {
  readonly #host: WaitQueueHost;
  #waiters: Waiter[] = [];
  #timer: TimerHandle | undefined;

  /** @param host - the limiter. */
  constructor(host: WaitQueueHost) {
    this.#host = host;
  }

  /** Waiters in the queue. */
  get size(): number {
    return this.#waiters.length;
  }

  /** Waiters in the queue, and those of `workflowId` among them. */
  countAhead(workflowId: string): { all: number; sameWorkflow: number } {
    let sameWorkflow = 0;
    for (const waiter of this.#waiters) if (waiter.workflowId === workflowId) sameWorkflow++;
    return { all: this.#waiters.length, sameWorkflow };
  }

  /** Adds `waiter` at the end and serves whoever may go now. */
  enqueue(waiter: Waiter): void {
    this.#waiters.push(waiter);
    const { signal } = waiter;
    if (signal !== undefined) {
      waiter.onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index === -1) return;
        this.#waiters.splice(index, 1);
        waiter.onAbort = undefined;
        waiter.reject(signal.reason);
        if (this.#waiters.length === 0) this.#clearTimer();
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
    }
    this.drain(this.#host.now());
  }

  /** Grants, in order, every waiter that may go at `now`; rejects the hopeless; re-arms the timer. */
  drain(now: number): void {
    const host = this.#host;
    const waiters = this.#waiters;
    let kept = 0;
    let earliest = Number.POSITIVE_INFINITY;
    // Settling happens after the pass: a waiter's callbacks never see the queue half-compacted.
    const settled: Array<[Waiter, unknown]> = [];
    for (const waiter of waiters) {
      const { wait, bucket } = host.waitOf(waiter.workflowId, now);
      if (wait === 0) {
        host.take(waiter.workflowId, now);
        settled.push([waiter, undefined]);
      } else if (wait === Number.POSITIVE_INFINITY) {
        settled.push([waiter, new RateLimitExhaustedError(bucket, waiter.workflowId)]);
      } else if (now + wait > waiter.deadline) {
        settled.push([waiter, new RateLimitedError(wait, bucket, waiter.workflowId)]);
      } else {
        waiters[kept++] = waiter;
        if (wait < earliest) earliest = wait;
      }
    }
    waiters.length = kept;
    this.#clearTimer();
    if (kept > 0) this.#arm(earliest);
    for (const [waiter, error] of settled) {
      if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener("abort", waiter.onAbort);
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }

  /** Rejects every waiter with `error` and stops the timer. */
  rejectAll(error: unknown): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    this.#clearTimer();
    for (const waiter of waiters) {
      if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.reject(error);
    }
  }

  /** A normal (not unref'd) timer: an awaited wait keeps the process alive, as any would. */
  #arm(delayMs: number): void {
    this.#timer = this.#host.clock.setTimeout(() => {
      this.#timer = undefined;
      this.drain(this.#host.now());
    }, delayMs);
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

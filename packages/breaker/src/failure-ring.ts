/**
 * @internal The times of the last `capacity` countable failures. That is all the
 * threshold test needs to be exact: `capacity` failures fall within the window
 * exactly when the oldest of the last `capacity` does. Memory is bounded by the
 * threshold, never by the failure rate.
 */
export class FailureRing {
  readonly #capacity: number;
  // Grows up to `capacity`, then wraps: a large threshold costs nothing until used.
  #times: number[] = [];
  #oldest = 0;

  /** @param capacity - the failure threshold. */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Number of timestamps held (at most the capacity). */
  get size(): number {
    return this.#times.length;
  }

  /** Records a failure at `time`, dropping the oldest once full. */
  push(time: number): void {
    if (this.#times.length < this.#capacity) {
      this.#times.push(time);
      return;
    }
    this.#times[this.#oldest] = time;
    this.#oldest = (this.#oldest + 1) % this.#capacity;
  }

  /** Whether `capacity` failures happened less than `windowMs` before `now`. */
  isFullWithin(now: number, windowMs: number): boolean {
    return this.#times.length === this.#capacity && now - this.#times[this.#oldest]! < windowMs;
  }

  /** The held timestamps less than `windowMs` before `now`, oldest first. */
  within(now: number, windowMs: number): number[] {
    const ordered = [...this.#times.slice(this.#oldest), ...this.#times.slice(0, this.#oldest)];
    return ordered.filter((time) => now - time < windowMs);
  }

  /** Forgets every failure. */
  clear(): void {
    this.#times = [];
    this.#oldest = 0;
  }
}

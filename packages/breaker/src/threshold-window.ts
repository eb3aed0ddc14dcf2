import { FailureRing } from "./failure-ring.js";

/**
 * @internal The countable failures that count toward `failureThreshold`: the
 * last `threshold` of them, judged against the rolling window. The circuit
 * opens when `threshold` of them fall within `windowMs`.
 */
export class ThresholdWindow {
  readonly #threshold: number;
  readonly #windowMs: number;
  readonly #ring: FailureRing;

  /**
   * @param threshold - the `failureThreshold` option.
   * @param windowMs - the `rollingWindowMs` option.
   */
  constructor(threshold: number, windowMs: number) {
    this.#threshold = threshold;
    this.#windowMs = windowMs;
    this.#ring = new FailureRing(threshold);
  }

  /** Counts a failure at `now`; returns whether the threshold is now reached within the window. */
  record(now: number): boolean {
    this.#ring.push(now);
    return this.#ring.isFullWithin(now, this.#windowMs);
  }

  /** The counted failures still inside the window at `now`, oldest first. */
  counted(now: number): number[] {
    return this.#ring.within(now, this.#windowMs);
  }

  /**
   * Counts the failures of a saved snapshot that are still inside the window
   * at `now`, the last `threshold` of them.
   */
  load(timestamps: readonly number[], now: number): void {
    const recent = timestamps.filter((time) => now - time < this.#windowMs);
    for (const time of recent.slice(-this.#threshold)) this.#ring.push(time);
  }

  /** Forgets every counted failure. */
  clear(): void {
    this.#ring.clear();
  }
}

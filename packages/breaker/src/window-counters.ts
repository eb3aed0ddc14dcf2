/** @internal What a counter slot counts: the five failure classes, then these. */
export const SUCCESS_COUNTER = 5;
/** @internal */
export const REJECTION_COUNTER = 6;
const KINDS = 7;

/**
 * Resolution of the statistics: the window is cut into this many buckets, so
 * memory is fixed whatever the traffic.
 */
export const STATS_BUCKETS = 60;
const SLOTS = STATS_BUCKETS + 1;

/**
 * @internal Event counts over the rolling window, kept in time buckets of
 * `windowMs / 60`. Totals include the bucket that straddles the window's start,
 * so an event leaves the totals between `windowMs` and `windowMs * 61 / 60`
 * after it happened: statistics never under-count what the threshold saw.
 */
export class WindowCounters {
  readonly #width: number;
  // The bucket number each slot holds; NaN for a slot never used.
  readonly #buckets = new Float64Array(SLOTS).fill(Number.NaN);
  readonly #counts = new Float64Array(SLOTS * KINDS);
  // The bucket written last, so the common case (same bucket) skips the arithmetic.
  #lastStart = Number.POSITIVE_INFINITY;
  #lastEnd = Number.NEGATIVE_INFINITY;
  #lastBase = 0;

  /** @param windowMs - length of the rolling window. */
  constructor(windowMs: number) {
    this.#width = windowMs / STATS_BUCKETS;
  }

  /** Counts one event of `kind` at `time`. */
  add(kind: number, time: number): void {
    if (time >= this.#lastStart && time < this.#lastEnd) {
      this.#counts[this.#lastBase + kind]!++;
      return;
    }
    const bucket = Math.floor(time / this.#width);
    const slot = ((bucket % SLOTS) + SLOTS) % SLOTS;
    const base = slot * KINDS;
    if (this.#buckets[slot] !== bucket) {
      this.#buckets[slot] = bucket;
      this.#counts.fill(0, base, base + KINDS);
    }
    this.#lastStart = bucket * this.#width;
    this.#lastEnd = (bucket + 1) * this.#width;
    this.#lastBase = base;
    this.#counts[base + kind]!++;
  }

  /** Totals per kind over the window ending at `now`. */
  totals(now: number): number[] {
    const current = Math.floor(now / this.#width);
    const totals: number[] = new Array(KINDS).fill(0);
    for (let slot = 0; slot < SLOTS; slot++) {
      const bucket = this.#buckets[slot]!;
      if (!(bucket <= current && bucket >= current - STATS_BUCKETS)) continue;
      for (let kind = 0; kind < KINDS; kind++) totals[kind]! += this.#counts[slot * KINDS + kind]!;
    }
    return totals;
  }
}

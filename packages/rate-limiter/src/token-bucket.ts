/**
 * Token-bucket arithmetic shared by the global bucket and every workflow
 * bucket. The state is a plain object so a million workflow buckets cost one
 * small object each, not a class instance with its own copy of the rates.
 *
 * Credit is counted in "token-milliseconds per hour": one token is
 * {@link TOKEN} units and a bucket refilling `r` tokens per hour gains `r`
 * units per millisecond. With whole-number capacities, rates and clock
 * readings, every value stays a whole number, so `retryAfterMs` is exact:
 * after that many milliseconds the token is there, one millisecond earlier it
 * is not.
 *
 * @internal
 */

/** Units in one token: the milliseconds in an hour. */
export const TOKEN = 3_600_000;

/** The mutable part of a bucket. */
export interface BucketState {
  /** Credit in units (see {@link TOKEN}). */
  credit: number;
  /** Clock reading at which `credit` was last brought up to date. */
  updatedAt: number;
}

/** The fixed part of a bucket, derived from its options. */
export interface BucketRate {
  /** Capacity in units. */
  readonly capacityUnits: number;
  /** Units gained per millisecond (= tokens per hour). */
  readonly unitsPerMs: number;
}

/** @returns the rate of a bucket holding `capacity` tokens and gaining `refillPerHour`. */
export function bucketRate(capacity: number, refillPerHour: number): BucketRate {
  return { capacityUnits: capacity * TOKEN, unitsPerMs: refillPerHour };
}

/**
 * Brings `state` up to `now`: `min(capacity, credit + elapsed * rate)`. A clock
 * that stepped backwards adds nothing and moves the reference point back, so
 * the time before the step is not counted twice.
 */
export function refill(state: BucketState, rate: BucketRate, now: number): void {
  const elapsed = now - state.updatedAt;
  if (elapsed > 0 && state.credit < rate.capacityUnits) {
    const credit = state.credit + elapsed * rate.unitsPerMs;
    state.credit = Math.min(credit, rate.capacityUnits);
  }
  state.updatedAt = now;
}

/**
 * @returns the fewest whole milliseconds after `state.updatedAt` at which the
 * bucket holds a token, computed with the same expression {@link refill} uses
 * so that the answer agrees with it even when values are not whole.
 */
export function msUntilToken(state: BucketState, rate: BucketRate): number {
  const { credit } = state;
  if (credit >= TOKEN) return 0;
  let wait = Math.ceil((TOKEN - credit) / rate.unitsPerMs);
  // Past 2^53 a float cannot tell wait from wait - 1; such waits are centuries anyway.
  if (!(wait < Number.MAX_SAFE_INTEGER)) return wait;
  while (credit + wait * rate.unitsPerMs < TOKEN) wait++;
  while (wait > 1 && credit + (wait - 1) * rate.unitsPerMs >= TOKEN) wait--;
  return wait;
}

/** @returns whether the bucket would be full at `now`, without changing it. */
export function isFullAt(state: BucketState, rate: BucketRate, now: number): boolean {
  const elapsed = now > state.updatedAt ? now - state.updatedAt : 0;
  return state.credit + elapsed * rate.unitsPerMs >= rate.capacityUnits;
}

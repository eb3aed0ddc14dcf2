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
  /**
   * When the bucket was last found short: the clock reading at which it will
   * hold a token again. Until then a refusal needs no arithmetic. 0 when unknown.
   */
  readyAt: number;
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

/**
 * Brings `state` up to `now` and tells how long until it holds a token.
 * @returns 0 when it holds one now, else the exact wait in milliseconds.
 */
export function waitForToken(state: BucketState, rate: BucketRate, now: number): number {
  // The cached answer holds as long as nothing was taken or added since, which
  // is the case while the bucket is short; a clock that stepped back voids it.
  if (now < state.readyAt && now >= state.updatedAt) return Math.ceil(state.readyAt - now);
  refill(state, rate, now);
  if (state.credit >= TOKEN) return 0;
  const wait = msUntilToken(state, rate);
  state.readyAt = now + wait;
  return wait;
}

/** @returns whether the bucket would be full at `now`, without changing it. */
export function isFullAt(state: BucketState, rate: BucketRate, now: number): boolean {
  const elapsed = now > state.updatedAt ? now - state.updatedAt : 0;
  return state.credit + elapsed * rate.unitsPerMs >= rate.capacityUnits;
}

/**
 * @returns how long after `now` the bucket will have handed out `count` more
 * tokens, taken one by one as they come: 0 when `count` tokens are there now,
 * `Infinity` when the bucket never refills and holds fewer. An estimate for
 * a queue of waiters, rounded up to the millisecond.
 */
export function msUntilTokens(
  state: BucketState,
  rate: BucketRate,
  now: number,
  count: number,
): number {
  const elapsed = now > state.updatedAt ? now - state.updatedAt : 0;
  const credit = Math.min(rate.capacityUnits, state.credit + elapsed * rate.unitsPerMs);
  const missing = count * TOKEN - credit;
  if (missing <= 0) return 0;
  if (rate.unitsPerMs === 0) return Number.POSITIVE_INFINITY;
  return Math.ceil(missing / rate.unitsPerMs);
}

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BucketState,
  bucketRate,
  isFullAt,
  msUntilToken,
  refill,
  TOKEN,
  waitForToken,
} from "./token-bucket.js";

const state = (credit: number, updatedAt = 0): BucketState => ({ credit, updatedAt, readyAt: 0 });
const rate = (unitsPerMs: number) => ({ capacityUnits: TOKEN, unitsPerMs });

describe("token-bucket arithmetic", () => {
  it("refills by elapsed × rate, capped at capacity", () => {
    const bucket = state(0);
    const perSecond = bucketRate(2, 3_600); // one token a second
    refill(bucket, perSecond, 1_500);
    expect(bucket.credit).toBe(1.5 * TOKEN);
    refill(bucket, perSecond, 10_000);
    expect(bucket.credit).toBe(2 * TOKEN);
  });

  it("adds nothing for a clock that stepped back, and re-anchors on it", () => {
    const bucket = state(0, 5_000);
    refill(bucket, rate(3_600), 4_000);
    expect(bucket).toMatchObject({ credit: 0, updatedAt: 4_000 });
    expect(isFullAt(state(TOKEN / 2, 5_000), rate(3_600), 4_000)).toBe(false);
    expect(isFullAt(state(TOKEN, 5_000), rate(3_600), 4_000)).toBe(true);
  });

  it("rounds the wait down when floating point overshoots (credit 3599999.9, rate 0.1)", () => {
    // (TOKEN - credit) / rate is 1.0000000009 in floats, but one millisecond is enough.
    const bucket = state(3_599_999.9);
    expect(Math.ceil((TOKEN - bucket.credit) / 0.1)).toBe(2);
    expect(msUntilToken(bucket, rate(0.1))).toBe(1);
  });

  it("rounds the wait up when floating point undershoots", () => {
    const bucket = state(826_229.782_089_281_2);
    const slow = rate(3.899_399_503_819_567e-9);
    const naive = Math.ceil((TOKEN - bucket.credit) / slow.unitsPerMs);
    expect(bucket.credit + naive * slow.unitsPerMs).toBeLessThan(TOKEN);
    const wait = msUntilToken(bucket, slow);
    expect(bucket.credit + wait * slow.unitsPerMs).toBeGreaterThanOrEqual(TOKEN);
    expect(bucket.credit + (wait - 1) * slow.unitsPerMs).toBeLessThan(TOKEN);
  });

  it("needs no wait when a token is there", () => {
    expect(msUntilToken(state(TOKEN), rate(1))).toBe(0);
  });

  it("returns a wait past 2^53 without looping (a rate of almost nothing)", () => {
    expect(msUntilToken(state(0), rate(1e-300))).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
  });

  it("gives the fewest milliseconds that suffice, for any credit and rate", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: TOKEN, maxExcluded: true, noNaN: true }),
        fc.double({ min: 1e-6, max: 1e7, noNaN: true }),
        (credit, unitsPerMs) => {
          const wait = msUntilToken(state(credit), rate(unitsPerMs));
          expect(wait).toBeGreaterThanOrEqual(1);
          expect(credit + wait * unitsPerMs).toBeGreaterThanOrEqual(TOKEN);
          if (wait > 1) expect(credit + (wait - 1) * unitsPerMs).toBeLessThan(TOKEN);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("remembers when a short bucket is ready, until the clock steps back", () => {
    const bucket = state(0);
    const perSecond = rate(3_600);
    expect(waitForToken(bucket, perSecond, 0)).toBe(1_000);
    expect(bucket.readyAt).toBe(1_000);
    expect(waitForToken(bucket, perSecond, 400)).toBe(600);
    expect(bucket.updatedAt).toBe(0); // answered from memory, nothing recomputed
    expect(waitForToken(bucket, perSecond, 1_000)).toBe(0);
    bucket.credit = 0;
    bucket.updatedAt = 2_000;
    expect(waitForToken(bucket, perSecond, 2_000)).toBe(1_000);
    // The clock steps back to before the last update: recompute from there.
    expect(waitForToken(bucket, perSecond, 1_500)).toBe(1_000);
    expect(bucket.readyAt).toBe(2_500);
  });
});

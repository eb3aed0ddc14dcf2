import { ManualClock } from "@beauvoir/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assertWithinBudget } from "./__fixtures__/budget.js";
import { RateLimiter } from "./rate-limiter.js";

const START = 1_700_000_000_000;
const WORKFLOWS = ["a", "b", "c"] as const;

const bucketArbitrary = fc.record({
  capacity: fc.integer({ min: 1, max: 6 }),
  refillPerHour: fc.integer({ min: 360, max: 720_000 }), // a token every 5 ms to every 10 s
});

type Step =
  | { type: "advance"; ms: number }
  | { type: "consume"; workflow: (typeof WORKFLOWS)[number] }
  | { type: "limit"; kind: "primary" | "secondary"; retryAfterSec: number | undefined };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant("advance" as const),
      ms: fc.integer({ min: 0, max: 3_000 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant("consume" as const),
      workflow: fc.constantFrom(...WORKFLOWS),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant("limit" as const),
      kind: fc.constantFrom("primary" as const, "secondary" as const),
      retryAfterSec: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
    }),
  },
);

describe("RateLimiter properties", () => {
  it("never allows more than capacity + refill over any window, globally or per workflow", () => {
    fc.assert(
      fc.property(
        bucketArbitrary,
        bucketArbitrary,
        fc.array(stepArbitrary, { maxLength: 120 }),
        (global, perWorkflow, steps) => {
          const clock = new ManualClock(START);
          const limiter = new RateLimiter({
            clock,
            global,
            perWorkflow,
            secondaryDefaultWaitMs: 2_000,
          });
          const allowedAt: number[] = [];
          const allowedByWorkflow = new Map<string, number[]>(
            WORKFLOWS.map((workflow) => [workflow, []]),
          );
          for (const step of steps) {
            if (step.type === "advance") clock.advance(step.ms);
            else if (step.type === "limit")
              limiter.recordRateLimit("a", step.kind, step.retryAfterSec);
            else if (limiter.tryConsume(step.workflow).allowed) {
              allowedAt.push(clock.now());
              allowedByWorkflow.get(step.workflow)!.push(clock.now());
            }
          }
          limiter.shutdown();
          assertWithinBudget(allowedAt, global.capacity, global.refillPerHour, "global");
          for (const [workflow, times] of allowedByWorkflow) {
            assertWithinBudget(times, perWorkflow.capacity, perWorkflow.refillPerHour, workflow);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("retryAfterMs is exact: refused one millisecond earlier, allowed at that time", () => {
    fc.assert(
      fc.property(
        bucketArbitrary,
        bucketArbitrary,
        fc.array(stepArbitrary, { maxLength: 60 }),
        fc.constantFrom(...WORKFLOWS),
        (global, perWorkflow, steps, probe) => {
          const clock = new ManualClock(START);
          const limiter = new RateLimiter({
            clock,
            global,
            perWorkflow,
            secondaryDefaultWaitMs: 2_000,
          });
          for (const step of steps) {
            if (step.type === "advance") clock.advance(step.ms);
            else if (step.type === "limit")
              limiter.recordRateLimit("a", step.kind, step.retryAfterSec);
            else limiter.tryConsume(step.workflow);
          }
          // Drain until refused, then check the promised time.
          let verdict = limiter.tryConsume(probe);
          while (verdict.allowed) verdict = limiter.tryConsume(probe);
          const wait = verdict.retryAfterMs;
          expect(wait).toBeGreaterThanOrEqual(1);
          expect(Number.isInteger(wait)).toBe(true);
          clock.advance(wait - 1);
          expect(limiter.tryConsume(probe).allowed).toBe(false);
          clock.advance(1);
          expect(limiter.tryConsume(probe).allowed).toBe(true);
          limiter.shutdown();
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a refused tryConsume changes nothing: extra refused calls never alter later answers", () => {
    fc.assert(
      fc.property(
        bucketArbitrary,
        bucketArbitrary,
        fc.array(
          fc.tuple(stepArbitrary, fc.option(fc.constantFrom(...WORKFLOWS), { nil: undefined })),
          { maxLength: 100 },
        ),
        (global, perWorkflow, steps) => {
          const clockA = new ManualClock(START);
          const clockB = new ManualClock(START);
          const plain = new RateLimiter({ clock: clockA, global, perWorkflow });
          const probed = new RateLimiter({ clock: clockB, global, perWorkflow });
          for (const [step, probe] of steps) {
            if (probe !== undefined && probed.tryConsume(probe).allowed) {
              // An allowed probe really spends tokens: mirror it so both stay comparable.
              expect(plain.tryConsume(probe).allowed).toBe(true);
            }
            if (step.type === "advance") {
              clockA.advance(step.ms);
              clockB.advance(step.ms);
            } else if (step.type === "limit") {
              plain.recordRateLimit("a", step.kind, step.retryAfterSec);
              probed.recordRateLimit("a", step.kind, step.retryAfterSec);
            } else {
              expect(probed.tryConsume(step.workflow)).toEqual(plain.tryConsume(step.workflow));
            }
          }
          plain.shutdown();
          probed.shutdown();
        },
      ),
      { numRuns: 300 },
    );
  });

  it("backoff stays within ±25 % of min(maxMs, baseMs * 2^attempts) and above any block", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 0, max: 120_000 }),
        fc.integer({ min: 0, max: 30 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
        (baseMs, extra, attempts, random, retryAfterSec) => {
          const maxMs = baseMs + extra;
          const limiter = new RateLimiter({
            clock: new ManualClock(START),
            backoff: { baseMs, maxMs },
            random: () => random,
          });
          for (let index = 0; index < attempts; index++) limiter.getBackoffMs("w");
          if (retryAfterSec !== undefined) limiter.recordRateLimit("w", "secondary", retryAfterSec);
          const wait = limiter.getBackoffMs("w");
          const exponential = Math.min(maxMs, baseMs * 2 ** attempts);
          const floor = retryAfterSec === undefined ? 0 : retryAfterSec * 1000;
          expect(wait).toBeGreaterThanOrEqual(Math.max(floor, Math.floor(exponential * 0.75)));
          expect(wait).toBeLessThanOrEqual(Math.max(floor, Math.ceil(exponential * 1.25)));
          limiter.shutdown();
        },
      ),
      { numRuns: 500 },
    );
  });
});

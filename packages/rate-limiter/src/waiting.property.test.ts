import { type Clock, ManualClock, type TimerHandle } from "@beauvoir/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assertWithinBudget } from "./__fixtures__/budget.js";
import { RateLimiter } from "./rate-limiter.js";

const HOUR = 3_600_000;
const START = 1_700_000_000_000;
const WORKFLOWS = ["a", "b", "c"] as const;

type Workflow = (typeof WORKFLOWS)[number];
type Step =
  | { type: "advance"; ms: number }
  | { type: "try"; workflow: Workflow }
  | {
      type: "wait";
      workflow: Workflow;
      maxWaitMs: number | undefined;
      abortAfter: number | undefined;
    }
  | { type: "limit"; kind: "primary" | "secondary"; retryAfterSec: number | undefined }
  | { type: "quota"; remaining: number; resetInSec: number }
  | { type: "restart" };

const bucketArbitrary = fc.record({
  capacity: fc.integer({ min: 1, max: 4 }),
  // 0 is a bucket that never refills; otherwise a token every 5 ms to every 10 s.
  refillPerHour: fc.oneof(fc.constant(0), fc.integer({ min: 360, max: 720_000 })),
});

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant("advance" as const),
      ms: fc.integer({ min: 0, max: 3_000 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant("try" as const),
      workflow: fc.constantFrom(...WORKFLOWS),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant("wait" as const),
      workflow: fc.constantFrom(...WORKFLOWS),
      maxWaitMs: fc.option(fc.integer({ min: 0, max: 5_000 }), { nil: undefined }),
      abortAfter: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
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
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant("quota" as const),
      remaining: fc.integer({ min: 0, max: 20 }),
      resetInSec: fc.integer({ min: 1, max: 10 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("restart" as const) }) },
);

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A manual clock that stops at every timer it fires and lets promise callbacks
 * run there, so a waiter granted by a timer is seen at the time it was granted.
 */
class SteppingClock implements Clock {
  readonly #base = new ManualClock(START);
  readonly #due = new Map<TimerHandle, number>();
  now(): number {
    return this.#base.now();
  }
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const handle: TimerHandle = this.#base.setTimeout(() => {
      this.#due.delete(handle);
      callback();
    }, delayMs);
    this.#due.set(handle, this.#base.now() + Math.max(0, delayMs));
    return handle;
  }
  clearTimeout(handle: TimerHandle): void {
    this.#due.delete(handle);
    this.#base.clearTimeout(handle);
  }
  async advance(ms: number): Promise<void> {
    const target = this.#base.now() + ms;
    for (;;) {
      const next = Math.min(...this.#due.values());
      if (!(next <= target)) break;
      this.#base.advance(Math.max(0, next - this.#base.now()));
      await flush();
    }
    this.#base.advance(target - this.#base.now());
    await flush();
  }
}

describe("consume() waiters under random schedules (property)", () => {
  it("stay within budget, never send during a GitHub block, keep arrival order per workflow, and always settle", async () => {
    await fc.assert(
      fc.asyncProperty(
        bucketArbitrary,
        bucketArbitrary,
        fc.array(stepArbitrary, { maxLength: 80 }),
        async (global, perWorkflow, steps) => {
          const clock = new SteppingClock();
          const make = () =>
            new RateLimiter({
              clock,
              global,
              perWorkflow,
              secondaryDefaultWaitMs: 2_000,
              maxBlockMs: 20_000,
              cleanupIntervalMs: Number.POSITIVE_INFINITY,
              githubQuota: { paceBelowFraction: 0.5 },
            });
          let limiter = make();
          // Allowed times across restarts: a restarted limiter starts full, so
          // the budget is checked per limiter generation, blocks across them.
          let generation: { all: number[]; steps: number[]; byWorkflow: Map<string, number[]> } = {
            all: [],
            steps: [],
            byWorkflow: new Map(WORKFLOWS.map((name) => [name, []])),
          };
          const generations = [generation];
          /** [from, until) intervals in which GitHub said not to send, from just after the call. */
          const blocked: Array<[number, number, number]> = [];
          let stepIndex = 0;
          const granted = new Map<string, number[]>(WORKFLOWS.map((name) => [name, []]));
          const pending: Array<{
            settled: boolean;
            aborter: AbortController | undefined;
            abortAfter: number | undefined;
          }> = [];
          let nextId = 0;
          const allow = (workflow: string) => {
            generation.all.push(clock.now());
            generation.steps.push(stepIndex);
            generation.byWorkflow.get(workflow)!.push(clock.now());
          };

          for (const step of steps) {
            stepIndex++;
            switch (step.type) {
              case "advance":
                await clock.advance(step.ms);
                break;
              case "try":
                if (limiter.tryConsume(step.workflow).allowed) allow(step.workflow);
                break;
              case "wait": {
                const id = nextId++;
                const aborter = step.abortAfter === undefined ? undefined : new AbortController();
                const record = { settled: false, aborter, abortAfter: step.abortAfter };
                pending.push(record);
                const owner = limiter;
                const currentGeneration = generation;
                owner
                  .consume(step.workflow, {
                    maxWaitMs: step.maxWaitMs,
                    signal: aborter?.signal,
                  })
                  .then(
                    () => {
                      record.settled = true;
                      currentGeneration.all.push(clock.now());
                      currentGeneration.steps.push(stepIndex);
                      currentGeneration.byWorkflow.get(step.workflow)!.push(clock.now());
                      granted.get(step.workflow)!.push(id);
                    },
                    () => {
                      record.settled = true;
                    },
                  );
                break;
              }
              case "limit": {
                limiter.recordRateLimit("a", step.kind, step.retryAfterSec);
                if (step.retryAfterSec !== undefined && step.retryAfterSec > 0) {
                  blocked.push([stepIndex, clock.now(), clock.now() + step.retryAfterSec * 1000]);
                } else if (step.retryAfterSec === undefined && step.kind === "secondary") {
                  blocked.push([stepIndex, clock.now(), clock.now() + 2_000]);
                }
                break;
              }
              case "quota": {
                const resetAt = Math.ceil(clock.now() / 1000) + step.resetInSec;
                limiter.observeResponse({
                  status: 200,
                  headers: {
                    "x-ratelimit-limit": "20",
                    "x-ratelimit-remaining": String(step.remaining),
                    "x-ratelimit-reset": String(resetAt),
                  },
                });
                if (step.remaining === 0) blocked.push([stepIndex, clock.now(), resetAt * 1000]);
                break;
              }
              case "restart": {
                const saved = JSON.parse(JSON.stringify(limiter.exportBlocks())) as unknown;
                limiter.shutdown();
                limiter = make();
                limiter.restoreBlocks(saved);
                generation = {
                  all: [],
                  steps: [],
                  byWorkflow: new Map(WORKFLOWS.map((name) => [name, []])),
                };
                generations.push(generation);
                break;
              }
            }
            for (const record of pending) {
              if (record.aborter && record.abortAfter !== undefined && record.abortAfter-- === 0) {
                record.aborter.abort(new Error("gave up"));
              }
            }
            await flush();
          }
          // Long enough for any bucket that refills to serve every waiter, and any block to end.
          stepIndex++;
          await clock.advance(2 * HOUR);
          limiter.shutdown();
          await flush();

          expect(pending.every((record) => record.settled)).toBe(true);
          for (const { all, steps: allowedSteps, byWorkflow } of generations) {
            assertWithinBudget(all, global.capacity, global.refillPerHour, "global");
            for (const [workflow, times] of byWorkflow) {
              assertWithinBudget(times, perWorkflow.capacity, perWorkflow.refillPerHour, workflow);
            }
            all.forEach((time, index) => {
              for (const [recordedInStep, from, until] of blocked) {
                if (allowedSteps[index]! >= recordedInStep && time < until) {
                  throw new Error(`a request went at ${time} inside the block [${from}, ${until})`);
                }
              }
            });
          }
          for (const ids of granted.values()) {
            expect(ids).toEqual([...ids].sort((x, y) => x - y));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("consume() order (property)", () => {
  it("grants waiters in arrival order, whoever gives up or times out in between", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({
              type: fc.constant("advance" as const),
              ms: fc.integer({ min: 0, max: 2_500 }),
            }),
            fc.record({
              type: fc.constant("wait" as const),
              workflow: fc.constantFrom(...WORKFLOWS),
              maxWaitMs: fc.option(fc.integer({ min: 0, max: 6_000 }), { nil: undefined }),
              abort: fc.boolean(),
            }),
            fc.record({
              type: fc.constant("try" as const),
              workflow: fc.constantFrom(...WORKFLOWS),
            }),
          ),
          { maxLength: 60 },
        ),
        async (steps) => {
          const clock = new SteppingClock();
          const limiter = new RateLimiter({
            clock,
            global: { capacity: 1, refillPerHour: 3_600 },
            cleanupIntervalMs: Number.POSITIVE_INFINITY,
          });
          const granted: number[] = [];
          const aborters: AbortController[] = [];
          let id = 0;
          for (const step of steps) {
            if (step.type === "advance") await clock.advance(step.ms);
            else if (step.type === "try") limiter.tryConsume(step.workflow);
            else {
              const mine = id++;
              const aborter = new AbortController();
              if (step.abort) aborters.push(aborter);
              limiter
                .consume(step.workflow, { maxWaitMs: step.maxWaitMs, signal: aborter.signal })
                .then(
                  () => granted.push(mine),
                  () => {},
                );
              if (aborters.length > 2) aborters.shift()!.abort();
            }
            await flush();
          }
          await clock.advance(HOUR);
          expect(granted).toEqual([...granted].sort((x, y) => x - y));
          limiter.shutdown();
        },
      ),
      { numRuns: 300 },
    );
  });
});

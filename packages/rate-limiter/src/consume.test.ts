import { ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { settle, track } from "./__fixtures__/promise-state.js";
import { RateLimitExhaustedError, RateLimitedError } from "./errors.js";
import type { RateLimiterOptions } from "./options.js";
import { RateLimiter } from "./rate-limiter.js";

const START = 1_700_000_000_000;

function setup(options: RateLimiterOptions = {}) {
  const clock = new ManualClock(START);
  const limiter = new RateLimiter({
    clock,
    cleanupIntervalMs: Number.POSITIVE_INFINITY,
    ...options,
  });
  return { clock, limiter };
}

describe("consume() waits in order", () => {
  it("serves waiters first come, first served", async () => {
    const { clock, limiter } = setup({ global: { capacity: 1, refillPerHour: 3_600 } });
    limiter.tryConsume("warm-up");
    const order: string[] = [];
    const waiters = ["a", "b", "c", "d"].map((name) =>
      limiter.consume(name).then(() => order.push(name)),
    );
    for (let second = 0; second < 4; second++) {
      clock.advance(1_000);
      await settle();
    }
    await Promise.all(waiters);
    expect(order).toEqual(["a", "b", "c", "d"]);
  });

  it("a tryConsume() caller cannot take the token a waiter is due", async () => {
    const { clock, limiter } = setup({ global: { capacity: 1, refillPerHour: 3_600 } });
    limiter.tryConsume("w");
    const waiting = track(limiter.consume("waiter"));
    // The real clock fires timers late: someone polls at the exact refill time first.
    const now = { value: START };
    const stolen = new RateLimiter({
      now: () => now.value,
      clock,
      global: { capacity: 1, refillPerHour: 3_600 },
      cleanupIntervalMs: Number.POSITIVE_INFINITY,
    });
    stolen.tryConsume("w");
    const late = track(stolen.consume("waiter"));
    now.value += 1_000; // the token is there, the waiter's timer has not fired yet
    expect(stolen.tryConsume("poller")).toMatchObject({ allowed: false, bucket: "global" });
    await settle();
    expect(late).toMatchObject({ done: true, error: undefined });
    stolen.shutdown();

    clock.advance(1_000);
    await settle();
    expect(waiting).toMatchObject({ done: true, error: undefined });
    limiter.shutdown();
  });

  it("a later consume() does not jump the queue", async () => {
    const { clock, limiter } = setup({ global: { capacity: 1, refillPerHour: 3_600 } });
    limiter.tryConsume("w");
    const first = track(limiter.consume("first"));
    clock.advance(999);
    const second = track(limiter.consume("second"));
    clock.advance(1);
    await settle();
    expect(first.done).toBe(true);
    expect(second.done).toBe(false);
    clock.advance(1_000);
    await settle();
    expect(second.done).toBe(true);
  });

  it("a waiter held by its own workflow bucket does not hold up other workflows", async () => {
    const { clock, limiter } = setup({
      global: { capacity: 10, refillPerHour: 36_000 },
      perWorkflow: { capacity: 1, refillPerHour: 60 }, // a token a minute
    });
    limiter.tryConsume("slow");
    const slow = track(limiter.consume("slow"));
    const fast = track(limiter.consume("fast"));
    await settle();
    expect(fast.done).toBe(true);
    expect(slow.done).toBe(false);
    clock.advance(60_000);
    await settle();
    expect(slow.done).toBe(true);
  });

  it("takes nothing for a waiter that gave up, and leaves no timer behind", async () => {
    const { clock, limiter } = setup({ global: { capacity: 1, refillPerHour: 3_600 } });
    limiter.tryConsume("w");
    const controller = new AbortController();
    const gaveUp = track(limiter.consume("a", { signal: controller.signal }));
    const patient = track(limiter.consume("b"));
    controller.abort(new Error("stop"));
    await settle();
    expect((gaveUp.error as Error).message).toBe("stop");
    clock.advance(1_000);
    await settle();
    expect(patient).toMatchObject({ done: true, error: undefined });
    expect(clock.pendingTimers).toBe(0);
    expect(limiter.getRemainingTokens("a")).toEqual({ global: 0, workflow: 100 });
  });
});

describe("consume() and maxWaitMs", () => {
  it("counts the waiters ahead: rejects at once when its turn would come too late", async () => {
    const { clock, limiter } = setup({ global: { capacity: 1, refillPerHour: 3_600 } });
    limiter.tryConsume("w");
    const ahead = [track(limiter.consume("a")), track(limiter.consume("b"))];
    const error = await limiter
      .consume("c", { maxWaitMs: 2_500 })
      .catch((caught: unknown) => caught);
    expect(RateLimitedError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ retryAfterMs: 3_000, bucket: "global", workflowId: "c" });
    const fits = track(limiter.consume("d", { maxWaitMs: 3_000 }));
    clock.advance(3_000);
    await settle();
    expect(ahead.every((waiter) => waiter.done)).toBe(true);
    expect(fits).toMatchObject({ done: true, error: undefined });
  });

  it("rejects a waiter as soon as a block recorded meanwhile makes it wait past maxWaitMs", async () => {
    const { limiter, clock } = setup({ global: { capacity: 1, refillPerHour: 3_600 } });
    limiter.tryConsume("w");
    const bounded = track(limiter.consume("a", { maxWaitMs: 10_000 }));
    const unbounded = track(limiter.consume("b"));
    limiter.recordRateLimit("a", "secondary", 60);
    await settle();
    expect(RateLimitedError.isInstance(bounded.error)).toBe(true);
    expect(bounded.error).toMatchObject({ retryAfterMs: 60_000, bucket: "global" });
    expect(unbounded.done).toBe(false);
    clock.advance(60_000);
    await settle();
    expect(unbounded).toMatchObject({ done: true, error: undefined });
  });

  it("takes nothing when it refuses", async () => {
    const { limiter } = setup({ perWorkflow: { capacity: 1, refillPerHour: 1 } });
    limiter.tryConsume("w");
    await expect(limiter.consume("w", { maxWaitMs: 1_000 })).rejects.toMatchObject({
      code: "RATE_LIMITED",
    });
    expect(limiter.getRemainingTokens("w")).toEqual({ global: 499, workflow: 0 });
  });

  it("rejects an option that is not a signal", async () => {
    const { limiter } = setup();
    await expect(
      limiter.consume("w", { signal: "stop" as unknown as AbortSignal }),
    ).rejects.toThrow(TypeError);
    await expect(limiter.consume(7 as unknown as string)).rejects.toThrow(TypeError);
  });
});

describe("a bucket that never refills (refillPerHour: 0)", () => {
  it("is accepted, gives its capacity once, then refuses with retryAfterMs Infinity", () => {
    const { clock, limiter } = setup({ global: { capacity: 2, refillPerHour: 0 } });
    expect(limiter.tryConsume("a").allowed).toBe(true);
    expect(limiter.tryConsume("b").allowed).toBe(true);
    expect(limiter.tryConsume("c")).toEqual({
      allowed: false,
      retryAfterMs: Number.POSITIVE_INFINITY,
      bucket: "global",
    });
    clock.advance(365 * 24 * 3_600_000);
    expect(limiter.tryConsume("c").allowed).toBe(false);
  });

  it("consume() refuses at once with RateLimitExhaustedError instead of hanging", async () => {
    const { clock, limiter } = setup({ perWorkflow: { capacity: 1, refillPerHour: 0 } });
    await limiter.consume("w");
    const error = await limiter.consume("w").catch((caught: unknown) => caught);
    expect(RateLimitExhaustedError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      code: "RATE_LIMIT_EXHAUSTED",
      bucket: "workflow",
      workflowId: "w",
    });
    expect(clock.pendingTimers).toBe(0);
    await expect(limiter.consume("other")).resolves.toBeUndefined();
  });

  it("a waiter behind the last token is refused once that token is taken", async () => {
    const { clock, limiter } = setup({
      global: { capacity: 1, refillPerHour: 0 },
    });
    limiter.recordRateLimit("w", "secondary", 10);
    const first = track(limiter.consume("a"));
    const second = track(limiter.consume("b"));
    await settle();
    expect(first.done || second.done).toBe(false);
    clock.advance(10_000);
    await settle();
    expect(first).toMatchObject({ done: true, error: undefined });
    expect(RateLimitExhaustedError.isInstance(second.error)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it("waits out a block when a token is there", async () => {
    const { clock, limiter } = setup({ global: { capacity: 1, refillPerHour: 0 } });
    limiter.recordRateLimit("w", "secondary", 5);
    const waiting = track(limiter.consume("w"));
    clock.advance(5_000);
    await settle();
    expect(waiting).toMatchObject({ done: true, error: undefined });
  });

  it("keeps a used workflow bucket that never refills instead of evicting it full", () => {
    const { clock, limiter } = setup({
      perWorkflow: { capacity: 1, refillPerHour: 0 },
      idleEvictionMs: 1_000,
    });
    limiter.tryConsume("w");
    clock.advance(10_000);
    expect(limiter.cleanup()).toBe(0);
    expect(limiter.tryConsume("w").allowed).toBe(false);
  });
});

import { type Clock, ManualClock, type TimerHandle } from "@beauvoir/core";
import { describe, expect, it, vi } from "vitest";
import { settle, track } from "./__fixtures__/promise-state.js";
import { RateLimitedError, RateLimiterShutDownError } from "./errors.js";
import { RATE_LIMITER_DEFAULTS, type RateLimiterOptions } from "./options.js";
import { RateLimiter } from "./rate-limiter.js";

const HOUR = 3_600_000;
/** Some wall-clock time, so epoch-second reset headers make sense. */
const START = 1_700_000_000_000;

function setup(options: RateLimiterOptions = {}) {
  const clock = new ManualClock(START);
  const limiter = new RateLimiter({ clock, ...options });
  return { clock, limiter };
}

describe("defaults", () => {
  it("lets 100 requests through per workflow and 500 in all, then names the short bucket", () => {
    const { limiter } = setup();
    for (let index = 0; index < 100; index++) expect(limiter.tryConsume("a").allowed).toBe(true);
    // 100 per hour: the next token comes after 36 s.
    expect(limiter.tryConsume("a")).toEqual({
      allowed: false,
      retryAfterMs: 36_000,
      bucket: "workflow",
    });
    for (const workflow of ["b", "c", "d", "e"]) {
      for (let index = 0; index < 100; index++)
        expect(limiter.tryConsume(workflow).allowed).toBe(true);
    }
    // 500 per hour: the next global token comes after 7.2 s.
    expect(limiter.tryConsume("f")).toEqual({
      allowed: false,
      retryAfterMs: 7_200,
      bucket: "global",
    });
    limiter.shutdown();
  });

  it("keeps the default of an option given as undefined (process.env.X, exactOptionalPropertyTypes code)", () => {
    const { limiter } = setup({
      global: { capacity: undefined, refillPerHour: undefined },
      perWorkflow: { capacity: 2, refillPerHour: undefined },
      backoff: { baseMs: undefined, maxMs: undefined },
      cleanupIntervalMs: undefined,
    });
    expect(limiter.tryConsume("a").allowed).toBe(true);
    expect(limiter.tryConsume("a").allowed).toBe(true);
    // Two tokens, refilled at the default 100 per hour: the next one in 36 s.
    expect(limiter.tryConsume("a")).toEqual({
      allowed: false,
      retryAfterMs: 36_000,
      bucket: "workflow",
    });
    limiter.shutdown();
  });

  it("are frozen, with the design's values", () => {
    expect(Object.isFrozen(RATE_LIMITER_DEFAULTS)).toBe(true);
    expect(Object.isFrozen(RATE_LIMITER_DEFAULTS.global)).toBe(true);
    expect(RATE_LIMITER_DEFAULTS).toEqual({
      global: { capacity: 500, refillPerHour: 500 },
      perWorkflow: { capacity: 100, refillPerHour: 100 },
      idleEvictionMs: 3_600_000,
      cleanupIntervalMs: 60_000,
      backoff: { baseMs: 1_000, maxMs: 60_000 },
      secondaryDefaultWaitMs: 60_000,
      maxBlockMs: 3_600_000,
      githubQuota: { paceBelowFraction: 0.1, resources: ["core"] },
    });
  });
});

describe("token refill", () => {
  it("refills continuously at refillPerHour and gives the exact wait", () => {
    const { clock, limiter } = setup({ perWorkflow: { capacity: 2, refillPerHour: 7 } });
    expect(limiter.tryConsume("w").allowed).toBe(true);
    expect(limiter.tryConsume("w").allowed).toBe(true);
    const wait = Math.ceil(HOUR / 7); // 514_286 ms
    expect(limiter.tryConsume("w")).toEqual({
      allowed: false,
      retryAfterMs: wait,
      bucket: "workflow",
    });
    clock.advance(wait - 1);
    expect(limiter.tryConsume("w")).toEqual({
      allowed: false,
      retryAfterMs: 1,
      bucket: "workflow",
    });
    clock.advance(1);
    expect(limiter.tryConsume("w").allowed).toBe(true);
  });

  it("never holds more than capacity, however long it was idle", () => {
    const { clock, limiter } = setup({ global: { capacity: 3, refillPerHour: 3 } });
    clock.advance(10 * HOUR);
    for (let index = 0; index < 3; index++)
      expect(limiter.tryConsume(`w${index}`).allowed).toBe(true);
    expect(limiter.tryConsume("w9")).toMatchObject({ allowed: false, bucket: "global" });
  });

  it("adds nothing when the clock steps backwards, and counts from the new reading", () => {
    let now = START;
    const limiter = new RateLimiter({
      now: () => now,
      global: { capacity: 1, refillPerHour: 3_600 },
    });
    expect(limiter.tryConsume("w").allowed).toBe(true);
    now -= 60_000;
    expect(limiter.tryConsume("w")).toEqual({
      allowed: false,
      retryAfterMs: 1_000,
      bucket: "global",
    });
    now += 999;
    expect(limiter.tryConsume("w").allowed).toBe(false);
    now += 1;
    expect(limiter.tryConsume("w").allowed).toBe(true);
    limiter.shutdown();
  });

  it("reports whole tokens left without taking any", () => {
    const { clock, limiter } = setup({
      global: { capacity: 10, refillPerHour: 3_600 },
      perWorkflow: { capacity: 4, refillPerHour: 3_600 },
    });
    expect(limiter.getRemainingTokens("w")).toEqual({ global: 10, workflow: 4 });
    limiter.tryConsume("w");
    limiter.tryConsume("w");
    expect(limiter.getRemainingTokens("w")).toEqual({ global: 8, workflow: 2 });
    expect(limiter.getRemainingTokens()).toEqual({ global: 8, workflow: 4 });
    clock.advance(1_500); // 1.5 tokens back
    expect(limiter.getRemainingTokens("w")).toEqual({ global: 9, workflow: 3 });
    expect(limiter.getRemainingTokens("w")).toEqual({ global: 9, workflow: 3 });
  });
});

describe("global and per-workflow buckets", () => {
  it("refuses with bucket 'global' when the shared bucket is empty", () => {
    const { limiter } = setup({ global: { capacity: 3, refillPerHour: 60 } });
    for (const workflow of ["a", "b", "c"]) expect(limiter.tryConsume(workflow).allowed).toBe(true);
    expect(limiter.tryConsume("d")).toEqual({
      allowed: false,
      retryAfterMs: 60_000,
      bucket: "global",
    });
  });

  it("keeps one busy workflow from starving the others", () => {
    const { limiter } = setup({ perWorkflow: { capacity: 2, refillPerHour: 1 } });
    expect(limiter.tryConsume("busy").allowed).toBe(true);
    expect(limiter.tryConsume("busy").allowed).toBe(true);
    expect(limiter.tryConsume("busy")).toMatchObject({ allowed: false, bucket: "workflow" });
    expect(limiter.tryConsume("quiet").allowed).toBe(true);
  });

  it("when both are short, waits for the later one and names it", () => {
    const { limiter } = setup({
      global: { capacity: 1, refillPerHour: 60 }, // a token a minute
      perWorkflow: { capacity: 1, refillPerHour: 6 }, // a token every 10 minutes
    });
    expect(limiter.tryConsume("a").allowed).toBe(true);
    expect(limiter.tryConsume("a")).toEqual({
      allowed: false,
      retryAfterMs: 600_000,
      bucket: "workflow",
    });

    const other = setup({
      global: { capacity: 1, refillPerHour: 6 },
      perWorkflow: { capacity: 1, refillPerHour: 60 },
    }).limiter;
    expect(other.tryConsume("a").allowed).toBe(true);
    expect(other.tryConsume("a")).toEqual({
      allowed: false,
      retryAfterMs: 600_000,
      bucket: "global",
    });
  });

  it("a refusal by the workflow bucket takes nothing from the global one", () => {
    const { limiter } = setup({
      global: { capacity: 5, refillPerHour: 1 },
      perWorkflow: { capacity: 1, refillPerHour: 1 },
    });
    expect(limiter.tryConsume("a").allowed).toBe(true);
    for (let index = 0; index < 100; index++) expect(limiter.tryConsume("a").allowed).toBe(false);
    // Four global tokens are still there, for four other workflows.
    for (const workflow of ["b", "c", "d", "e"])
      expect(limiter.tryConsume(workflow).allowed).toBe(true);
    expect(limiter.tryConsume("f")).toMatchObject({ allowed: false, bucket: "global" });
  });

  it("a refusal by the global bucket takes nothing from the workflow's", () => {
    const { clock, limiter } = setup({
      global: { capacity: 3, refillPerHour: 3_600 }, // a token a second
      perWorkflow: { capacity: 5, refillPerHour: 1 },
    });
    for (let index = 0; index < 3; index++) expect(limiter.tryConsume("a").allowed).toBe(true);
    for (let index = 0; index < 50; index++) {
      expect(limiter.tryConsume("a")).toMatchObject({ allowed: false, bucket: "global" });
    }
    expect(limiter.getRemainingTokens("a").workflow).toBe(2);
    clock.advance(2_000);
    expect(limiter.tryConsume("a").allowed).toBe(true);
    expect(limiter.tryConsume("a").allowed).toBe(true);
    expect(limiter.tryConsume("a")).toMatchObject({ allowed: false, bucket: "workflow" });
  });

  it("makes a workflow's bucket on its first allowed request, not on a refusal", () => {
    const { limiter } = setup({ global: { capacity: 1, refillPerHour: 1 } });
    expect(limiter.trackedWorkflows).toBe(0);
    expect(limiter.tryConsume("first").allowed).toBe(true);
    expect(limiter.trackedWorkflows).toBe(1);
    expect(limiter.tryConsume("second").allowed).toBe(false);
    expect(limiter.trackedWorkflows).toBe(1);
  });

  it("rejects a workflow id that is not a string", () => {
    const { limiter } = setup();
    expect(() => limiter.tryConsume(42 as unknown as string)).toThrow(TypeError);
    expect(() => limiter.getBackoffMs(undefined as unknown as string)).toThrow(TypeError);
  });
});

describe("recordRateLimit", () => {
  it("primary with a reset time blocks every workflow until then, without spending tokens", () => {
    const { clock, limiter } = setup();
    const resetAtEpochSec = START / 1000 + 900;
    limiter.recordRateLimit("a", "primary", undefined, resetAtEpochSec);
    expect(limiter.blockedUntil).toBe(resetAtEpochSec * 1000);
    expect(limiter.tryConsume("a")).toEqual({
      allowed: false,
      retryAfterMs: 900_000,
      bucket: "global",
    });
    expect(limiter.tryConsume("b")).toEqual({
      allowed: false,
      retryAfterMs: 900_000,
      bucket: "global",
    });
    clock.advance(899_999);
    expect(limiter.tryConsume("b")).toEqual({ allowed: false, retryAfterMs: 1, bucket: "global" });
    clock.advance(1);
    expect(limiter.blockedUntil).toBeNull();
    expect(limiter.tryConsume("b").allowed).toBe(true);
    expect(limiter.getRemainingTokens().global).toBe(499);
  });

  it("primary with neither time empties the global bucket, which then refills normally", () => {
    const { clock, limiter } = setup({ global: { capacity: 10, refillPerHour: 3_600 } });
    limiter.recordRateLimit("a", "primary");
    expect(limiter.blockedUntil).toBeNull();
    expect(limiter.getRemainingTokens().global).toBe(0);
    expect(limiter.tryConsume("a")).toEqual({
      allowed: false,
      retryAfterMs: 1_000,
      bucket: "global",
    });
    clock.advance(1_000);
    expect(limiter.tryConsume("a").allowed).toBe(true);
  });

  it("primary with neither time recomputes a wait already promised for a half-empty bucket", () => {
    const { clock, limiter } = setup({ global: { capacity: 1, refillPerHour: 3_600 } });
    expect(limiter.tryConsume("a").allowed).toBe(true);
    clock.advance(500);
    expect(limiter.tryConsume("a")).toMatchObject({ retryAfterMs: 500 });
    limiter.recordRateLimit("a", "primary");
    expect(limiter.tryConsume("a")).toMatchObject({ retryAfterMs: 1_000 });
    clock.advance(999);
    expect(limiter.tryConsume("a").allowed).toBe(false);
    clock.advance(1);
    expect(limiter.tryConsume("a").allowed).toBe(true);
  });

  it("secondary with retry-after blocks for exactly that long", () => {
    const { clock, limiter } = setup();
    limiter.recordRateLimit("a", "secondary", 30);
    expect(limiter.tryConsume("z")).toEqual({
      allowed: false,
      retryAfterMs: 30_000,
      bucket: "global",
    });
    clock.advance(29_999);
    expect(limiter.tryConsume("z").allowed).toBe(false);
    clock.advance(1);
    expect(limiter.tryConsume("z").allowed).toBe(true);
  });

  it("secondary with no time given blocks for at least a minute (or secondaryDefaultWaitMs)", () => {
    const { limiter } = setup();
    limiter.recordRateLimit("a", "secondary");
    expect(limiter.tryConsume("a")).toEqual({
      allowed: false,
      retryAfterMs: 60_000,
      bucket: "global",
    });
    const custom = setup({ secondaryDefaultWaitMs: 5_000 }).limiter;
    custom.recordRateLimit("a", "secondary");
    expect(custom.tryConsume("a")).toMatchObject({ retryAfterMs: 5_000 });
  });

  it("takes the later of retry-after and the reset time", () => {
    const { limiter } = setup();
    limiter.recordRateLimit("a", "secondary", 10, START / 1000 + 20);
    expect(limiter.tryConsume("a")).toMatchObject({ retryAfterMs: 20_000 });
    const other = setup().limiter;
    other.recordRateLimit("a", "primary", 40, START / 1000 + 20);
    expect(other.tryConsume("a")).toMatchObject({ retryAfterMs: 40_000 });
  });

  it("never shortens a longer block, and lengthens a shorter one", () => {
    const { limiter } = setup();
    limiter.recordRateLimit("a", "secondary", 120);
    limiter.recordRateLimit("b", "secondary", 10);
    expect(limiter.tryConsume("a")).toMatchObject({ retryAfterMs: 120_000 });
    limiter.recordRateLimit("b", "primary", undefined, START / 1000 + 300);
    expect(limiter.tryConsume("a")).toMatchObject({ retryAfterMs: 300_000 });
  });

  it("caps a block at maxBlockMs and ignores a reset time already past", () => {
    const { limiter } = setup();
    limiter.recordRateLimit("a", "primary", undefined, START / 1000 + 86_400 * 365);
    expect(limiter.tryConsume("a")).toMatchObject({ retryAfterMs: 3_600_000 });
    const custom = setup({ maxBlockMs: 90_000 }).limiter;
    custom.recordRateLimit("a", "secondary", 600);
    expect(custom.tryConsume("a")).toMatchObject({ retryAfterMs: 90_000 });
    const past = setup().limiter;
    past.recordRateLimit("a", "primary", undefined, START / 1000 - 60);
    expect(past.blockedUntil).toBeNull();
    expect(past.tryConsume("a").allowed).toBe(true);
  });

  it("reports the short workflow bucket when it outlasts the block, and the block otherwise", () => {
    const { limiter } = setup({ perWorkflow: { capacity: 1, refillPerHour: 100 } });
    expect(limiter.tryConsume("a").allowed).toBe(true);
    limiter.recordRateLimit("a", "secondary", 10);
    expect(limiter.tryConsume("a")).toEqual({
      allowed: false,
      retryAfterMs: 36_000,
      bucket: "workflow",
    });
    limiter.recordRateLimit("a", "secondary", 50);
    expect(limiter.tryConsume("a")).toEqual({
      allowed: false,
      retryAfterMs: 50_000,
      bucket: "global",
    });
  });

  it("warns through the logger with what it recorded", () => {
    const warn = vi.fn();
    const { limiter } = setup({ logger: { warn, debug: () => {} } });
    limiter.recordRateLimit("triage", "secondary", 30);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("rate limit"), {
      workflowId: "triage",
      kind: "secondary",
      retryAfterSec: 30,
      resetAtEpochSec: undefined,
      blockedForMs: 30_000,
    });
  });

  it("rejects an unknown kind and times that are not non-negative finite numbers", () => {
    const { limiter } = setup();
    expect(() => limiter.recordRateLimit("a", "tertiary" as "primary")).toThrow(TypeError);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, "30" as unknown as number]) {
      expect(() => limiter.recordRateLimit("a", "secondary", bad)).toThrow(/retryAfterSec/);
      expect(() => limiter.recordRateLimit("a", "primary", undefined, bad)).toThrow(
        /resetAtEpochSec/,
      );
    }
    expect(limiter.blockedUntil).toBeNull();
  });
});

describe("getBackoffMs", () => {
  it("doubles from baseMs up to maxMs with random = 0.5 (no jitter)", () => {
    const { limiter } = setup({ random: () => 0.5 });
    const waits = Array.from({ length: 9 }, () => limiter.getBackoffMs("a"));
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it("jitters by -25 % to +25 %", () => {
    const low = setup({ random: () => 0 }).limiter;
    expect([low.getBackoffMs("a"), low.getBackoffMs("a")]).toEqual([750, 1_500]);
    const high = setup({ random: () => 0.999_999 }).limiter;
    expect([high.getBackoffMs("a"), high.getBackoffMs("a")]).toEqual([1_250, 2_500]);
    const real = setup().limiter;
    for (let index = 0; index < 200; index++) {
      real.recordSuccess("r");
      const wait = real.getBackoffMs("r");
      expect(wait).toBeGreaterThanOrEqual(750);
      expect(wait).toBeLessThanOrEqual(1_250);
    }
  });

  it("starts over after recordSuccess, and counts each workflow apart", () => {
    const { limiter } = setup({ random: () => 0.5, backoff: { baseMs: 100, maxMs: 10_000 } });
    expect([
      limiter.getBackoffMs("a"),
      limiter.getBackoffMs("a"),
      limiter.getBackoffMs("a"),
    ]).toEqual([100, 200, 400]);
    expect(limiter.getBackoffMs("b")).toBe(100);
    limiter.recordSuccess("a");
    expect(limiter.getBackoffMs("a")).toBe(100);
    limiter.recordSuccess("never-seen");
    expect(limiter.trackedWorkflows).toBe(2);
  });

  it("never returns less than what is left of a retry-after or reset block", () => {
    const { clock, limiter } = setup({ random: () => 0 });
    limiter.recordRateLimit("a", "secondary", 30);
    expect(limiter.getBackoffMs("a")).toBe(30_000);
    clock.advance(20_000);
    expect(limiter.getBackoffMs("a")).toBe(10_000);
    clock.advance(10_000);
    expect(limiter.getBackoffMs("a")).toBe(3_000); // attempts 2: 4 s * 0.75
    limiter.recordRateLimit("a", "primary", undefined, START / 1000 + 600);
    expect(limiter.getBackoffMs("b")).toBe(570_000);
  });

  it("stays finite however many attempts, even with baseMs 0", () => {
    const { limiter } = setup({ random: () => 0.5 });
    for (let index = 0; index < 2_000; index++) limiter.getBackoffMs("a");
    expect(limiter.getBackoffMs("a")).toBe(60_000);
    const zero = setup({ backoff: { baseMs: 0, maxMs: 0 } }).limiter;
    for (let index = 0; index < 100; index++) expect(zero.getBackoffMs("a")).toBe(0);
  });
});

describe("idle cleanup", () => {
  it("evicts buckets idle for idleEvictionMs once full again, and counts them", () => {
    const { clock, limiter } = setup({ cleanupIntervalMs: Number.POSITIVE_INFINITY });
    limiter.tryConsume("old");
    limiter.tryConsume("other-old");
    clock.advance(HOUR - 1);
    limiter.tryConsume("recent");
    expect(limiter.cleanup()).toBe(0);
    clock.advance(1);
    expect(limiter.cleanup()).toBe(2);
    expect(limiter.trackedWorkflows).toBe(1);
    clock.advance(HOUR);
    expect(limiter.cleanup()).toBe(1);
    expect(limiter.trackedWorkflows).toBe(0);
  });

  it("keeps an idle bucket that has not refilled yet, so eviction never hands out free tokens", () => {
    const { clock, limiter } = setup({
      idleEvictionMs: 60_000,
      cleanupIntervalMs: Number.POSITIVE_INFINITY,
      perWorkflow: { capacity: 2, refillPerHour: 1 },
    });
    limiter.tryConsume("w");
    limiter.tryConsume("w");
    clock.advance(HOUR);
    expect(limiter.cleanup()).toBe(0);
    expect(limiter.tryConsume("w").allowed).toBe(true); // the one token refilled
    expect(limiter.tryConsume("w").allowed).toBe(false);
    clock.advance(2 * HOUR);
    expect(limiter.cleanup()).toBe(1);
  });

  it("gives an evicted workflow that comes back a new, full bucket", () => {
    const { clock, limiter } = setup({
      cleanupIntervalMs: Number.POSITIVE_INFINITY,
      perWorkflow: { capacity: 2, refillPerHour: 2 },
    });
    limiter.tryConsume("w");
    limiter.tryConsume("w");
    clock.advance(HOUR);
    expect(limiter.cleanup()).toBe(1);
    expect(limiter.tryConsume("w").allowed).toBe(true);
    expect(limiter.trackedWorkflows).toBe(1);
    expect(limiter.getRemainingTokens("w").workflow).toBe(1);
  });

  it("forgets an evicted workflow's backoff count", () => {
    const { clock, limiter } = setup({
      random: () => 0.5,
      cleanupIntervalMs: Number.POSITIVE_INFINITY,
    });
    limiter.getBackoffMs("w");
    limiter.getBackoffMs("w");
    expect(limiter.getBackoffMs("w")).toBe(4_000);
    clock.advance(HOUR);
    expect(limiter.cleanup()).toBe(1);
    expect(limiter.getBackoffMs("w")).toBe(1_000);
  });

  it("runs by itself every cleanupIntervalMs, on a timer that exists only while there are buckets", () => {
    const { clock, limiter } = setup({ idleEvictionMs: 90_000 });
    expect(clock.pendingTimers).toBe(0);
    limiter.tryConsume("w");
    expect(clock.pendingTimers).toBe(1);
    clock.advance(60_000);
    expect(limiter.trackedWorkflows).toBe(1);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(60_000);
    expect(limiter.trackedWorkflows).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    limiter.tryConsume("again");
    expect(clock.pendingTimers).toBe(1);
  });

  it("logs how many it evicted at debug level", () => {
    const debug = vi.fn();
    const { clock, limiter } = setup({
      logger: { warn: () => {}, debug },
      cleanupIntervalMs: Number.POSITIVE_INFINITY,
    });
    limiter.tryConsume("w");
    clock.advance(HOUR);
    limiter.cleanup();
    expect(debug).toHaveBeenCalledWith(expect.any(String), { evicted: 1, remaining: 0 });
  });

  it("unrefs its timer, made with the injected clock", () => {
    const unref = vi.fn();
    const base = new ManualClock(START);
    const delays: number[] = [];
    const clock: Clock = {
      now: () => base.now(),
      setTimeout: (callback, delayMs) => {
        delays.push(delayMs);
        const handle = base.setTimeout(callback, delayMs);
        return { ...handle, unref };
      },
      clearTimeout: (handle: TimerHandle) => base.clearTimeout(handle),
    };
    const limiter = new RateLimiter({ clock, cleanupIntervalMs: 45_000 });
    limiter.tryConsume("w");
    expect(delays).toEqual([45_000]);
    expect(unref).toHaveBeenCalledTimes(1);
    limiter.shutdown();
  });

  it("stops for good at shutdown", () => {
    const { clock, limiter } = setup();
    limiter.tryConsume("w");
    expect(clock.pendingTimers).toBe(1);
    limiter.shutdown();
    expect(clock.pendingTimers).toBe(0);
    limiter.tryConsume("x");
    expect(limiter.tryConsume("y").allowed).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    limiter.shutdown();
    clock.advance(2 * HOUR);
    expect(limiter.trackedWorkflows).toBe(3);
    expect(limiter.cleanup()).toBe(3);
  });

  it("keeps memory bounded over a million distinct workflow ids", () => {
    const clock = new ManualClock(START);
    const limiter = new RateLimiter({
      clock,
      global: { capacity: 2_000_000_000, refillPerHour: 2_000_000_000 },
      perWorkflow: { capacity: 1, refillPerHour: 3_600 }, // full again 1 s after use
      idleEvictionMs: 2_000,
      cleanupIntervalMs: 1_000,
    });
    let largest = 0;
    // 1,000 new ids every 100 ms: a million ids over 100 simulated seconds.
    let allowed = 0;
    for (let index = 0; index < 1_000_000; index++) {
      if (limiter.tryConsume(`workflow-${index}`).allowed) allowed++;
      if (index % 1_000 === 999) {
        clock.advance(100);
        largest = Math.max(largest, limiter.trackedWorkflows);
      }
    }
    expect(allowed).toBe(1_000_000);
    // At most the ids of the last idleEvictionMs + one cleanup interval are held.
    expect(largest).toBeLessThanOrEqual(31_000);
    expect(largest).toBeGreaterThanOrEqual(20_000);
    clock.advance(4_000);
    expect(limiter.trackedWorkflows).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe("consume", () => {
  it("resolves at once when a token is there", async () => {
    const { limiter } = setup();
    await limiter.consume("w");
    expect(limiter.getRemainingTokens("w").workflow).toBe(99);
  });

  it("waits exactly until the token is there, then takes it", async () => {
    const { clock, limiter } = setup({ perWorkflow: { capacity: 1, refillPerHour: 3_600 } });
    limiter.tryConsume("w");
    const waiting = track(limiter.consume("w"));
    await settle();
    clock.advance(999);
    await settle();
    expect(waiting.done).toBe(false);
    clock.advance(1);
    await settle();
    expect(waiting).toEqual({ done: true, error: undefined });
    expect(limiter.tryConsume("w")).toMatchObject({ allowed: false, retryAfterMs: 1_000 });
  });

  it("waits out a recorded block", async () => {
    const { clock, limiter } = setup();
    limiter.recordRateLimit("w", "secondary", 5);
    const waiting = track(limiter.consume("w"));
    clock.advance(4_999);
    await settle();
    expect(waiting.done).toBe(false);
    clock.advance(1);
    await settle();
    expect(waiting.done).toBe(true);
  });

  it("lets several waiters through one token at a time", async () => {
    const { clock, limiter } = setup({ perWorkflow: { capacity: 1, refillPerHour: 3_600 } });
    limiter.tryConsume("w");
    const waiters = [
      track(limiter.consume("w")),
      track(limiter.consume("w")),
      track(limiter.consume("w")),
    ];
    for (let second = 1; second <= 3; second++) {
      clock.advance(1_000);
      await settle();
      expect(waiters.filter((waiter) => waiter.done)).toHaveLength(second);
    }
  });

  it("stops waiting, takes nothing and leaves no timer when the signal aborts", async () => {
    const { clock, limiter } = setup({ global: { capacity: 1, refillPerHour: 1 } });
    limiter.tryConsume("w");
    const controller = new AbortController();
    const waiting = track(limiter.consume("w", { signal: controller.signal }));
    await settle();
    const timersWhileWaiting = clock.pendingTimers;
    controller.abort(new Error("user gave up"));
    await settle();
    expect(waiting.done).toBe(true);
    expect((waiting.error as Error).message).toBe("user gave up");
    expect(clock.pendingTimers).toBe(timersWhileWaiting - 1);
    clock.advance(HOUR);
    expect(limiter.tryConsume("w").allowed).toBe(true);
  });

  it("rejects at once with an already aborted signal", async () => {
    const { limiter } = setup();
    const reason = new Error("already");
    await expect(limiter.consume("w", { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(limiter.getRemainingTokens().global).toBe(500);
  });

  it("throws RateLimitedError, taking nothing, when the wait would exceed maxWaitMs", async () => {
    const { limiter } = setup({ perWorkflow: { capacity: 1, refillPerHour: 100 } });
    await limiter.consume("w", { maxWaitMs: 0 });
    const error = await limiter
      .consume("w", { maxWaitMs: 35_999 })
      .catch((caught: unknown) => caught);
    expect(RateLimitedError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      code: "RATE_LIMITED",
      retryAfterMs: 36_000,
      bucket: "workflow",
      workflowId: "w",
    });
    expect(limiter.getRemainingTokens().global).toBe(499);
  });

  it("waits when the wait fits in maxWaitMs", async () => {
    const { clock, limiter } = setup({ perWorkflow: { capacity: 1, refillPerHour: 100 } });
    limiter.tryConsume("w");
    const waiting = track(limiter.consume("w", { maxWaitMs: 36_000 }));
    clock.advance(36_000);
    await settle();
    expect(waiting).toEqual({ done: true, error: undefined });
  });

  it("rejects a bad maxWaitMs", async () => {
    const { limiter } = setup();
    await expect(limiter.consume("w", { maxWaitMs: -1 })).rejects.toThrow(RangeError);
    await expect(limiter.consume("w", { maxWaitMs: Number.NaN })).rejects.toThrow(/maxWaitMs/);
  });

  it("rejects waiters at shutdown, clears their timers, and refuses new waits", async () => {
    const { clock, limiter } = setup({ global: { capacity: 1, refillPerHour: 1 } });
    limiter.tryConsume("w");
    const first = track(limiter.consume("w"));
    const second = track(limiter.consume("w", { signal: new AbortController().signal }));
    await settle();
    limiter.shutdown();
    await settle();
    expect(RateLimiterShutDownError.isInstance(first.error)).toBe(true);
    expect(RateLimiterShutDownError.isInstance(second.error)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    await expect(limiter.consume("w")).rejects.toMatchObject({ code: "RATE_LIMITER_SHUT_DOWN" });
  });
});

describe("options", () => {
  it("takes time from `now` when given (the plan's form), timers from `clock`", () => {
    let now = START;
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({
      clock,
      now: () => now,
      perWorkflow: { capacity: 1, refillPerHour: 3_600 },
    });
    limiter.tryConsume("w");
    clock.advance(HOUR);
    expect(limiter.tryConsume("w").allowed).toBe(false);
    now += 1_000;
    expect(limiter.tryConsume("w").allowed).toBe(true);
    expect(clock.pendingTimers).toBe(1);
    limiter.shutdown();
  });

  it("works with no options at all, on the real clock", () => {
    const limiter = new RateLimiter();
    expect(limiter.tryConsume("w").allowed).toBe(true);
    expect(limiter.getRemainingTokens("w")).toEqual({ global: 499, workflow: 99 });
    limiter.shutdown();
  });

  it("merges partial bucket and backoff options with the defaults", () => {
    const { limiter } = setup({
      global: { capacity: 2 },
      backoff: { maxMs: 1_500 },
      random: () => 0.5,
    });
    limiter.tryConsume("a");
    limiter.tryConsume("b");
    expect(limiter.tryConsume("c")).toMatchObject({ retryAfterMs: 7_200, bucket: "global" });
    expect([limiter.getBackoffMs("a"), limiter.getBackoffMs("a")]).toEqual([1_000, 1_500]);
  });

  it("rejects bad values with an error naming the option", () => {
    const cases: [RateLimiterOptions, RegExp][] = [
      [{ global: { capacity: 0 } }, /global\.capacity/],
      [{ global: { capacity: 1.5 } }, /global\.capacity/],
      [{ perWorkflow: { capacity: 3e9 } }, /perWorkflow\.capacity/],
      [{ global: { refillPerHour: -1 } }, /global\.refillPerHour/],
      [{ perWorkflow: { refillPerHour: Number.POSITIVE_INFINITY } }, /perWorkflow\.refillPerHour/],
      [{ perWorkflow: { refillPerHour: Number.NaN } }, /perWorkflow\.refillPerHour/],
      [{ idleEvictionMs: -1 }, /idleEvictionMs/],
      [{ cleanupIntervalMs: 0 }, /cleanupIntervalMs/],
      [{ cleanupIntervalMs: Number.NaN }, /cleanupIntervalMs/],
      [{ backoff: { baseMs: -5 } }, /backoff\.baseMs/],
      [{ backoff: { maxMs: Number.POSITIVE_INFINITY } }, /backoff\.maxMs/],
      [{ backoff: { baseMs: 2_000, maxMs: 1_000 } }, /backoff\.maxMs/],
      [{ secondaryDefaultWaitMs: -1 }, /secondaryDefaultWaitMs/],
      [{ maxBlockMs: Number.NaN }, /maxBlockMs/],
    ];
    for (const [options, message] of cases) {
      expect(() => new RateLimiter(options), JSON.stringify(options)).toThrow(RangeError);
      expect(() => new RateLimiter(options)).toThrow(message);
    }
    const typeCases: [unknown, RegExp][] = [
      ["fast", /options/],
      [{ global: 5 }, /global/],
      [{ clock: {} }, /clock/],
      [{ now: 5 }, /now/],
      [{ random: "x" }, /random/],
      [{ logger: "loud" }, /logger/],
    ];
    for (const [options, message] of typeCases) {
      expect(() => new RateLimiter(options as RateLimiterOptions)).toThrow(TypeError);
      expect(() => new RateLimiter(options as RateLimiterOptions)).toThrow(message);
    }
  });

  it("accepts Infinity to keep every bucket and to turn the timer off", () => {
    const { clock, limiter } = setup({
      idleEvictionMs: Number.POSITIVE_INFINITY,
      cleanupIntervalMs: Number.POSITIVE_INFINITY,
    });
    limiter.tryConsume("w");
    expect(clock.pendingTimers).toBe(0);
    clock.advance(100 * HOUR);
    expect(limiter.cleanup()).toBe(0);
  });
});

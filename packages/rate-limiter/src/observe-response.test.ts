import { ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { RESET_AT_EPOCH_SEC } from "./__fixtures__/github-responses.js";
import type { RateLimiterOptions } from "./options.js";
import { RateLimiter } from "./rate-limiter.js";

const RESET_MS = RESET_AT_EPOCH_SEC * 1000;
/** 1,000 seconds before the reset. */
const NOW = RESET_MS - 1_000_000;

function setup(options: RateLimiterOptions = {}) {
  const clock = new ManualClock(NOW);
  const limiter = new RateLimiter({
    clock,
    cleanupIntervalMs: Number.POSITIVE_INFINITY,
    global: { capacity: 5_000, refillPerHour: 5_000 },
    perWorkflow: { capacity: 5_000, refillPerHour: 5_000 },
    ...options,
  });
  return { clock, limiter };
}

const quota = (remaining: number, extra: Record<string, string> = {}) => ({
  status: 200,
  headers: {
    "x-ratelimit-limit": "5000",
    "x-ratelimit-remaining": String(remaining),
    "x-ratelimit-reset": String(RESET_AT_EPOCH_SEC),
    "x-ratelimit-resource": "core",
    ...extra,
  },
});

describe("observeResponse", () => {
  it("changes nothing while plenty of the quota is left", () => {
    const { limiter } = setup();
    expect(limiter.observeResponse(quota(4_000))).toEqual({
      resource: "core",
      limit: 5_000,
      remaining: 4_000,
      resetAtEpochSec: RESET_AT_EPOCH_SEC,
    });
    for (let index = 0; index < 100; index++) expect(limiter.tryConsume("w").allowed).toBe(true);
  });

  it("blocks until x-ratelimit-reset once GitHub says none is left, before it says no", () => {
    const { clock, limiter } = setup();
    limiter.observeResponse(quota(0));
    expect(limiter.tryConsume("w")).toEqual({
      allowed: false,
      retryAfterMs: 1_000_000,
      bucket: "global",
    });
    expect(limiter.exportBlocks().blocks).toEqual([{ kind: "primary", until: RESET_MS }]);
    clock.advance(1_000_000);
    expect(limiter.tryConsume("w").allowed).toBe(true);
  });

  it("spreads what is left evenly over the time until the reset once it runs low", () => {
    const { clock, limiter } = setup();
    limiter.observeResponse(quota(9)); // 9 left, 1,000 s to go: one every 100 s
    const allowedAt: number[] = [];
    for (let second = 0; second < 1_000; second++) {
      if (limiter.tryConsume("w").allowed) allowedAt.push(clock.now() - NOW);
      clock.advance(1_000);
    }
    expect(allowedAt).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900].map((s) => s * 1000));
  });

  it("tells the exact wait while pacing", () => {
    const { clock, limiter } = setup();
    limiter.observeResponse(quota(3));
    const verdict = limiter.tryConsume("w");
    expect(verdict).toEqual({ allowed: false, retryAfterMs: 250_000, bucket: "global" });
    clock.advance(249_999);
    expect(limiter.tryConsume("w").allowed).toBe(false);
    clock.advance(1);
    expect(limiter.tryConsume("w").allowed).toBe(true);
  });

  it("counts its own requests down between answers, and trusts a lower answer", () => {
    const { limiter } = setup({ githubQuota: { paceBelowFraction: 0 } });
    limiter.observeResponse(quota(2));
    expect(limiter.tryConsume("w").allowed).toBe(true);
    expect(limiter.tryConsume("w").allowed).toBe(true);
    // Two sent, none left by our count: wait for the reset.
    expect(limiter.tryConsume("w")).toMatchObject({ allowed: false, retryAfterMs: 1_000_000 });
    // A late answer from before those two does not raise the count again.
    limiter.observeResponse(quota(2));
    expect(limiter.tryConsume("w").allowed).toBe(false);
  });

  it("starts afresh with the next window's answer", () => {
    const { clock, limiter } = setup();
    limiter.observeResponse(quota(0));
    clock.advance(1_000_000);
    limiter.observeResponse(
      quota(4_999, { "x-ratelimit-reset": String(RESET_AT_EPOCH_SEC + 3_600) }),
    );
    expect(limiter.tryConsume("w").allowed).toBe(true);
  });

  it("ignores other resources (search, graphql) unless asked to follow them", () => {
    const { limiter } = setup();
    expect(limiter.observeResponse(quota(0, { "x-ratelimit-resource": "search" }))).toBeNull();
    expect(limiter.tryConsume("w").allowed).toBe(true);
    const following = setup({ githubQuota: { resources: ["core", "search"] } }).limiter;
    following.observeResponse(quota(0, { "x-ratelimit-resource": "search" }));
    expect(following.tryConsume("w").allowed).toBe(false);
  });

  it("ignores responses without readable quota headers, and values that are not responses", () => {
    const { limiter } = setup();
    for (const value of [
      { status: 200, headers: {} },
      { status: 200, headers: { "x-ratelimit-remaining": "many", "x-ratelimit-reset": "1" } },
      new Response("ok"),
      "ok",
      undefined,
    ]) {
      expect(limiter.observeResponse(value)).toBeNull();
    }
    expect(limiter.tryConsume("w").allowed).toBe(true);
  });

  it("reads a fetch Response and a rate-limit failure's quota too, without recording the refusal", () => {
    const { limiter } = setup();
    const response = new Response("{}", quota(0));
    expect(limiter.observeResponse(response)).toMatchObject({ remaining: 0 });
    expect(limiter.blockedUntil).toBe(RESET_MS);
    const other = setup().limiter;
    other.observeResponse({
      ...quota(4_000),
      status: 403,
      headers: { ...quota(4_000).headers, "retry-after": "60" },
    });
    expect(other.blockedUntil).toBeNull();
  });

  it("takes undefined githubQuota fields as the defaults", () => {
    const { limiter } = setup({
      githubQuota: { paceBelowFraction: undefined, resources: undefined },
    });
    limiter.observeResponse(quota(3));
    expect(limiter.tryConsume("w")).toMatchObject({ allowed: false, retryAfterMs: 250_000 });
  });

  it("rejects bad githubQuota options", () => {
    expect(() => new RateLimiter({ githubQuota: { paceBelowFraction: 2 } })).toThrow(
      /githubQuota.paceBelowFraction/,
    );
    expect(
      () => new RateLimiter({ githubQuota: { resources: "core" as unknown as string[] } }),
    ).toThrow(/githubQuota.resources/);
  });
});

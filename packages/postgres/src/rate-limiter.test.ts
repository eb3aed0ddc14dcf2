import { RateLimitedError } from "@beauvoir/rate-limiter";
import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../test/support/test-database.js";
import type { PostgresRateLimiterOptions } from "./rate-limiter.js";

const db = useTestDatabase();
let scopes = 0;

async function limiters(count: number, options: Partial<PostgresRateLimiterOptions> = {}) {
  const scope = options.scope ?? `github:installation-${++scopes}`;
  const result = [];
  for (let index = 0; index < count; index++) {
    const backend = db.backend({ sealer: { enabled: false } });
    await backend.start();
    result.push(backend.createRateLimiter({ ...options, scope }));
  }
  return result;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("shared token buckets", () => {
  it("allows a burst of capacity, then refuses, and a refusal consumes nothing", async () => {
    const [limiter] = await limiters(1, { global: { capacity: 2, refillPerHour: 1_800 } });
    expect(await limiter!.tryConsume("triage")).toEqual({ allowed: true, bucket: null });
    expect(await limiter!.tryConsume("triage")).toEqual({ allowed: true, bucket: null });
    const refused = await limiter!.tryConsume("triage");
    expect(refused).toMatchObject({ allowed: false, bucket: "global" });
    if (refused.allowed) return;
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(2_000);
    for (let index = 0; index < 10; index++) {
      expect((await limiter!.tryConsume("triage")).allowed).toBe(false);
    }
    // Had the ten refusals taken anything, the bucket would be in debt.
    const again = (await limiter!.tryConsume("triage")) as { retryAfterMs: number };
    await sleep(again.retryAfterMs + 100);
    expect((await limiter!.tryConsume("triage")).allowed).toBe(true);
    expect((await limiter!.tryConsume("triage")).allowed).toBe(false);
  });

  it("shares the buckets between replicas of one scope, not between scopes", async () => {
    const [a, b] = await limiters(2, { global: { capacity: 3, refillPerHour: 0 } });
    const [other] = await limiters(1, { global: { capacity: 3, refillPerHour: 0 } });
    const verdicts = await Promise.all(
      Array.from({ length: 8 }, (_, index) => (index % 2 ? a! : b!).tryConsume(`w${index}`)),
    );
    expect(verdicts.filter((verdict) => verdict.allowed)).toHaveLength(3);
    expect((await other!.tryConsume("w0")).allowed).toBe(true);
  });

  it("keeps each workflow in its own bucket under the global one", async () => {
    const [limiter] = await limiters(1, { perWorkflow: { capacity: 1, refillPerHour: 0 } });
    expect((await limiter!.tryConsume("busy")).allowed).toBe(true);
    expect(await limiter!.tryConsume("busy")).toEqual({
      allowed: false,
      retryAfterMs: Number.POSITIVE_INFINITY,
      bucket: "workflow",
    });
    expect((await limiter!.tryConsume("quiet")).allowed).toBe(true);
  });

  it("treats a refill of 0 as a bucket that does not refill", async () => {
    const [limiter] = await limiters(1, { global: { capacity: 1, refillPerHour: 0 } });
    await limiter!.consume("w");
    const error = await limiter!.consume("w", { maxWaitMs: 60_000 }).catch((caught) => caught);
    expect(RateLimitedError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ retryAfterMs: Number.POSITIVE_INFINITY, bucket: "global" });
  });

  it("waits for a token with consume(), and stops waiting on abort", async () => {
    const [limiter] = await limiters(1, { global: { capacity: 1, refillPerHour: 36_000 } });
    await limiter!.consume("w");
    await limiter!.consume("w", { maxWaitMs: 30_000 });
    const controller = new AbortController();
    const waiting = limiter!.consume("w", { signal: controller.signal });
    controller.abort(new Error("shutting down"));
    await expect(waiting).rejects.toThrow("shutting down");
    await expect(limiter!.consume("w", { maxWaitMs: -1 })).rejects.toThrow(/maxWaitMs/);
  });
});

describe("blocks GitHub imposes", () => {
  it("holds back every replica of the scope until retry-after, on the database clock", async () => {
    const [a, b] = await limiters(2);
    await a!.recordRateLimit("triage", "secondary", 30);
    const verdict = await b!.tryConsume("other-workflow");
    expect(verdict).toMatchObject({ allowed: false, bucket: "global" });
    if (verdict.allowed) return;
    expect(verdict.retryAfterMs).toBeGreaterThan(25_000);
    expect(verdict.retryAfterMs).toBeLessThanOrEqual(30_000);
    const until = await b!.blockedUntil();
    const { rows } = await db.admin.query("SELECT now() AS now");
    expect(until!.getTime() - rows[0].now.getTime()).toBeGreaterThan(25_000);
    await expect(b!.consume("w", { maxWaitMs: 1_000 })).rejects.toMatchObject({
      code: "RATE_LIMITED",
    });
  });

  it("never shortens a longer block, takes the later of retry-after and reset, and caps it", async () => {
    const [limiter] = await limiters(1, { maxBlockMs: 120_000 });
    const { rows } = await db.admin.query("SELECT extract(epoch FROM now())::float8 AS now");
    const dbNow = rows[0].now as number;
    await limiter!.recordRateLimit("w", "primary", undefined, Math.ceil(dbNow + 60));
    await limiter!.recordRateLimit("w", "secondary", 5);
    let blocks = await limiter!.exportBlocks();
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toMatchObject({ kind: "primary", workflowId: "w" });
    expect(blocks[0]!.blockedUntil.getTime() / 1000).toBeCloseTo(Math.ceil(dbNow + 60), 0);
    await limiter!.recordRateLimit("w", "primary", 10, Math.ceil(dbNow + 86_400));
    blocks = await limiter!.exportBlocks();
    const capped = (blocks[0]!.blockedUntil.getTime() - blocks[0]!.recordedAt.getTime()) / 1000;
    expect(capped).toBeCloseTo(120, 0);
  });

  it("blocks a secondary limit without a time for the default wait, and empties the bucket on a bare primary", async () => {
    const [secondary] = await limiters(1, { secondaryDefaultWaitMs: 45_000 });
    await secondary!.recordRateLimit("w", "secondary");
    const blocked = (await secondary!.tryConsume("w")) as { retryAfterMs: number };
    expect(blocked.retryAfterMs).toBeGreaterThan(40_000);
    const [primary] = await limiters(1, { global: { capacity: 5, refillPerHour: 3_600 } });
    await primary!.recordRateLimit("w", "primary");
    expect(await primary!.tryConsume("w")).toMatchObject({ allowed: false, bucket: "global" });
    expect(await primary!.blockedUntil()).toBeNull();
  });

  it("reads GitHub's answers: a secondary limit with retry-after, a primary one, and not a 404", async () => {
    const [limiter] = await limiters(1);
    expect(
      await limiter!.recordGitHubRateLimit("w", {
        status: 403,
        headers: { "retry-after": "7" },
        body: { message: "You have exceeded a secondary rate limit" },
      }),
    ).toBe("secondary");
    expect(await limiter!.recordGitHubRateLimit("w", { status: 404, headers: {} })).toBeNull();
    const thrown = Object.assign(new Error("API rate limit exceeded"), {
      status: 403,
      response: { headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "4102444800" } },
    });
    expect(await limiter!.recordRateLimitFailure(thrown, "w")).toMatchObject({ kind: "primary" });
    expect(await limiter!.recordRateLimitFailure(new Error("ECONNRESET"))).toBeNull();
    // The later block (the primary limit's reset, capped) wins.
    expect((await limiter!.exportBlocks())[0]).toMatchObject({ kind: "primary" });
  });

  it("names bad options and arguments", async () => {
    const [limiter] = await limiters(1);
    const backend = db.backend();
    expect(() => backend.createRateLimiter({ scope: "" })).toThrow(/scope/);
    expect(() => backend.createRateLimiter({ scope: "s", global: { capacity: 0.5 } })).toThrow(
      /capacity/,
    );
    expect(() =>
      backend.createRateLimiter({ scope: "s", perWorkflow: { refillPerHour: -1 } }),
    ).toThrow(/refillPerHour/);
    expect(() => backend.createRateLimiter({ scope: "s", maxBlockMs: 0 })).toThrow(/maxBlockMs/);
    await expect(limiter!.tryConsume(1 as never)).rejects.toThrow(TypeError);
    await expect(limiter!.recordRateLimit("w", "tertiary" as never)).rejects.toThrow(TypeError);
    await expect(limiter!.recordRateLimit("w", "secondary", -5)).rejects.toThrow(/retryAfterSec/);
    await expect(limiter!.recordRateLimit("w", "primary", undefined, Number.NaN)).rejects.toThrow(
      /resetAtEpochSec/,
    );
  });
});

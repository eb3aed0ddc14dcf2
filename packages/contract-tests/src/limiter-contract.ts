import { describe, expect, it } from "vitest";
import { contractArguments } from "./contract-arguments.js";
import type { LimiterSubject } from "./subjects.js";

let scopes = 0;
const fresh = (label: string) => `contract-${label}-${++scopes}-${Date.now().toString(36)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const big = { capacity: 1_000, refillPerHour: 3_600_000 };

/** A GitHub secondary-rate-limit answer: 403, the message, `retry-after`. */
function secondaryLimit(retryAfterSec: number): unknown {
  return {
    status: 403,
    headers: { "retry-after": String(retryAfterSec) },
    message:
      "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    body: '{"message":"You have exceeded a secondary rate limit."}',
  };
}

/**
 * The limiter contract: a burst of `capacity`, then refusals that consume
 * nothing and say how long to wait (`Infinity` for a bucket that does not
 * refill); a workflow's own bucket apart from the others'; `consume` waits
 * within `maxWaitMs` or throws `RATE_LIMITED` taking nothing; a secondary
 * limit GitHub answered blocks for its `retry-after`; never more than
 * capacity + rate × elapsed. With `shared`, limiters on one scope share their
 * buckets and blocks (replicas on one token); without, each has its own.
 * @param makeSubject - called once per test.
 */
export function limiterContract(makeSubject: () => Promise<LimiterSubject>): void;
/**
 * The same suite, titled with the backend's name.
 * @param name - the backend, for the suite's title.
 * @param makeSubject - as for the untitled suite.
 */
export function limiterContract(name: string, makeSubject: () => Promise<LimiterSubject>): void;
export function limiterContract(
  first: string | (() => Promise<LimiterSubject>),
  second?: () => Promise<LimiterSubject>,
): void {
  const { name, makeSubject } = contractArguments(first, second);
  describe(`limiter contract: ${name}`, () => {
    it("allows a burst of capacity, then refuses without consuming, and says how long to wait", async () => {
      const subject = await makeSubject();
      const limiter = await subject.open({
        scope: fresh("burst"),
        global: { capacity: 3, refillPerHour: 3_600 },
        perWorkflow: big,
      });
      for (let index = 0; index < 3; index++) {
        expect(await limiter.tryConsume("w")).toMatchObject({ allowed: true });
      }
      const refused = await limiter.tryConsume("w");
      expect(refused).toMatchObject({ allowed: false, bucket: "global" });
      if (refused.allowed) return;
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(1_000);
      // Refusals took nothing: one token is back after one token's time.
      for (let index = 0; index < 5; index++) await limiter.tryConsume("w");
      await sleep(1_100);
      expect(await limiter.tryConsume("w")).toMatchObject({ allowed: true });
      expect(await limiter.tryConsume("w")).toMatchObject({ allowed: false });
    });

    it("keeps each workflow's bucket apart, and a bucket that does not refill says Infinity", async () => {
      const subject = await makeSubject();
      const limiter = await subject.open({
        scope: fresh("workflows"),
        global: big,
        perWorkflow: { capacity: 1, refillPerHour: 0 },
      });
      expect(await limiter.tryConsume("a")).toMatchObject({ allowed: true });
      expect(await limiter.tryConsume("a")).toEqual({
        allowed: false,
        retryAfterMs: Number.POSITIVE_INFINITY,
        bucket: "workflow",
      });
      expect(await limiter.tryConsume("b")).toMatchObject({ allowed: true });
    });

    it("waits for a token within maxWaitMs, and throws RATE_LIMITED taking nothing beyond it", async () => {
      const subject = await makeSubject();
      const limiter = await subject.open({
        scope: fresh("consume"),
        global: { capacity: 1, refillPerHour: 18_000 },
        perWorkflow: big,
      });
      await limiter.consume("w");
      const started = Date.now();
      await limiter.consume("w", { maxWaitMs: 2_000 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(100);
      await expect(limiter.consume("w", { maxWaitMs: 10 })).rejects.toMatchObject({
        code: "RATE_LIMITED",
      });
      await sleep(250);
      expect(await limiter.tryConsume("w")).toMatchObject({ allowed: true });
    });

    it("blocks after a secondary limit for its retry-after, for every limiter of the scope when shared", async () => {
      const subject = await makeSubject();
      const scope = fresh("block");
      const options = { scope, global: big, perWorkflow: big };
      const first = await subject.open(options);
      const second = await subject.open(options);
      await first.recordRateLimitFailure(secondaryLimit(1), "w");
      const refused = await first.tryConsume("w");
      expect(refused).toMatchObject({ allowed: false });
      if (!refused.allowed) expect(refused.retryAfterMs).toBeGreaterThan(500);
      const other = await second.tryConsume("w");
      expect(other.allowed).toBe(!subject.capabilities.shared);
      await sleep(1_200);
      expect(await first.tryConsume("w")).toMatchObject({ allowed: true });
    });

    it("never allows more than capacity + rate × elapsed, across all limiters of a scope (or of each, unshared)", async () => {
      const subject = await makeSubject();
      const scope = fresh("bound");
      const options = { scope, global: { capacity: 5, refillPerHour: 36_000 }, perWorkflow: big };
      const limiters = await Promise.all([subject.open(options), subject.open(options)]);
      const started = Date.now();
      let allowed = 0;
      await Promise.all(
        limiters.flatMap((limiter) =>
          Array.from({ length: 4 }, async (_, worker) => {
            while (Date.now() - started < 1_000) {
              if ((await limiter.tryConsume(`w${worker % 2}`)).allowed) allowed++;
              await sleep(1);
            }
          }),
        ),
      );
      const elapsedSeconds = (Date.now() - started) / 1000;
      const holders = subject.capabilities.shared ? 1 : limiters.length;
      expect(allowed).toBeGreaterThanOrEqual(5);
      expect(allowed).toBeLessThanOrEqual(holders * (5 + 10 * elapsedSeconds) + 1);
    });
  });
}

import { ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { githubAnswers, RESET_AT_EPOCH_SEC } from "./__fixtures__/github-responses.js";
import { fetchResponse, OctokitRequestError, plainAnswer } from "./__fixtures__/http-shapes.js";
import { readGitHubRateLimit } from "./github-rate-limit.js";
import { RateLimiter } from "./rate-limiter.js";

/** Ten minutes before the fixtures' reset time. */
const NOW = (RESET_AT_EPOCH_SEC - 600) * 1000;
const MINUTE = 60_000;

function setup() {
  const clock = new ManualClock(NOW);
  const limiter = new RateLimiter({ clock, cleanupIntervalMs: Number.POSITIVE_INFINITY });
  return { clock, limiter };
}

const shapes = {
  "a thrown Octokit RequestError": (answer: (typeof githubAnswers)[keyof typeof githubAnswers]) =>
    new OctokitRequestError(answer),
  "a fetch Response": fetchResponse,
  "a plain { status, headers }": plainAnswer,
};

describe("recordRateLimitFailure reads whatever a step throws or returns", () => {
  for (const [shape, make] of Object.entries(shapes)) {
    it(`${shape}: 403 with retry-after blocks every request for retry-after seconds`, () => {
      const { clock, limiter } = setup();
      const limit = limiter.recordRateLimitFailure(make(githubAnswers.forbiddenWithRetryAfter));
      expect(limit).toMatchObject({ kind: "secondary", retryAfterSec: 120, blockedForMs: 120_000 });
      expect(limiter.tryConsume("any")).toEqual({
        allowed: false,
        retryAfterMs: 120_000,
        bucket: "global",
      });
      clock.advance(120_000);
      expect(limiter.tryConsume("any").allowed).toBe(true);
    });

    it(`${shape}: 429 with retry-after blocks for retry-after seconds`, () => {
      const { limiter } = setup();
      expect(limiter.recordRateLimitFailure(make(githubAnswers.tooManyRequests))).toMatchObject({
        kind: "secondary",
        retryAfterSec: 30,
      });
      expect(limiter.blockedUntil).toBe(NOW + 30_000);
    });

    it(`${shape}: a primary limit blocks until x-ratelimit-reset`, () => {
      const { limiter } = setup();
      expect(limiter.recordRateLimitFailure(make(githubAnswers.primaryLimit))).toMatchObject({
        kind: "primary",
        resetAtEpochSec: RESET_AT_EPOCH_SEC,
        blockedForMs: 600_000,
      });
      expect(limiter.tryConsume("any")).toMatchObject({ allowed: false, retryAfterMs: 600_000 });
    });

    it(`${shape}: plain 403, 404, 422 and 5xx record nothing`, () => {
      const { limiter } = setup();
      for (const answer of [
        githubAnswers.plainForbidden,
        githubAnswers.notFound,
        githubAnswers.validationFailed,
        githubAnswers.serverError,
        githubAnswers.badGateway,
      ]) {
        expect(limiter.recordRateLimitFailure(make(answer))).toBeNull();
      }
      expect(limiter.blockedUntil).toBeNull();
      expect(limiter.exportBlocks().blocks).toEqual([]);
    });
  }

  it("finds the secondary-limit text in an Octokit error's body or message (403, no retry-after)", () => {
    const { limiter } = setup();
    const error = new OctokitRequestError(githubAnswers.secondaryMessage);
    expect(limiter.recordRateLimitFailure(error)).toMatchObject({
      kind: "secondary",
      blockedForMs: MINUTE,
    });
    const withoutData = new OctokitRequestError(githubAnswers.secondaryMessage);
    (withoutData.response as { data: unknown }).data = undefined;
    expect(setup().limiter.recordRateLimitFailure(withoutData)).toMatchObject({
      kind: "secondary",
    });
  });

  it("ignores what is not an HTTP answer: network errors, strings, nothing", () => {
    const { limiter } = setup();
    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    for (const value of [
      reset,
      new TypeError("fetch failed", { cause: reset }),
      "boom",
      null,
      undefined,
      42,
    ]) {
      expect(limiter.recordRateLimitFailure(value)).toBeNull();
    }
    expect(limiter.blockedUntil).toBeNull();
  });

  it("reads the status through a cause chain (a wrapped Octokit error)", () => {
    const { limiter } = setup();
    const wrapped = new Error("step failed", {
      cause: new OctokitRequestError(githubAnswers.tooManyRequests),
    });
    expect(limiter.recordRateLimitFailure(wrapped)).toMatchObject({ kind: "secondary" });
  });
});

describe("GitHub's guidance for a secondary limit without retry-after", () => {
  it("waits until x-ratelimit-reset when x-ratelimit-remaining is 0", () => {
    const { limiter } = setup();
    const answer = {
      ...githubAnswers.secondaryMessage,
      headers: { ...githubAnswers.secondaryMessage.headers, "x-ratelimit-remaining": "0" },
    };
    expect(limiter.recordRateLimitFailure(new OctokitRequestError(answer))).toMatchObject({
      kind: "secondary",
      resetAtEpochSec: RESET_AT_EPOCH_SEC,
      blockedForMs: 600_000,
    });
  });

  it("otherwise waits one minute, then twice as long on each repeat, up to maxBlockMs", () => {
    const { clock, limiter } = setup();
    const waits: number[] = [];
    for (let repeat = 0; repeat < 8; repeat++) {
      const limit = limiter.recordRateLimitFailure(
        new OctokitRequestError(githubAnswers.secondaryMessage),
      );
      waits.push(limit!.blockedForMs);
      // The retry goes out as soon as the block ends, and is refused again.
      clock.advance(limit!.blockedForMs);
    }
    expect(waits).toEqual([1, 2, 4, 8, 16, 32, 60, 60].map((minutes) => minutes * MINUTE));
  });

  const secondaryOn = (limiter: RateLimiter) => () =>
    limiter.recordRateLimitFailure(new OctokitRequestError(githubAnswers.secondaryMessage))!;

  it("starts over at one minute after a success is observed", () => {
    const { clock, limiter } = setup();
    const secondary = secondaryOn(limiter);
    expect(secondary().blockedForMs).toBe(MINUTE);
    clock.advance(MINUTE);
    expect(secondary().blockedForMs).toBe(2 * MINUTE);
    clock.advance(2 * MINUTE);
    limiter.observeResponse({ status: 200, headers: {} });
    expect(secondary().blockedForMs).toBe(MINUTE);
  });

  it("a success that arrives while the block runs (sent before it) does not end the streak", () => {
    const { clock, limiter } = setup();
    const secondary = secondaryOn(limiter);
    expect(secondary().blockedForMs).toBe(MINUTE);
    clock.advance(MINUTE / 2);
    limiter.observeResponse({ status: 200, headers: {} });
    clock.advance(MINUTE / 2);
    expect(secondary().blockedForMs).toBe(2 * MINUTE);
  });

  it("starts over at one minute when the last one is long past", () => {
    const { clock, limiter } = setup();
    const secondary = secondaryOn(limiter);
    expect(secondary().blockedForMs).toBe(MINUTE);
    clock.advance(MINUTE);
    expect(secondary().blockedForMs).toBe(2 * MINUTE);
    // As long again as the last wait after it ended: still a repeat.
    clock.advance(4 * MINUTE - 1);
    expect(secondary().blockedForMs).toBe(4 * MINUTE);
    clock.advance(4 * MINUTE + 4 * MINUTE);
    expect(secondary().blockedForMs).toBe(MINUTE);
  });

  it("a secondary limit with retry-after waits exactly that long and does not escalate", () => {
    const { clock, limiter } = setup();
    for (let repeat = 0; repeat < 3; repeat++) {
      const limit = limiter.recordRateLimitFailure(plainAnswer(githubAnswers.tooManyRequests));
      expect(limit!.blockedForMs).toBe(30_000);
      clock.advance(30_000);
    }
  });

  it("recordGitHubRateLimit and recordRateLimit escalate the same way", () => {
    const { clock, limiter } = setup();
    limiter.recordRateLimit("w", "secondary");
    expect(limiter.blockedUntil).toBe(NOW + MINUTE);
    clock.advance(MINUTE);
    limiter.recordRateLimit("w", "secondary");
    expect(limiter.blockedUntil).toBe(NOW + 3 * MINUTE);
  });
});

describe("readGitHubRateLimit", () => {
  it("reads a fetch Response's body (from a clone) when only the body tells", async () => {
    const response = fetchResponse(githubAnswers.secondaryMessage);
    expect(await readGitHubRateLimit(response)).toEqual({
      kind: "secondary",
      retryAfterSec: undefined,
      resetAtEpochSec: undefined,
    });
    // The caller can still read it.
    expect(await response.json()).toEqual(githubAnswers.secondaryMessage.body);
    expect(await readGitHubRateLimit(fetchResponse(githubAnswers.plainForbidden))).toBeNull();
  });

  it("answers from the headers when they suffice, and for other shapes", async () => {
    expect(await readGitHubRateLimit(fetchResponse(githubAnswers.primaryLimit))).toMatchObject({
      kind: "primary",
    });
    expect(
      await readGitHubRateLimit(new OctokitRequestError(githubAnswers.secondaryMessage)),
    ).toMatchObject({ kind: "secondary" });
    expect(await readGitHubRateLimit(new Error("no status"))).toBeNull();
    const used = fetchResponse(githubAnswers.secondaryMessage);
    await used.text();
    expect(await readGitHubRateLimit(used)).toBeNull();
  });
});

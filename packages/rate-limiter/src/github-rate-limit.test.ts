import { ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { githubAnswers, RESET_AT_EPOCH_SEC } from "./__fixtures__/github-responses.js";
import { parseGitHubRateLimit, recordGitHubRateLimit } from "./github-rate-limit.js";
import { RateLimiter } from "./rate-limiter.js";

/** Ten minutes before the fixtures' reset time. */
const NOW = (RESET_AT_EPOCH_SEC - 600) * 1000;

function limiterAt(now = NOW) {
  return new RateLimiter({
    clock: new ManualClock(now),
    cleanupIntervalMs: Number.POSITIVE_INFINITY,
  });
}

describe("parseGitHubRateLimit on GitHub's real answers", () => {
  it("429 with retry-after and the secondary message → secondary, for retry-after seconds", () => {
    expect(parseGitHubRateLimit(githubAnswers.tooManyRequests)).toEqual({
      kind: "secondary",
      retryAfterSec: 30,
      resetAtEpochSec: undefined,
    });
  });

  it("a bare 429 → secondary with no time (the limiter then waits a minute)", () => {
    expect(parseGitHubRateLimit(githubAnswers.bareTooManyRequests)).toEqual({
      kind: "secondary",
      retryAfterSec: undefined,
      resetAtEpochSec: undefined,
    });
  });

  it("403 with retry-after → secondary", () => {
    expect(parseGitHubRateLimit(githubAnswers.forbiddenWithRetryAfter)).toEqual({
      kind: "secondary",
      retryAfterSec: 120,
      resetAtEpochSec: undefined,
    });
  });

  it("403 with x-ratelimit-remaining 0 → primary, until x-ratelimit-reset", () => {
    expect(parseGitHubRateLimit(githubAnswers.primaryLimit)).toEqual({
      kind: "primary",
      retryAfterSec: undefined,
      resetAtEpochSec: RESET_AT_EPOCH_SEC,
    });
  });

  it("403 with the secondary-limit message → secondary; its reset header is ignored while quota remains", () => {
    expect(parseGitHubRateLimit(githubAnswers.secondaryMessage)).toEqual({
      kind: "secondary",
      retryAfterSec: undefined,
      resetAtEpochSec: undefined,
    });
    expect(parseGitHubRateLimit(githubAnswers.abuseDetection)).toEqual({
      kind: "secondary",
      retryAfterSec: 60,
      resetAtEpochSec: undefined,
    });
  });

  it("secondary message with remaining 0 → secondary until the reset (GitHub's rule)", () => {
    const answer = {
      ...githubAnswers.secondaryMessage,
      headers: { ...githubAnswers.secondaryMessage.headers, "x-ratelimit-remaining": "0" },
    };
    expect(parseGitHubRateLimit(answer)).toEqual({
      kind: "secondary",
      retryAfterSec: undefined,
      resetAtEpochSec: RESET_AT_EPOCH_SEC,
    });
  });

  it("reads the secondary-limit text as the breaker does (core's mentionsSecondaryRateLimit)", () => {
    const secondary = { kind: "secondary", retryAfterSec: undefined, resetAtEpochSec: undefined };
    for (const message of ["Abuse rate limits", "secondary-rate-limit", "SECONDARY\nRATE LIMIT"]) {
      expect(parseGitHubRateLimit({ status: 403, body: { message } }), message).toEqual(secondary);
      expect(parseGitHubRateLimit({ status: 403, message }), message).toEqual(secondary);
    }
    expect(parseGitHubRateLimit({ status: 403, body: "Resource not accessible" })).toBeNull();
  });

  it("plain 403, 404, 422 and 5xx are not rate limits", () => {
    for (const answer of [
      githubAnswers.plainForbidden,
      githubAnswers.notFound,
      githubAnswers.validationFailed,
      githubAnswers.serverError,
      githubAnswers.badGateway,
    ]) {
      expect(parseGitHubRateLimit(answer), String(answer.status)).toBeNull();
    }
    // A 5xx keeps being no rate limit whatever its headers say.
    expect(parseGitHubRateLimit({ status: 503, headers: { "retry-after": "5" } })).toBeNull();
    expect(
      parseGitHubRateLimit({ status: 200, headers: { "x-ratelimit-remaining": "0" } }),
    ).toBeNull();
  });
});

describe("parseGitHubRateLimit on the shapes clients hand out", () => {
  it("reads header names in any case from a plain object", () => {
    expect(
      parseGitHubRateLimit({
        status: 403,
        headers: { "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": String(RESET_AT_EPOCH_SEC) },
      }),
    ).toMatchObject({ kind: "primary", resetAtEpochSec: RESET_AT_EPOCH_SEC });
    expect(parseGitHubRateLimit({ status: 403, headers: { "Retry-After": " 7 " } })).toMatchObject({
      retryAfterSec: 7,
    });
  });

  it("reads a fetch Headers object", () => {
    const headers = new Headers({ "Retry-After": "15" });
    expect(parseGitHubRateLimit({ status: 403, headers })).toMatchObject({
      kind: "secondary",
      retryAfterSec: 15,
    });
  });

  it("reads Node's repeated headers (arrays) and Octokit's numbers", () => {
    expect(
      parseGitHubRateLimit({ status: 403, headers: { "retry-after": ["20", "40"] } }),
    ).toMatchObject({ retryAfterSec: 20 });
    expect(
      parseGitHubRateLimit({
        status: 403,
        headers: { "x-ratelimit-remaining": 0, "x-ratelimit-reset": RESET_AT_EPOCH_SEC },
      }),
    ).toMatchObject({ kind: "primary", resetAtEpochSec: RESET_AT_EPOCH_SEC });
  });

  it("reads Octokit's RequestError (response.headers, response.data)", () => {
    const error = Object.assign(new Error(githubAnswers.secondaryMessage.body.message), {
      status: 403,
      response: {
        status: 403,
        url: "https://api.github.com/repos/o/r/issues/1/comments",
        headers: { "x-ratelimit-remaining": "4986", "retry-after": "90" },
        data: githubAnswers.secondaryMessage.body,
      },
    });
    expect(parseGitHubRateLimit(error)).toEqual({
      kind: "secondary",
      retryAfterSec: 90,
      resetAtEpochSec: undefined,
    });
  });

  it("finds the secondary-limit text in a string body or, failing a body, in the error message", () => {
    expect(
      parseGitHubRateLimit({ status: 403, body: "You have exceeded a secondary rate limit." }),
    ).toMatchObject({ kind: "secondary" });
    expect(
      parseGitHubRateLimit({
        status: 403,
        message: "POST /repos/o/r/issues answered 403: You have exceeded a secondary rate limit",
      }),
    ).toMatchObject({ kind: "secondary" });
    expect(parseGitHubRateLimit({ status: 403, body: { errors: [] } })).toBeNull();
  });

  it("takes retry-after as an HTTP date too, as a time to wait for", () => {
    const date = new Date((RESET_AT_EPOCH_SEC + 30) * 1000).toUTCString();
    expect(parseGitHubRateLimit({ status: 429, headers: { "retry-after": date } })).toEqual({
      kind: "secondary",
      retryAfterSec: undefined,
      resetAtEpochSec: RESET_AT_EPOCH_SEC + 30,
    });
    // With remaining 0 as well, the later of the two times wins.
    expect(
      parseGitHubRateLimit({
        status: 403,
        headers: {
          "retry-after": new Date((RESET_AT_EPOCH_SEC - 30) * 1000).toUTCString(),
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": String(RESET_AT_EPOCH_SEC),
        },
      }),
    ).toMatchObject({ kind: "primary", resetAtEpochSec: RESET_AT_EPOCH_SEC });
  });

  it("ignores headers it cannot read instead of blocking on garbage", () => {
    expect(
      parseGitHubRateLimit({
        status: 403,
        headers: {
          "retry-after": "soon",
          "x-ratelimit-remaining": "none",
          "x-ratelimit-reset": "-1",
        },
      }),
    ).toBeNull();
    expect(
      parseGitHubRateLimit({
        status: 403,
        headers: { "retry-after": "1.5" },
      }),
    ).toBeNull();
    expect(
      parseGitHubRateLimit({
        status: 403,
        headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "later" },
      }),
    ).toEqual({ kind: "primary", retryAfterSec: undefined, resetAtEpochSec: undefined });
    expect(parseGitHubRateLimit({ status: 403 })).toBeNull();
    expect(parseGitHubRateLimit({ status: 403, headers: null as never })).toBeNull();
    expect(parseGitHubRateLimit(undefined as never)).toBeNull();
  });
});

describe("recordGitHubRateLimit", () => {
  it("blocks every workflow until x-ratelimit-reset on a primary limit", () => {
    const limiter = limiterAt();
    expect(recordGitHubRateLimit(limiter, "triage", githubAnswers.primaryLimit)).toBe("primary");
    expect(limiter.tryConsume("other")).toEqual({
      allowed: false,
      retryAfterMs: 600_000,
      bucket: "global",
    });
  });

  it("blocks for retry-after on a 429, and makes getBackoffMs wait at least that long", () => {
    const limiter = limiterAt();
    expect(recordGitHubRateLimit(limiter, "triage", githubAnswers.tooManyRequests)).toBe(
      "secondary",
    );
    expect(limiter.tryConsume("triage")).toMatchObject({ retryAfterMs: 30_000 });
    expect(limiter.getBackoffMs("triage")).toBe(30_000);
  });

  it("blocks for a minute on a secondary limit with no retry-after", () => {
    const limiter = limiterAt();
    expect(recordGitHubRateLimit(limiter, "triage", githubAnswers.secondaryMessage)).toBe(
      "secondary",
    );
    expect(limiter.tryConsume("triage")).toMatchObject({ retryAfterMs: 60_000 });
  });

  it("records nothing for answers that are not rate limits", () => {
    const limiter = limiterAt();
    for (const answer of [
      githubAnswers.plainForbidden,
      githubAnswers.notFound,
      githubAnswers.validationFailed,
      githubAnswers.serverError,
    ]) {
      expect(recordGitHubRateLimit(limiter, "triage", answer)).toBeNull();
    }
    expect(limiter.blockedUntil).toBeNull();
    expect(limiter.tryConsume("triage").allowed).toBe(true);
  });
});

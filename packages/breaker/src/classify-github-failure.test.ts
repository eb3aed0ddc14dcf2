import { describe, expect, it } from "vitest";
import {
  forbiddenAbuseDetection,
  forbiddenPlain,
  forbiddenPrimaryLimit,
  forbiddenSecondaryLimit,
  forbiddenWithRetryAfter,
  type GitHubResponseFixture,
  notFound,
  serverErrors,
  tooManyRequests,
  validationFailed,
} from "./__fixtures__/github-responses.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import { classifyGitHubFailure } from "./classify-github-failure.js";
import { mentionsSecondaryRateLimit } from "./index.js";

const classify = (
  fixture: GitHubResponseFixture,
  context?: Parameters<typeof classifyGitHubFailure>[3],
) => classifyGitHubFailure(fixture.status, fixture.headers, fixture.body, context);

describe("classifyGitHubFailure on responses as GitHub sends them", () => {
  it("429 is rate_limited", () => {
    expect(classify(tooManyRequests)).toBe("rate_limited");
  });

  it("429 stays rate_limited whatever the context says about the resource", () => {
    expect(classify(tooManyRequests, { resourceShouldExist: true })).toBe("rate_limited");
    expect(classifyGitHubFailure(429, {})).toBe("rate_limited");
  });

  it("403 with retry-after is rate_limited", () => {
    expect(classify(forbiddenWithRetryAfter)).toBe("rate_limited");
  });

  it("403 with x-ratelimit-remaining: 0 and x-ratelimit-reset is rate_limited", () => {
    expect(classify(forbiddenPrimaryLimit)).toBe("rate_limited");
  });

  it("403 whose body carries the documented secondary-rate-limit message is rate_limited", () => {
    // Quota left and no retry-after: only the body tells.
    expect(forbiddenSecondaryLimit.headers["x-ratelimit-remaining"]).toBe("4987");
    expect(forbiddenSecondaryLimit.headers["retry-after"]).toBeUndefined();
    expect(classify(forbiddenSecondaryLimit)).toBe("rate_limited");
  });

  it("403 with the older abuse-detection message is rate_limited", () => {
    expect(classify(forbiddenAbuseDetection)).toBe("rate_limited");
  });

  it("a plain 403 is transient, although access-control-expose-headers names the rate-limit headers", () => {
    expect(forbiddenPlain.headers["access-control-expose-headers"]).toContain("Retry-After");
    expect(classify(forbiddenPlain)).toBe("transient");
    expect(classifyGitHubFailure(403)).toBe("transient");
  });

  it("404 without context is expected", () => {
    expect(classify(notFound)).toBe("expected");
    expect(classify(notFound, {})).toBe("expected");
  });

  it("404 is expected when the resource need not exist and transient when it should", () => {
    expect(classify(notFound, { resourceShouldExist: false })).toBe("expected");
    expect(classify(notFound, { resourceShouldExist: true })).toBe("transient");
  });

  it("422 is permanent", () => {
    expect(classify(validationFailed)).toBe("permanent");
  });

  it.each(serverErrors.map((fixture) => [fixture.status, fixture]))(
    "%i is transient",
    (_status, fixture) => {
      expect(classify(fixture)).toBe("transient");
    },
  );

  it("any other status is transient", () => {
    expect(classifyGitHubFailure(401, { "x-ratelimit-remaining": "4999" })).toBe("transient");
    expect(classifyGitHubFailure(504)).toBe("transient");
    expect(classifyGitHubFailure(409)).toBe("transient");
  });
});

describe("classifyGitHubFailure details", () => {
  it("matches header names without regard to case, in every header shape", () => {
    expect(classifyGitHubFailure(403, { "Retry-After": "30" })).toBe("rate_limited");
    expect(classifyGitHubFailure(403, { "X-RateLimit-Remaining": "0" })).toBe("rate_limited");
    expect(classifyGitHubFailure(403, new Headers({ "X-RATELIMIT-REMAINING": "0" }))).toBe(
      "rate_limited",
    );
    // Node's IncomingHttpHeaders: numbers and arrays appear too.
    expect(classifyGitHubFailure(403, { "x-ratelimit-remaining": 0 })).toBe("rate_limited");
    expect(classifyGitHubFailure(403, { "retry-after": ["120"] })).toBe("rate_limited");
  });

  it("does not treat an empty retry-after or a non-zero remaining quota as a rate limit", () => {
    expect(classifyGitHubFailure(403, { "retry-after": "  " })).toBe("transient");
    expect(classifyGitHubFailure(403, { "x-ratelimit-remaining": "10" })).toBe("transient");
    expect(classifyGitHubFailure(403, { "x-ratelimit-remaining": undefined })).toBe("transient");
    expect(classifyGitHubFailure(403, { "x-ratelimit-remaining": Number.NaN })).toBe("transient");
    expect(classifyGitHubFailure(403, null)).toBe("transient");
  });

  it("reads the body as parsed JSON, text or bytes", () => {
    const text = JSON.stringify(forbiddenSecondaryLimit.body);
    expect(classifyGitHubFailure(403, {}, text)).toBe("rate_limited");
    expect(classifyGitHubFailure(403, {}, new TextEncoder().encode(text))).toBe("rate_limited");
    expect(classifyGitHubFailure(403, {}, Buffer.from(text))).toBe("rate_limited");
    expect(classifyGitHubFailure(403, {}, { message: 42 })).toBe("transient");
    expect(classifyGitHubFailure(403, {}, 42)).toBe("transient");
  });

  it("recognises the secondary-limit documentation URL on its own", () => {
    expect(
      mentionsSecondaryRateLimit({
        documentation_url:
          "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
      }),
    ).toBe(true);
    expect(mentionsSecondaryRateLimit({ documentation_url: "https://docs.github.com/rest" })).toBe(
      false,
    );
    expect(mentionsSecondaryRateLimit([undefined, "SECONDARY RATE LIMIT hit"])).toBe(true);
    expect(mentionsSecondaryRateLimit(null)).toBe(false);
  });

  it("lets overrides replace any rule, checked first", () => {
    expect(classify(notFound, { overrides: { 404: "permanent" } })).toBe("permanent");
    expect(classify(tooManyRequests, { overrides: { 429: "expected" } })).toBe("expected");
    expect(classify(serverErrors[0]!, { overrides: { 500: "external" } })).toBe("external");
    // An override for another status changes nothing.
    expect(classify(validationFailed, { overrides: { 404: "transient" } })).toBe("permanent");
    // Overrides win over resourceShouldExist.
    expect(classify(notFound, { resourceShouldExist: true, overrides: { 404: "expected" } })).toBe(
      "expected",
    );
  });

  it("refuses a status that is not an integer and an override that is not a class", () => {
    expect(() => classifyGitHubFailure(Number.NaN)).toThrow(TypeError);
    expect(() => classifyGitHubFailure(404.5)).toThrow(/statusCode/);
    expect(() =>
      classifyGitHubFailure(404, {}, undefined, {
        overrides: { 404: "fatal" as unknown as "expected" },
      }),
    ).toThrow(/overrides\[404\]/);
  });

  it("does not scan more than 64 KiB of a huge body", () => {
    const padding = "x".repeat(70 * 1024);
    expect(classifyGitHubFailure(403, {}, `${padding} secondary rate limit`)).toBe("transient");
    expect(classifyGitHubFailure(403, {}, `secondary rate limit ${padding}`)).toBe("rate_limited");
  });
});

describe("the sprint gate", () => {
  it("404s never trip the circuit; 403 with retry-after counts as rate_limited", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    for (let index = 0; index < 100; index++) breaker.recordFailure(classify(notFound));
    expect(breaker.getState()).toBe("CLOSED");
    breaker.recordFailure(classify(forbiddenWithRetryAfter));
    expect(breaker.getState()).toBe("OPEN");
    expect(breaker.getStats().failures).toMatchObject({ expected: 100, rate_limited: 1 });
  });
});

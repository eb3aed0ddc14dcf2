import { BeauvoirError } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { RateLimitedError, RateLimiterShutDownError } from "./errors.js";

describe("RateLimitedError", () => {
  it("carries the wait, the bucket and the workflow, with a stable code", () => {
    const error = new RateLimitedError(36_000, "workflow", "triage");
    expect(error).toBeInstanceOf(BeauvoirError);
    expect(error).toMatchObject({
      name: "RateLimitedError",
      code: "RATE_LIMITED",
      retryAfterMs: 36_000,
      bucket: "workflow",
      workflowId: "triage",
    });
    expect(error.message).toBe(
      'Rate limited by the workflow bucket for workflow "triage"; retry after 36000 ms',
    );
    expect(new RateLimitedError(5, "global").message).toBe(
      "Rate limited by the global bucket; retry after 5 ms",
    );
  });

  it("is recognised across copies of the package by its marker, not by class", () => {
    const error = new RateLimitedError(1, "global");
    expect(RateLimitedError.isInstance(error)).toBe(true);
    expect(BeauvoirError.isInstance(error)).toBe(true);
    expect(RateLimitedError.isInstance(new RateLimiterShutDownError())).toBe(false);
    expect(RateLimitedError.isInstance({ code: "RATE_LIMITED" })).toBe(false);
    expect(RateLimitedError.isInstance(null)).toBe(false);
  });
});

describe("RateLimiterShutDownError", () => {
  it("has its own code and check", () => {
    const error = new RateLimiterShutDownError();
    expect(error.code).toBe("RATE_LIMITER_SHUT_DOWN");
    expect(error.name).toBe("RateLimiterShutDownError");
    expect(RateLimiterShutDownError.isInstance(error)).toBe(true);
    expect(RateLimiterShutDownError.isInstance(new RateLimitedError(1, "global"))).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { octokitError } from "../test/executor-harness.js";
import {
  RETRY_DEFAULTS,
  resolveRetryOptions,
  retryDelayMs,
  serverRetryFloorMs,
} from "./retry-policy.js";

describe("retry options", () => {
  it("fills the defaults in and names a bad option", () => {
    expect(resolveRetryOptions(undefined)).toBe(RETRY_DEFAULTS);
    expect(resolveRetryOptions({ maxAttempts: 5, baseDelayMs: undefined })).toEqual({
      ...RETRY_DEFAULTS,
      maxAttempts: 5,
    });
    expect(() => resolveRetryOptions(3 as never)).toThrow(/retry must be an object/);
    expect(() => resolveRetryOptions({ maxAttempts: 1.5 })).toThrow(/retry.maxAttempts/);
    expect(() => resolveRetryOptions({ baseDelayMs: -1 })).toThrow(/retry.baseDelayMs/);
    expect(() => resolveRetryOptions({ maxDelayMs: 10, baseDelayMs: 20 })).toThrow(
      /retry.maxDelayMs must be ≥/,
    );
  });

  it("backs off exponentially with equal jitter, capped, and never below the server's floor", () => {
    const options = resolveRetryOptions({ baseDelayMs: 1_000, maxDelayMs: 5_000 });
    expect(retryDelayMs(2, options, 0, () => 0)).toBe(500);
    expect(retryDelayMs(2, options, 0, () => 0.999999)).toBe(1_000);
    expect(retryDelayMs(3, options, 0, () => 0)).toBe(1_000);
    expect(retryDelayMs(10, options, 0, () => 0.999999)).toBe(5_000);
    expect(retryDelayMs(2, options, 42_000.2, () => 0.5)).toBe(42_001);
  });
});

describe("what the server asked for", () => {
  const now = 1_800_000_000_000;
  it.each([
    ["nothing", {}, 0],
    ["retry-after in seconds", { "retry-after": "30" }, 30_000],
    ["retry-after as a date", { "retry-after": new Date(now + 12_000).toUTCString() }, 12_000],
    ["a bad retry-after", { "retry-after": "soon" }, 0],
    [
      "x-ratelimit-reset at remaining 0",
      { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now / 1000 + 90) },
      90_000,
    ],
    [
      "x-ratelimit-reset with requests left",
      { "x-ratelimit-remaining": "10", "x-ratelimit-reset": String(now / 1000 + 90) },
      0,
    ],
    [
      "the later of both",
      {
        "retry-after": "5",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": String(now / 1000 + 60),
      },
      60_000,
    ],
  ])("%s", (_name, headers, expected) => {
    expect(
      serverRetryFloorMs(octokitError(403, "limited", headers as Record<string, string>), now),
    ).toBe(expected);
  });

  it("is 0 for what carries no HTTP answer", () => {
    expect(serverRetryFloorMs(new Error("no status"), now)).toBe(0);
  });
});

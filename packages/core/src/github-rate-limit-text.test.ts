import { describe, expect, it } from "vitest";
import { mentionsSecondaryRateLimit } from "./github-rate-limit-text.js";

const SECONDARY_MESSAGE =
  "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";

describe("mentionsSecondaryRateLimit", () => {
  it("recognises GitHub's current and older wordings, in any case and separator", () => {
    expect(mentionsSecondaryRateLimit({ message: SECONDARY_MESSAGE })).toBe(true);
    expect(
      mentionsSecondaryRateLimit({
        message: "You have triggered an abuse detection mechanism. Please wait a few minutes.",
      }),
    ).toBe(true);
    expect(mentionsSecondaryRateLimit("Abuse Rate Limits")).toBe(true);
    expect(mentionsSecondaryRateLimit("SECONDARY_RATE-LIMIT\n")).toBe(true);
    expect(mentionsSecondaryRateLimit("secondary\n  rate\tlimit")).toBe(true);
  });

  it("is false for other refusals and for a primary limit", () => {
    expect(mentionsSecondaryRateLimit({ message: "Resource not accessible by integration" })).toBe(
      false,
    );
    expect(mentionsSecondaryRateLimit({ message: "API rate limit exceeded for user ID 1." })).toBe(
      false,
    );
    expect(mentionsSecondaryRateLimit("")).toBe(false);
  });

  it("reads text, bytes, GitHub's error document and lists of those", () => {
    expect(mentionsSecondaryRateLimit(SECONDARY_MESSAGE)).toBe(true);
    expect(mentionsSecondaryRateLimit(new TextEncoder().encode(SECONDARY_MESSAGE))).toBe(true);
    expect(
      mentionsSecondaryRateLimit({
        message: "Forbidden",
        documentation_url:
          "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
      }),
    ).toBe(true);
    expect(mentionsSecondaryRateLimit([{ message: "no" }, SECONDARY_MESSAGE])).toBe(true);
  });

  it("ignores values that carry no text, and fields other than message and documentation_url", () => {
    expect(mentionsSecondaryRateLimit(null)).toBe(false);
    expect(mentionsSecondaryRateLimit(undefined)).toBe(false);
    expect(mentionsSecondaryRateLimit(403)).toBe(false);
    expect(mentionsSecondaryRateLimit({ message: 42 })).toBe(false);
    expect(mentionsSecondaryRateLimit({ errors: [SECONDARY_MESSAGE] })).toBe(false);
  });

  it("stops descending into nested lists after three levels", () => {
    expect(mentionsSecondaryRateLimit([[[SECONDARY_MESSAGE]]])).toBe(true);
    expect(mentionsSecondaryRateLimit([[[[SECONDARY_MESSAGE]]]])).toBe(false);
  });

  it("reads only the first 64 KiB of a huge body", () => {
    const padding = "x".repeat(64 * 1024);
    expect(mentionsSecondaryRateLimit(`${SECONDARY_MESSAGE}${padding}`)).toBe(true);
    expect(mentionsSecondaryRateLimit(`${padding}${SECONDARY_MESSAGE}`)).toBe(false);
    expect(
      mentionsSecondaryRateLimit(new TextEncoder().encode(`${padding}${SECONDARY_MESSAGE}`)),
    ).toBe(false);
  });
});

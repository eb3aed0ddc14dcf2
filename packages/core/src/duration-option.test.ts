import { describe, expect, it } from "vitest";
import { assertDurationOption } from "./duration-option.js";

describe("assertDurationOption", () => {
  it("accepts zero, positive numbers and, unless told otherwise, Infinity", () => {
    expect(assertDurationOption(0, "waitMs")).toBe(0);
    expect(assertDurationOption(1.5, "waitMs")).toBe(1.5);
    expect(assertDurationOption(Number.POSITIVE_INFINITY, "waitMs")).toBe(Number.POSITIVE_INFINITY);
  });

  it.each([-1, Number.NaN, "10", undefined, null])("refuses %s, naming the option", (value) => {
    expect(() => assertDurationOption(value, "waitMs")).toThrow(RangeError);
    expect(() => assertDurationOption(value, "waitMs")).toThrow(/waitMs/);
  });

  it("refuses Infinity when a finite duration is required", () => {
    expect(() =>
      assertDurationOption(Number.POSITIVE_INFINITY, "maxAgeMs", { allowInfinity: false }),
    ).toThrow(/maxAgeMs must be a non-negative finite number/);
    expect(assertDurationOption(5, "maxAgeMs", { allowInfinity: false })).toBe(5);
  });
});

import { describe, expect, it } from "vitest";
import { definedFields } from "./defined-fields.js";

describe("definedFields", () => {
  it("drops the fields given as undefined, so a spread over defaults keeps them", () => {
    const defaults = { maxAttempts: 3, baseDelayMs: 1_000 };
    const given: { maxAttempts?: number | undefined; baseDelayMs?: number | undefined } = {
      maxAttempts: undefined,
      baseDelayMs: 5,
    };
    expect({ ...defaults, ...definedFields(given) }).toEqual({ maxAttempts: 3, baseDelayMs: 5 });
  });

  it("keeps falsy values that are set", () => {
    expect(definedFields({ a: 0, b: false, c: "", d: null })).toEqual({
      a: 0,
      b: false,
      c: "",
      d: null,
    });
  });

  it("answers an empty object for no options", () => {
    expect(definedFields(undefined)).toEqual({});
    expect(definedFields(null as unknown as object)).toEqual({});
  });
});

import { describe, expect, it } from "vitest";
import { readHeader } from "./headers.js";

describe("readHeader", () => {
  it("reads a fetch Headers object, whose get() already ignores case", () => {
    const headers = new Headers({ "Retry-After": " 60 ", "X-RateLimit-Remaining": "0" });
    expect(readHeader(headers, "retry-after")).toBe("60");
    expect(readHeader(headers, "x-ratelimit-remaining")).toBe("0");
    expect(readHeader(headers, "x-ratelimit-reset")).toBeUndefined();
  });

  it("calls a get() method with the headers as this, and treats null as absent", () => {
    const headers = {
      values: new Map([["retry-after", "5"]]),
      get(name: string) {
        return this.values.get(name) ?? null;
      },
    };
    expect(readHeader(headers, "retry-after")).toBe("5");
    expect(readHeader(headers, "x-ratelimit-reset")).toBeUndefined();
  });

  it("reads a plain object by exact name first, then by any case", () => {
    expect(readHeader({ "retry-after": "1", "Retry-After": "2" }, "retry-after")).toBe("1");
    expect(readHeader({ "RETRY-AFTER": "2" }, "retry-after")).toBe("2");
    expect(readHeader({ other: "x" }, "retry-after")).toBeUndefined();
  });

  it("takes the first of repeated values, and numbers as their decimal text", () => {
    expect(readHeader({ "retry-after": ["7", "9"] }, "retry-after")).toBe("7");
    expect(readHeader({ "x-ratelimit-remaining": 0 }, "x-ratelimit-remaining")).toBe("0");
    expect(readHeader({ "retry-after": Number.NaN }, "retry-after")).toBeUndefined();
    expect(readHeader({ "retry-after": Number.POSITIVE_INFINITY }, "retry-after")).toBeUndefined();
  });

  it("treats empty, blank, null and non-text values as absent", () => {
    expect(readHeader({ "retry-after": "" }, "retry-after")).toBeUndefined();
    expect(readHeader({ "retry-after": "   " }, "retry-after")).toBeUndefined();
    expect(readHeader({ "retry-after": null }, "retry-after")).toBeUndefined();
    expect(readHeader({ "retry-after": [] }, "retry-after")).toBeUndefined();
    expect(
      readHeader({ "retry-after": true } as unknown as Record<string, string>, "retry-after"),
    ).toBeUndefined();
  });

  it("returns undefined when there are no headers at all", () => {
    expect(readHeader(undefined, "retry-after")).toBeUndefined();
    expect(readHeader(null, "retry-after")).toBeUndefined();
    expect(readHeader("retry-after: 5" as unknown as Headers, "retry-after")).toBeUndefined();
  });
});

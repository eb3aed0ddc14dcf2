import { describe, expect, it } from "vitest";
import { asyncDisposeSymbol, resolveAsyncDisposeSymbol } from "./lock-handle.js";

describe("asyncDisposeSymbol", () => {
  it("is the runtime's Symbol.asyncDispose where it exists (Node 20.4+)", () => {
    expect(asyncDisposeSymbol).toBe(Symbol.asyncDispose);
  });

  it("falls back to the registered symbol downlevel `await using` helpers look up", () => {
    const withoutAsyncDispose = { for: (key: string) => Symbol.for(key) };
    expect(resolveAsyncDisposeSymbol(withoutAsyncDispose)).toBe(Symbol.for("Symbol.asyncDispose"));
  });
});

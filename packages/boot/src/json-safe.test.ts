import { describe, expect, it } from "vitest";
import { toJsonSafe } from "./json-safe.js";

describe("toJsonSafe: the recorded form of any result", () => {
  it("keeps JSON as it is and follows JSON's rules for what it cannot hold", () => {
    expect(toJsonSafe({ a: 1, b: "x", c: [true, null], d: { e: 2.5 } })).toEqual({
      a: 1,
      b: "x",
      c: [true, null],
      d: { e: 2.5 },
    });
    expect(toJsonSafe(undefined)).toBeUndefined();
    expect(toJsonSafe(() => 1)).toBeUndefined();
    expect(toJsonSafe(Symbol("s"))).toBeUndefined();
    expect(toJsonSafe([Number.NaN, Number.POSITIVE_INFINITY, undefined, () => 1])).toEqual([
      null,
      null,
      null,
      null,
    ]);
    expect(toJsonSafe({ gone: undefined, fn: () => 1, kept: 0 })).toEqual({ kept: 0 });
    expect(toJsonSafe(new Date(0))).toBe("1970-01-01T00:00:00.000Z");
  });

  it("turns bigint, Map, Set, typed arrays and errors into documented shapes", () => {
    expect(toJsonSafe(10n ** 20n)).toBe("100000000000000000000");
    expect(
      toJsonSafe(
        new Map<unknown, unknown>([
          ["a", 1n],
          [{ k: 1 }, undefined],
        ]),
      ),
    ).toEqual([
      ["a", "1"],
      [{ k: 1 }, null],
    ]);
    expect(toJsonSafe(new Set([1, "two"]))).toEqual([1, "two"]);
    expect(toJsonSafe(new Uint8Array([1, 2, 255]))).toEqual([1, 2, 255]);
    expect(toJsonSafe(new BigInt64Array([5n]))).toEqual(["5"]);
    expect(toJsonSafe(Buffer.from("hi"))).toEqual({ type: "Buffer", data: [104, 105] });
    expect(toJsonSafe(new TypeError("bad"))).toEqual({ name: "TypeError", message: "bad" });
  });

  it("never throws: cycles, deep nesting, throwing getters and toJSON", () => {
    const cycle: Record<string, unknown> = { name: "root" };
    cycle.self = cycle;
    expect(toJsonSafe(cycle)).toEqual({ name: "root", self: "[circular]" });
    let deep: unknown = "bottom";
    for (let level = 0; level < 100_000; level++) deep = { deep };
    const converted = JSON.stringify(toJsonSafe(deep));
    expect(converted).toContain("[too deep]");
    const getter = Object.defineProperty({ ok: 1 }, "boom", {
      enumerable: true,
      get() {
        throw new Error("getter failed");
      },
    });
    expect(toJsonSafe(getter)).toEqual({ ok: 1, boom: "[unserializable: getter failed]" });
    const badJson = {
      toJSON() {
        throw "not an error";
      },
    };
    expect(toJsonSafe(badJson)).toBe("[unserializable: not an error]");
    // The same object twice, not nested in itself, is not a cycle.
    const shared = { id: 1 };
    expect(toJsonSafe([shared, shared])).toEqual([{ id: 1 }, { id: 1 }]);
  });
});

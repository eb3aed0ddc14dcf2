import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CanonicalJsonError, canonicalJson } from "./canonical-json.js";

/** A copy whose objects got their keys inserted in sorted order (exact for non-integer-like keys). */
function sortedCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedCopy);
  if (typeof value !== "object" || value === null) return value;
  const copy: Record<string, unknown> = {};
  // defineProperty, not assignment: a "__proto__" key must stay an own member.
  for (const key of Object.keys(value).sort()) {
    Object.defineProperty(copy, key, {
      value: sortedCopy((value as Record<string, unknown>)[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

function hasIntegerLikeKey(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasIntegerLikeKey);
  if (typeof value !== "object" || value === null) return false;
  return Object.entries(value).some(
    ([key, nested]) => /^\d+$/.test(key) || hasIntegerLikeKey(nested),
  );
}

describe("canonicalJson", () => {
  it("sorts keys at every depth, not only the top level", () => {
    expect(canonicalJson({ b: 1, a: { d: { f: 1, e: 2 }, c: [{ z: 1, y: 2 }] } })).toBe(
      '{"a":{"c":[{"y":2,"z":1}],"d":{"e":2,"f":1}},"b":1}',
    );
  });

  it("sorts by UTF-16 code units like RFC 8785, including integer-like keys", () => {
    expect(
      canonicalJson({ "10": 1, "2": 2, b: 3, B: 4, "\u00e9": 5, "\ud83d\ude00": 6, "\uff21": 7 }),
    ).toBe('{"10":1,"2":2,"B":4,"b":3,"é":5,"😀":6,"Ａ":7}');
  });

  it("follows JSON.stringify for values: escaping, numbers, undefined, toJSON, boxed primitives", () => {
    const date = new Date(Date.UTC(2026, 1, 8));
    expect(
      canonicalJson({
        text: 'quote " backslash \\ newline \n control \u0001 lone \ud800',
        numbers: [1, -0, 1.5, 1e21, 1e-7, Number.NaN, Number.POSITIVE_INFINITY],
        missing: undefined,
        fn: () => 1,
        list: [undefined, () => 1, Symbol("s")],
        date,
        boxed: [new Number(3), new String("s"), new Boolean(false)],
        nil: null,
        flag: true,
      }),
    ).toBe(
      JSON.stringify({
        boxed: [3, "s", false],
        date: "2026-02-08T00:00:00.000Z",
        flag: true,
        list: [null, null, null],
        nil: null,
        numbers: [1, 0, 1.5, 1e21, 1e-7, null, null],
        text: 'quote " backslash \\ newline \n control \u0001 lone \ud800',
      }),
    );
    expect(canonicalJson(undefined)).toBeUndefined();
    expect(canonicalJson("x")).toBe('"x"');
  });

  it("refuses BigInt and cycles, naming the path", () => {
    expect(() => canonicalJson({ a: { b: 1n } })).toThrow(/BigInt at \$\.a\.b/);
    const cyclic: Record<string, unknown> = { a: [1] };
    (cyclic.a as unknown[]).push(cyclic);
    expect(() => canonicalJson(cyclic)).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(cyclic)).toThrow(/cycle at \$\.a\[1\]/);
  });

  it("allows the same object twice when it is not its own ancestor", () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
  });

  it("is JSON.stringify up to key order, sorted everywhere, and a fixed point", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value)!;
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        expect(text).not.toMatch(/\n/);
      }),
      { numRuns: 300 },
    );
  });

  it("writes the members of every object, at every depth, in sorted order", () => {
    fc.assert(
      fc.property(
        fc.jsonValue().filter((value) => !hasIntegerLikeKey(value)),
        (value) => {
          expect(canonicalJson(value)).toBe(
            JSON.stringify(sortedCopy(JSON.parse(JSON.stringify(value)))),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

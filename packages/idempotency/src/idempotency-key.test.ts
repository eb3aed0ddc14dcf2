import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { actionOfKey, canonicalJson, generateIdempotencyKey } from "./idempotency-key.js";

/** Rebuilds every object of `value` with its keys in an order chosen by `seed`. */
function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((item, index) => shuffleKeys(item, seed + index + 1));
  if (typeof value !== "object" || value === null) return value;
  const names = Object.keys(value);
  let state = seed >>> 0;
  for (let index = names.length - 1; index > 0; index -= 1) {
    state = (state * 1_103_515_245 + 12_345) >>> 0;
    const other = state % (index + 1);
    [names[index], names[other]] = [names[other] as string, names[index] as string];
  }
  const copy: Record<string, unknown> = {};
  for (const name of names) {
    // defineProperty, so a "__proto__" key stays an own key, as JSON.parse makes it.
    Object.defineProperty(copy, name, {
      value: shuffleKeys((value as Record<string, unknown>)[name], state + name.length),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

describe("generateIdempotencyKey", () => {
  it("follows {action}:{scope}/{resource}:{16 hex of SHA-256 of the canonical { scope, resource, params }}", () => {
    const key = generateIdempotencyKey("add_labels", "acme/widgets", "issue-12", {
      labels: ["bug"],
      b: 1,
    });
    const digest = createHash("sha256")
      .update('{"params":{"b":1,"labels":["bug"]},"resource":"issue-12","scope":"acme/widgets"}')
      .digest("hex")
      .slice(0, 16);
    expect(key).toBe(`add_labels:acme/widgets/issue-12:${digest}`);
    expect(key).toMatch(/^add_labels:acme\/widgets\/issue-12:[0-9a-f]{16}$/);
  });

  it("does not depend on key order, at any depth (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (params, seed) => {
        const shuffled = shuffleKeys(params, seed);
        expect(generateIdempotencyKey("act", "s", "r", shuffled)).toBe(
          generateIdempotencyKey("act", "s", "r", params),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("gives different keys to different params (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (first, second) => {
        fc.pre(canonicalJson(first) !== canonicalJson(second));
        expect(generateIdempotencyKey("act", "s", "r", first)).not.toBe(
          generateIdempotencyKey("act", "s", "r", second),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("sorts nested keys and keeps array order", () => {
    expect(canonicalJson({ b: { d: 1, c: [3, { z: 1, y: 2 }] }, a: null })).toBe(
      '{"a":null,"b":{"c":[3,{"y":2,"z":1}],"d":1}}',
    );
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  it("treats undefined like JSON does and uses toJSON", () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(canonicalJson([undefined])).toBe("[null]");
    expect(canonicalJson({ at: new Date(0) })).toBe('{"at":"1970-01-01T00:00:00.000Z"}');
  });

  it("refuses params JSON would silently change", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/cycle/);
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/function/);
    expect(() => canonicalJson({ m: new Map() })).toThrow(/Map/);
    expect(() => canonicalJson({ s: new Set([1]) })).toThrow(/Set/);
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(/NaN/);
    expect(() => canonicalJson(Symbol("x"))).toThrow(/symbol/);
  });

  it("keeps an own __proto__ key, as JSON.parse creates it", () => {
    const parsed = JSON.parse('{"__proto__":{"x":1},"a":2}');
    expect(canonicalJson(parsed)).toBe('{"__proto__":{"x":1},"a":2}');
    expect(generateIdempotencyKey("a", "s", "r", parsed)).not.toBe(
      generateIdempotencyKey("a", "s", "r", { a: 2 }),
    );
  });

  it("accepts the same object twice when it is not a cycle", () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });

  it("validates the action, scope and resource", () => {
    expect(() => generateIdempotencyKey("", "s", "r", {})).toThrow(TypeError);
    expect(() => generateIdempotencyKey("a:b", "s", "r", {})).toThrow(/without ":"/);
    expect(() => generateIdempotencyKey("a", 1 as unknown as string, "r", {})).toThrow(/scope/);
    expect(() => generateIdempotencyKey("a", "s", null as unknown as string, {})).toThrow(
      /resource/,
    );
  });

  it("actionOfKey returns the first segment", () => {
    expect(actionOfKey(generateIdempotencyKey("create_review", "o/r", "pr-1", {}))).toBe(
      "create_review",
    );
    expect(actionOfKey("plain")).toBe("plain");
  });
});

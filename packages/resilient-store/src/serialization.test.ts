import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StoreSerializeError } from "./errors.js";
import { composeFileText, parseFileText, serializeState } from "./serialization.js";

/** The reference: JSON.stringify of a deep copy whose keys were inserted in sorted order. */
function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (typeof value === "object" && value !== null) {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      sorted[key] = sortDeep((value as Record<string, unknown>)[key]);
    }
    return sorted;
  }
  return value;
}

// Integer-like keys are excluded from the comparison: JavaScript would list them
// first whatever the insertion order, so the reference cannot sort them.
const jsonKey = fc.string().filter((key) => !/^(0|[1-9]\d*)$/.test(key) && key !== "__proto__");
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.string({ unit: "binary" }),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(jsonKey, tie("value"), { maxKeys: 5 }),
  ),
})).value;
const jsonState = fc.dictionary(jsonKey, jsonValue, { maxKeys: 8 });

describe("serializeState", () => {
  it("writes exactly what JSON.stringify writes for the sorted state, 2-space indented", () => {
    fc.assert(
      fc.property(jsonState, (state) => {
        const serialized = serializeState(state, "/s.json");
        expect(serialized.callerText).toBe(JSON.stringify(sortDeep(state), null, 2));
        expect(JSON.parse(serialized.callerText)).toEqual(JSON.parse(JSON.stringify(state)));
      }),
      { numRuns: 300 },
    );
  });

  it("orders keys by code unit everywhere, integer-like keys included", () => {
    const { callerText } = serializeState({ b: { "10": 1, "9": 2, a: 3 }, a: 1, B: 2 }, "/s.json");
    expect(callerText).toBe(
      '{\n  "B": 2,\n  "a": 1,\n  "b": {\n    "10": 1,\n    "9": 2,\n    "a": 3\n  }\n}',
    );
  });

  it("slots the metadata into key order and round-trips through parseFileText", () => {
    fc.assert(
      fc.property(jsonState, fc.nat({ max: 1e9 }), fc.integer({ min: 1, max: 50 }), (state, epoch, version) => {
        const text = composeFileText(serializeState(state, "/s.json"), version, epoch);
        expect(text).toBe(
          JSON.stringify(sortDeep({ ...state, _schemaVersion: version, _writeEpoch: epoch }), null, 2),
        );
        const parsed = parseFileText(text);
        expect(parsed).toEqual({
          ok: true,
          state: JSON.parse(JSON.stringify(state)),
          schemaVersion: version,
          writeEpoch: epoch,
          droppedProtoKeys: 0,
        });
      }),
      { numRuns: 200 },
    );
  });

  it("writes an empty state as {} with or without metadata", () => {
    const serialized = serializeState({}, "/s.json");
    expect(serialized.callerText).toBe("{}");
    expect(composeFileText(serialized, 1, 0)).toBe('{\n  "_schemaVersion": 1,\n  "_writeEpoch": 0\n}');
  });

  it("skips undefined properties and applies toJSON, as JSON does", () => {
    const when = new Date(Date.UTC(2026, 0, 2));
    const { callerText } = serializeState({ a: undefined, when, nested: { b: undefined } }, "/s.json");
    expect(JSON.parse(callerText)).toEqual({ when: "2026-01-02T00:00:00.000Z", nested: {} });
  });

  it("keeps shared (non-circular) references, writing them twice", () => {
    const shared = { x: 1 };
    expect(JSON.parse(serializeState({ a: shared, b: [shared, shared] }, "/s.json").callerText)).toEqual({
      a: { x: 1 },
      b: [{ x: 1 }, { x: 1 }],
    });
  });

  it("accepts objects without a prototype", () => {
    const bare = Object.assign(Object.create(null), { z: 1, a: 2 });
    expect(serializeState({ bare }, "/s.json").callerText).toBe(
      '{\n  "bare": {\n    "a": 2,\n    "z": 1\n  }\n}',
    );
  });

  class Point {
    constructor(readonly x: number) {}
  }
  const circular: Record<string, unknown> = { name: "loop" };
  circular.self = { back: circular };

  it.each([
    [{ a: 1n }, "$.a", "BigInt"],
    [{ a: Number.NaN }, "$.a", "NaN"],
    [{ list: [1, Number.POSITIVE_INFINITY] }, "$.list[1]", "Infinity"],
    [{ a: Symbol("s") }, "$.a", "symbol"],
    [{ "odd key": { f: () => 1 } }, '$["odd key"].f', "function"],
    [{ m: new Map([[1, 2]]) }, "$.m", "Map"],
    [{ s: new Set([1]) }, "$.s", "Set"],
    [{ p: new Point(1) }, "$.p", "Point"],
    [{ list: [1, undefined] }, "$.list[1]", "undefined inside an array"],
    [circular, "$.self.back", "circular reference"],
  ])("refuses %o at %s (%s)", (state, valuePath, reason) => {
    let error: unknown;
    try {
      serializeState(state as Record<string, unknown>, "/s.json");
    } catch (caught) {
      error = caught;
    }
    expect(StoreSerializeError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ valuePath, storePath: "/s.json", code: "STORE_SERIALIZE_FAILED" });
    expect((error as Error).message).toContain(reason);
  });

  it("drops __proto__ own keys at every depth and counts them", () => {
    const state = JSON.parse('{"__proto__": {"x": 1}, "a": {"__proto__": {"y": 2}, "b": 1}}');
    const serialized = serializeState(state, "/s.json");
    expect(serialized.droppedProtoKeys).toBe(2);
    expect(serialized.callerText).not.toContain("__proto__");
  });
});

describe("parseFileText", () => {
  it.each([
    ["", "not valid JSON"],
    ['{"a": ', "not valid JSON"],
    ["[1]", "not a JSON object"],
    ["null", "not a JSON object"],
    ['"text"', "not a JSON object"],
    ['{"_schemaVersion": 0}', "_schemaVersion"],
    ['{"_schemaVersion": 1.5}', "_schemaVersion"],
    ['{"_writeEpoch": "3"}', "_writeEpoch"],
    ['{"_writeEpoch": -1}', "_writeEpoch"],
  ])("calls %j corrupt (%s)", (text, reason) => {
    const parsed = parseFileText(text);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? "" : parsed.reason).toContain(reason);
  });

  it("reads a file without metadata as version 1, epoch 0", () => {
    expect(parseFileText('{"a": 1}')).toEqual({
      ok: true,
      state: { a: 1 },
      schemaVersion: 1,
      writeEpoch: 0,
      droppedProtoKeys: 0,
    });
  });

  it("drops __proto__ keys, including ones spelled with escapes, without touching prototypes", () => {
    const parsed = parseFileText(
      '{"\\u005f\\u005fproto\\u005f\\u005f": {"polluted": 1}, "a": {"__proto__": {"polluted": 1}}, "s": "\\u00e9"}',
    );
    expect(parsed).toMatchObject({ ok: true, state: { a: {}, s: "é" }, droppedProtoKeys: 2 });
    expect(({} as { polluted?: number }).polluted).toBeUndefined();
  });
});

import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StoreSerializeError } from "./errors.js";
import { callerStateOf, composeFileText, parseStoreFile, serializeState } from "./serialization.js";

const parseFileText = (text: string) => parseStoreFile(Buffer.from(text, "utf8"));

/** What the previous version wrote, with the checksum line this version puts first. */
const withChecksum = (legacy: string): string =>
  `{\n  "_checksum": "sha256:${createHash("sha256").update(legacy).digest("hex")}",${legacy.slice(1)}`;

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

/** The file text of a state at version 1, epoch 7. */
const fileText = (state: Record<string, unknown>): string =>
  composeFileText(serializeState(state, 1, "/s.json"), 7);

describe("serializeState", () => {
  it("writes what JSON.stringify writes for the sorted state with its metadata, 2-space indented, after a checksum line", () => {
    fc.assert(
      fc.property(
        jsonState,
        fc.nat({ max: 1e12 }),
        fc.integer({ min: 1, max: 50 }),
        (state, epoch, version) => {
          const text = composeFileText(serializeState(state, version, "/s.json"), epoch);
          expect(text).toBe(
            withChecksum(
              JSON.stringify(
                sortDeep({ ...state, _schemaVersion: version, _writeEpoch: epoch }),
                null,
                2,
              ),
            ),
          );
          expect(callerStateOf(text)).toEqual(JSON.parse(JSON.stringify(state)));
          expect(parseFileText(text)).toEqual({
            ok: true,
            state: JSON.parse(JSON.stringify(state)),
            schemaVersion: version,
            writeEpoch: epoch,
            droppedProtoKeys: 0,
            checksum: "verified",
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("does not copy the state: later changes by the caller are not in the text", () => {
    const state = { list: [1, 2], nested: { a: 1 } };
    const serialized = serializeState(state, 1, "/s.json");
    state.list.push(3);
    state.nested.a = 2;
    expect(callerStateOf(composeFileText(serialized, 1))).toEqual({
      list: [1, 2],
      nested: { a: 1 },
    });
  });

  it("sorts keys at every depth; integer-like keys come first, in numeric order", () => {
    expect(fileText({ b: { "10": 1, "9": 2, a: 3, Z: 4 }, a: 1, B: 2 })).toBe(
      withChecksum(
        '{\n  "B": 2,\n  "_schemaVersion": 1,\n  "_writeEpoch": 7,\n  "a": 1,\n  "b": {\n' +
          '    "9": 2,\n    "10": 1,\n    "Z": 4,\n    "a": 3\n  }\n}',
      ),
    );
  });

  it("finds the epoch's place even when a value holds the same words", () => {
    const text = fileText({ note: '\n  "_writeEpoch": 0', z: { _writeEpoch: 0 } });
    expect(JSON.parse(text)).toMatchObject({
      _writeEpoch: 7,
      note: '\n  "_writeEpoch": 0',
      z: { _writeEpoch: 0 },
    });
  });

  it("reports the UTF-8 size of the file (checksum line included) without the epoch's digits", () => {
    const serialized = serializeState({ text: "héllo €" }, 1, "/s.json");
    expect(serialized.byteLength + 2).toBe(Buffer.byteLength(composeFileText(serialized, 42)));
  });

  it("writes an empty state with only its metadata", () => {
    expect(fileText({})).toBe(withChecksum('{\n  "_schemaVersion": 1,\n  "_writeEpoch": 7\n}'));
  });

  it("skips undefined properties and applies toJSON, as JSON does", () => {
    const when = new Date(Date.UTC(2026, 0, 2));
    const custom = { toJSON: () => ({ z: 1, a: [when] }) };
    expect(
      callerStateOf(fileText({ a: undefined, when, nested: { b: undefined }, custom })),
    ).toEqual({
      when: "2026-01-02T00:00:00.000Z",
      nested: {},
      custom: { a: ["2026-01-02T00:00:00.000Z"], z: 1 },
    });
  });

  it("keeps shared (non-circular) references, writing them twice", () => {
    const shared = { y: 1, x: 1 };
    expect(callerStateOf(fileText({ a: shared, b: [shared, shared] }))).toEqual({
      a: { x: 1, y: 1 },
      b: [
        { x: 1, y: 1 },
        { x: 1, y: 1 },
      ],
    });
  });

  it("accepts objects without a prototype", () => {
    const bare = Object.assign(Object.create(null), { z: 1, a: 2 });
    expect(fileText({ bare })).toContain('"bare": {\n    "a": 2,\n    "z": 1\n  }');
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
    [{ o: Object.create({ inherited: 1 }) }, "$.o", "custom prototype"],
    [{ list: [1, undefined] }, "$.list[1]", "undefined inside an array"],
    [circular, "$.self.back", "circular reference"],
  ])("refuses %o at %s (%s)", (state, valuePath, reason) => {
    let error: unknown;
    try {
      serializeState(state as Record<string, unknown>, 1, "/s.json");
    } catch (caught) {
      error = caught;
    }
    expect(StoreSerializeError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      valuePath,
      storePath: "/s.json",
      code: "STORE_SERIALIZE_FAILED",
    });
    expect((error as Error).message).toContain(reason);
  });

  it("drops __proto__ own keys at every depth and counts them", () => {
    const state = JSON.parse('{"__proto__": {"x": 1}, "a": {"__proto__": {"y": 2}, "b": 1}}');
    const serialized = serializeState(state, 1, "/s.json");
    expect(serialized.droppedProtoKeys).toBe(2);
    expect(composeFileText(serialized, 1)).not.toContain("__proto__");
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
      checksum: "absent",
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

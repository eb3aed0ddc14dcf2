/**
 * The form in which the executor records a side effect's result, for any
 * value `run()` returns (the effect happened, so its key must complete even
 * when JSON cannot hold the value):
 *
 * - `undefined` at the top: no result is recorded, and `undefined` comes back;
 * - `null`, booleans, strings and finite numbers: as they are; `NaN` and
 *   `±Infinity` become `null` (as in `JSON.stringify`);
 * - `bigint`: its decimal digits, as a string;
 * - an object with `toJSON()` (a `Date`, a `Buffer`): what `toJSON()` returns;
 * - `Map`: an array of `[key, value]` pairs; `Set`: an array of its values;
 *   a typed array: an array of its numbers;
 * - an `Error`: `{ name, message }`;
 * - arrays and other objects: their members, each in this form; members that
 *   are `undefined`, functions or symbols are left out of objects and become
 *   `null` in arrays (as in `JSON.stringify`);
 * - a value that refers back to an enclosing one: the string `"[circular]"`;
 *   nesting deeper than 1,000 levels: `"[too deep]"`; a getter or `toJSON`
 *   that throws: `"[unserializable: <message>]"`.
 */
export type JsonSafe<T> = T extends void
  ? undefined
  : T extends null | boolean | string | number
    ? T
    : T extends bigint
      ? string
      : T extends symbol | ((...args: never[]) => unknown)
        ? undefined
        : T extends { toJSON(...args: never[]): infer Json }
          ? JsonSafeMember<Json>
          : T extends ReadonlyMap<infer Key, infer Value>
            ? Array<[JsonSafeMember<Key>, JsonSafeMember<Value>]>
            : T extends ReadonlySet<infer Value>
              ? Array<JsonSafeMember<Value>>
              : T extends ReadonlyArray<infer Value>
                ? Array<JsonSafeMember<Value>>
                : T extends ArrayBufferView
                  ? number[]
                  : T extends Error
                    ? { name: string; message: string }
                    : T extends object
                      ? {
                          [Key in keyof T as Key extends string
                            ? T[Key] extends symbol | ((...args: never[]) => unknown)
                              ? never
                              : Key
                            : never]: JsonSafe<T[Key]>;
                        }
                      : unknown;

/** The {@link JsonSafe} form of an array's or a map's member: where JSON has no `undefined`, it is `null`. */
export type JsonSafeMember<T> = T extends unknown
  ? JsonSafe<T> extends undefined
    ? null
    : JsonSafe<T>
  : never;

const MAX_DEPTH = 1_000;

/**
 * Converts any value to the {@link JsonSafe} form the executor records.
 * Never throws.
 * @param value - what a side effect returned.
 * @returns plain JSON data (or `undefined` for `undefined`).
 * @example
 * ```ts
 * toJsonSafe(new Map([["a", 1n]])); // [["a", "1"]]
 * ```
 */
export function toJsonSafe<T>(value: T): JsonSafe<T> {
  return convert(value, "", new Set(), 0) as JsonSafe<T>;
}

function convert(value: unknown, key: string, ancestors: Set<object>, depth: number): unknown {
  switch (typeof value) {
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "bigint":
      return value.toString();
    default:
      break;
  }
  if (value === null) return null;
  const object = value as object;
  if (depth >= MAX_DEPTH) return "[too deep]";
  if (ancestors.has(object)) return "[circular]";
  ancestors.add(object);
  try {
    return convertObject(object, key, ancestors, depth + 1);
  } catch (error) {
    return `[unserializable: ${messageOf(error)}]`;
  } finally {
    ancestors.delete(object);
  }
}

function convertObject(
  object: object,
  key: string,
  ancestors: Set<object>,
  depth: number,
): unknown {
  const toJSON = (object as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") {
    return convert(toJSON.call(object, key), key, ancestors, depth);
  }
  if (object instanceof Map) {
    return [...object].map(([entryKey, entryValue], index) => [
      member(entryKey, String(index), ancestors, depth),
      member(entryValue, String(index), ancestors, depth),
    ]);
  }
  if (object instanceof Set) {
    return [...object].map((item, index) => member(item, String(index), ancestors, depth));
  }
  if (ArrayBuffer.isView(object) && !(object instanceof DataView)) {
    return Array.from(object as unknown as ArrayLike<number | bigint>, (item) =>
      typeof item === "bigint" ? item.toString() : item,
    );
  }
  if (object instanceof Error) return { name: object.name, message: object.message };
  if (Array.isArray(object)) {
    return object.map((item, index) => member(item, String(index), ancestors, depth));
  }
  const converted: Record<string, unknown> = {};
  for (const name of Object.keys(object)) {
    let item: unknown;
    try {
      item = (object as Record<string, unknown>)[name];
    } catch (error) {
      converted[name] = `[unserializable: ${messageOf(error)}]`;
      continue;
    }
    const safe = convert(item, name, ancestors, depth);
    if (safe !== undefined) converted[name] = safe;
  }
  return converted;
}

function member(value: unknown, key: string, ancestors: Set<object>, depth: number): unknown {
  return convert(value, key, ancestors, depth) ?? null;
}

function messageOf(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "unknown error";
  }
}

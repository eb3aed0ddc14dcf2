/** Stands for an object already being converted higher up (a cycle). */
export const CIRCULAR = "[Circular]";
/** Stands for a value that could not be read (a throwing getter, `toJSON` or proxy trap). */
export const UNREADABLE = "[Unreadable]";
/** Stands for an object nested deeper than {@link MAX_JSON_DEPTH}. */
export const MAX_DEPTH = "[MaxDepth]";
/** How many levels of objects and arrays a stored result keeps. */
export const MAX_JSON_DEPTH = 100;

/** What a conversion returns for "leave this out" (undefined, functions, symbols). */
const ABSENT: unique symbol = Symbol("absent");

/**
 * Converts any value into the JSON-safe form the index stores as a result, so
 * a side effect that happened is always recorded as completed, whatever it
 * returned. The form, applied at every depth:
 *
 * - strings, booleans, finite numbers and `null` as they are; `NaN` and
 *   `±Infinity` become `null`; a `bigint` becomes its decimal string;
 * - `undefined`, functions and symbols are left out of objects, become `null`
 *   in arrays, and at the top mean "no result" (the function returns
 *   `undefined`, and the entry has no `result`);
 * - `toJSON()` is honoured (a `Date` becomes its ISO string);
 * - a `Map` becomes an object when every key is a string, else an array of
 *   `[key, value]` pairs; a `Set` becomes an array;
 * - an `Error` becomes `{ name, message, ...its own fields }`;
 * - other objects keep their own enumerable string keys (`__proto__` stays an
 *   ordinary key);
 * - a cycle becomes `"[Circular]"`, a value that throws when read (getter,
 *   `toJSON`, proxy) `"[Unreadable]"`, anything deeper than 100 levels
 *   `"[MaxDepth]"`.
 *
 * The result is plain data: `JSON.parse(JSON.stringify(result))` equals it,
 * so it reads back the same after a restart as before.
 * @param value - anything.
 * @returns the JSON-safe copy, or `undefined` for "no result".
 * @example
 * ```ts
 * toJsonSafe({ id: 12n, tags: new Set(["a"]), at: new Date(0), skip: undefined });
 * // { id: "12", tags: ["a"], at: "1970-01-01T00:00:00.000Z" }
 * ```
 */
export function toJsonSafe(value: unknown): unknown {
  const converted = convert(value, "", 0, new Set());
  return converted === ABSENT ? undefined : converted;
}

function convert(value: unknown, key: string, depth: number, ancestors: Set<object>): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? (Object.is(value, -0) ? 0 : value) : null;
    case "bigint":
      return value.toString();
    case "undefined":
    case "function":
    case "symbol":
      return ABSENT;
  }
  if (value === null) return null;
  const object = value as object;
  if (ancestors.has(object)) return CIRCULAR;
  if (depth >= MAX_JSON_DEPTH) return MAX_DEPTH;
  ancestors.add(object);
  try {
    return convertObject(object, key, depth, ancestors);
  } catch {
    return UNREADABLE;
  } finally {
    ancestors.delete(object);
  }
}

function convertObject(object: object, key: string, depth: number, ancestors: Set<object>) {
  const toJSON = (object as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") {
    const replaced: unknown = toJSON.call(object, key);
    if (replaced !== object) {
      // The replacement is converted in place of the object, at the same depth.
      ancestors.delete(object);
      try {
        return convert(replaced, key, depth, ancestors);
      } finally {
        ancestors.add(object);
      }
    }
  }
  if (Array.isArray(object)) {
    const copy: unknown[] = [];
    for (let index = 0; index < object.length; index += 1) {
      copy.push(orNull(convertField(object, index, depth, ancestors)));
    }
    return copy;
  }
  if (object instanceof Map) return convertMap(object, depth, ancestors);
  if (object instanceof Set) {
    return [...object].map((item, index) =>
      orNull(convert(item, String(index), depth + 1, ancestors)),
    );
  }
  const copy: Record<string, unknown> = {};
  if (object instanceof Error) {
    define(copy, "name", readText(object, "name"));
    define(copy, "message", readText(object, "message"));
  }
  for (const name of Object.keys(object)) {
    const converted = convertField(object, name, depth, ancestors);
    if (converted !== ABSENT) define(copy, name, converted);
  }
  return copy;
}

function convertMap(map: Map<unknown, unknown>, depth: number, ancestors: Set<object>): unknown {
  const entries = [...map];
  if (entries.every(([name]) => typeof name === "string")) {
    const copy: Record<string, unknown> = {};
    for (const [name, item] of entries) {
      const converted = convert(item, name as string, depth + 1, ancestors);
      if (converted !== ABSENT) define(copy, name as string, converted);
    }
    return copy;
  }
  return entries.map(([name, item]) => [
    orNull(convert(name, "", depth + 2, ancestors)),
    orNull(convert(item, "", depth + 2, ancestors)),
  ]);
}

function convertField(
  object: object,
  name: string | number,
  depth: number,
  ancestors: Set<object>,
): unknown {
  let item: unknown;
  try {
    item = (object as Record<string | number, unknown>)[name];
  } catch {
    return UNREADABLE;
  }
  return convert(item, String(name), depth + 1, ancestors);
}

function readText(object: object, name: string): string {
  try {
    return String((object as Record<string, unknown>)[name]);
  } catch {
    return UNREADABLE;
  }
}

function orNull(value: unknown): unknown {
  return value === ABSENT ? null : value;
}

/** Sets `name` as an own, enumerable key, even `__proto__`. */
function define(target: Record<string, unknown>, name: string, value: unknown): void {
  Object.defineProperty(target, name, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

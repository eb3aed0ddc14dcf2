import { describeThrown, StoreSerializeError } from "./errors.js";

/**
 * How deep a state may nest, counting the state itself as the first level and
 * every object or array inside it as one more. `JSON.stringify` recurses, so a
 * deeper state would overflow the stack instead of failing with a code.
 */
export const MAX_STATE_DEPTH = 1_000;

/** @internal Tells whether `value` is an object the store can hold at the top level. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Returned by {@link StateNormalizer.value} for a property JSON omits. */
const OMIT = Symbol("omit");

/**
 * @internal Prepares a state for the native `JSON.stringify`: refuses values
 * JSON would silently change or drop (so a state never comes back different
 * from what was stored), applies `toJSON`, drops `__proto__` keys, and puts
 * every object's keys in sorted order. Subtrees that need none of this are
 * reused as they are; only the objects on the way to a change are copied.
 *
 * Everything the caller's objects run while being read (getters, `toJSON`,
 * proxy traps) is caught and reported as a {@link StoreSerializeError} naming
 * where it happened, as is nesting past {@link MAX_STATE_DEPTH}: `set()`
 * never fails with an untyped error half-way through reading its argument.
 */
export class StateNormalizer {
  readonly #storePath: string;
  readonly #segments: Array<string | number> = [];
  /** The objects on the path to the current value (an array: shorter than a Set to scan at usual depths). */
  readonly #ancestors: object[] = [];
  droppedProtoKeys = 0;

  constructor(storePath: string) {
    this.#storePath = storePath;
  }

  /**
   * Normalizes the state itself and merges the metadata entries (`extra`) in key order.
   * @throws {@link StoreSerializeError} for anything JSON cannot carry faithfully.
   */
  topLevel(
    state: Record<string, unknown>,
    extra: ReadonlyArray<readonly [string, unknown]>,
  ): Record<string, unknown> {
    this.#ancestors.push(state);
    return this.#object(state, extra);
  }

  #value(value: unknown, key: string, toJsonApplied = false): unknown {
    switch (typeof value) {
      case "string":
      case "boolean":
        return value;
      case "number":
        if (Number.isFinite(value)) return value;
        throw this.#fail(`${value} has no JSON form (it would be stored as null)`);
      case "undefined":
        return OMIT;
      case "bigint":
        throw this.#fail("a BigInt has no JSON form; store it as a string");
      case "symbol":
        throw this.#fail("a symbol has no JSON form");
      case "function":
        throw this.#fail("a function cannot be stored");
    }
    if (value === null) return null;
    const object = value as Record<string, unknown>;
    if (!toJsonApplied) {
      // Inline try/catch, not a closure per value: this runs for every object of the state.
      let toJson: unknown;
      try {
        toJson = object.toJSON;
      } catch (error) {
        throw this.#thrown(error, "reading its toJSON");
      }
      if (typeof toJson === "function") {
        let replaced: unknown;
        try {
          replaced = (toJson as (key: string) => unknown).call(object, key);
        } catch (error) {
          throw this.#thrown(error, "its toJSON");
        }
        return this.#value(replaced, key, true);
      }
    }
    if (this.#ancestors.includes(object)) throw this.#fail("circular reference");
    if (this.#ancestors.length >= MAX_STATE_DEPTH) {
      throw this.#fail(`nested deeper than ${MAX_STATE_DEPTH} levels`);
    }
    this.#ancestors.push(object);
    try {
      let array: boolean;
      let plain: boolean;
      try {
        array = Array.isArray(object);
        plain = array || isPlainObject(object);
      } catch (error) {
        throw this.#thrown(error, "reading its prototype");
      }
      if (array) return this.#array(object as unknown as unknown[]);
      if (!plain) {
        throw this.#fail(
          `${describeObject(object)} would not come back as it was stored; ` +
            "store plain objects and arrays (or give the class a toJSON method)",
        );
      }
      return this.#object(object, []);
    } finally {
      this.#ancestors.pop();
    }
  }

  #array(array: unknown[]): unknown[] {
    let length: number;
    try {
      length = array.length;
    } catch (error) {
      throw this.#thrown(error, "reading its length");
    }
    let copy: unknown[] | undefined;
    for (let index = 0; index < length; index++) {
      this.#segments.push(index);
      let original: unknown;
      try {
        original = array[index];
      } catch (error) {
        throw this.#thrown(error, "reading the element");
      }
      const normalized = this.#value(original, String(index));
      if (normalized === OMIT) {
        throw this.#fail("undefined inside an array (JSON would turn it into null)");
      }
      this.#segments.pop();
      if (normalized !== original && !copy) copy = array.slice(0, index);
      copy?.push(normalized);
    }
    return copy ?? array;
  }

  #object(
    object: Record<string, unknown>,
    extra: ReadonlyArray<readonly [string, unknown]>,
  ): Record<string, unknown> {
    let keys: string[];
    try {
      keys = Object.keys(object);
    } catch (error) {
      throw this.#thrown(error, "listing its keys");
    }
    let changed = extra.length > 0;
    const entries: Array<[string, unknown]> = [];
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index]!;
      if (key === "__proto__") {
        this.droppedProtoKeys++;
        changed = true;
        continue;
      }
      if (index > 0 && keys[index - 1]! > key) changed = true;
      this.#segments.push(key);
      let original: unknown;
      try {
        original = object[key];
      } catch (error) {
        throw this.#thrown(error, "reading the property");
      }
      const normalized = this.#value(original, key);
      this.#segments.pop();
      if (normalized === OMIT) {
        changed = true;
        continue;
      }
      if (normalized !== original) changed = true;
      entries.push([key, normalized]);
    }
    if (!changed) return object;
    entries.push(...(extra as Array<[string, unknown]>));
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const copy: Record<string, unknown> = {};
    for (const [key, normalized] of entries) copy[key] = normalized;
    return copy;
  }

  /** What caller code (a getter, `toJSON`, a proxy trap) threw, as a typed error naming where. */
  #thrown(error: unknown, what: string): StoreSerializeError {
    if (StoreSerializeError.isInstance(error)) return error;
    return this.#fail(`${what} threw: ${describeThrown(error)}`, error);
  }

  #fail(reason: string, cause?: unknown): StoreSerializeError {
    let path = "$";
    for (const segment of this.#segments) {
      path +=
        typeof segment === "number"
          ? `[${segment}]`
          : /^[A-Za-z_$][\w$]*$/.test(segment)
            ? `.${segment}`
            : `[${JSON.stringify(segment)}]`;
    }
    return new StoreSerializeError(this.#storePath, path, reason, cause);
  }
}

function describeObject(object: object): string {
  let name: string | undefined;
  try {
    name = (Object.getPrototypeOf(object) as { constructor?: { name?: string } } | null)
      ?.constructor?.name;
  } catch {
    name = undefined;
  }
  return name && name !== "Object" ? `a ${name} instance` : "an object with a custom prototype";
}

import { StoreSerializeError } from "./errors.js";

/** The keys the store adds to the caller's state in the file. */
export const SCHEMA_VERSION_KEY = "_schemaVersion";
/** @see SCHEMA_VERSION_KEY */
export const WRITE_EPOCH_KEY = "_writeEpoch";

/**
 * @internal A caller's state serialized into the file's text, with the spot
 * for `_writeEpoch` left open: the epoch is only known inside the mutex, but
 * the state must be copied when `set()` is called.
 */
export interface SerializedState {
  /** The text before the epoch's digits. */
  readonly head: string;
  /** The text after them. */
  readonly tail: string;
  /** UTF-8 size of head and tail. */
  readonly byteLength: number;
  /** How many `__proto__` keys were dropped. */
  readonly droppedProtoKeys: number;
}

/** @internal Tells whether `value` is an object the store can hold at the top level. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Returned by {@link Normalizer.value} for a property JSON omits. */
const OMIT = Symbol("omit");

/**
 * Prepares a state for the native `JSON.stringify`: refuses values JSON would
 * silently change or drop (so a state never comes back different from what
 * was stored), applies `toJSON`, drops `__proto__` keys, and puts every
 * object's keys in sorted order. Subtrees that need none of this are reused
 * as they are; only the objects on the way to a change are copied.
 */
class Normalizer {
  readonly #storePath: string;
  readonly #segments: Array<string | number> = [];
  readonly #ancestors: object[] = [];
  droppedProtoKeys = 0;

  constructor(storePath: string) {
    this.#storePath = storePath;
  }

  value(value: unknown, key: string, toJsonApplied = false): unknown {
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
    if (!toJsonApplied && typeof object.toJSON === "function") {
      return this.value((object.toJSON as (key: string) => unknown)(key), key, true);
    }
    if (this.#ancestors.includes(object)) throw this.#fail("circular reference");
    this.#ancestors.push(object);
    try {
      if (Array.isArray(object)) return this.#array(object);
      if (!isPlainObject(object)) {
        const name = (Object.getPrototypeOf(object) as { constructor?: { name?: string } })
          ?.constructor?.name;
        const what =
          name && name !== "Object" ? `a ${name} instance` : "an object with a custom prototype";
        throw this.#fail(
          `${what} would not come back as it was stored; ` +
            "store plain objects and arrays (or give the class a toJSON method)",
        );
      }
      return this.object(object, []);
    } finally {
      this.#ancestors.pop();
    }
  }

  #array(array: unknown[]): unknown[] {
    let copy: unknown[] | undefined;
    for (let index = 0; index < array.length; index++) {
      const original = array[index];
      this.#segments.push(index);
      const normalized = this.value(original, String(index));
      if (normalized === OMIT) {
        throw this.#fail("undefined inside an array (JSON would turn it into null)");
      }
      this.#segments.pop();
      if (normalized !== original && !copy) copy = array.slice(0, index);
      copy?.push(normalized);
    }
    return copy ?? array;
  }

  /** Normalizes the state itself, with the metadata entries. */
  topLevel(state: Record<string, unknown>, extra: ReadonlyArray<readonly [string, unknown]>) {
    this.#ancestors.push(state);
    return this.object(state, extra);
  }

  /**
   * Normalizes a plain object; `extra` entries (the metadata at the top level)
   * are merged in key order.
   */
  object(object: Record<string, unknown>, extra: ReadonlyArray<readonly [string, unknown]>) {
    const keys = Object.keys(object);
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
      const original = object[key];
      this.#segments.push(key);
      const normalized = this.value(original, key);
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

  #fail(reason: string): StoreSerializeError {
    let path = "$";
    for (const segment of this.#segments) {
      path +=
        typeof segment === "number"
          ? `[${segment}]`
          : /^[A-Za-z_$][\w$]*$/.test(segment)
            ? `.${segment}`
            : `[${JSON.stringify(segment)}]`;
    }
    return new StoreSerializeError(this.#storePath, path, reason);
  }
}

/** Marks where the epoch goes; JSON never puts a raw newline inside a string, so this line is unique. */
const EPOCH_LINE = `\n  "${WRITE_EPOCH_KEY}": 0`;

/**
 * @internal Serializes a caller's state (a plain object without reserved
 * keys, checked by the caller) with its metadata: keys sorted (integer-like
 * keys first, in numeric order, as JavaScript orders them), 2-space indentation.
 * @throws {@link StoreSerializeError} for values JSON cannot carry faithfully.
 */
export function serializeState(
  state: Record<string, unknown>,
  schemaVersion: number,
  storePath: string,
): SerializedState {
  const normalizer = new Normalizer(storePath);
  const withMeta = normalizer.topLevel(state, [
    [SCHEMA_VERSION_KEY, schemaVersion],
    [WRITE_EPOCH_KEY, 0],
  ]);
  const text = JSON.stringify(withMeta, null, 2);
  const at = text.indexOf(EPOCH_LINE) + EPOCH_LINE.length - 1;
  const head = text.slice(0, at);
  const tail = text.slice(at + 1);
  return {
    head,
    tail,
    byteLength: Buffer.byteLength(head, "utf8") + Buffer.byteLength(tail, "utf8"),
    droppedProtoKeys: normalizer.droppedProtoKeys,
  };
}

/** @internal The file text for a given epoch. */
export function composeFileText(serialized: SerializedState, writeEpoch: number): string {
  return `${serialized.head}${writeEpoch}${serialized.tail}`;
}

/** @internal The caller's state from a file's text: a fresh object without the metadata keys. */
export function callerStateOf(fileText: string): Record<string, unknown> {
  const {
    [SCHEMA_VERSION_KEY]: _version,
    [WRITE_EPOCH_KEY]: _epoch,
    ...state
  } = JSON.parse(fileText) as Record<string, unknown>;
  return state;
}

/** @internal What a store file holds, once parsed and checked. */
export type ParsedFile =
  | {
      readonly ok: true;
      /** The caller's state, without the metadata keys and without `__proto__` keys. */
      readonly state: Record<string, unknown>;
      readonly schemaVersion: number;
      readonly writeEpoch: number;
      readonly droppedProtoKeys: number;
    }
  | { readonly ok: false; readonly reason: string };

/**
 * @internal Parses a store file. A file without metadata (plain JSON written by
 * something else) reads as schema version 1, epoch 0, so existing state files
 * can be adopted.
 */
export function parseFileText(text: string): ParsedFile {
  let droppedProtoKeys = 0;
  let value: unknown;
  try {
    // A reviver is slow, so it only runs when a `__proto__` key could be
    // present, spelled out or hidden behind a \u escape.
    value =
      text.includes("__proto__") || text.includes("\\u")
        ? JSON.parse(text, (key, member) => {
            if (key !== "__proto__") return member;
            droppedProtoKeys++;
            return undefined;
          })
        : JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not valid JSON (${(error as Error).message})` };
  }
  if (!isPlainObject(value)) return { ok: false, reason: "not a JSON object" };
  const { [SCHEMA_VERSION_KEY]: schemaVersion = 1, [WRITE_EPOCH_KEY]: writeEpoch = 0 } = value;
  if (!Number.isSafeInteger(schemaVersion) || (schemaVersion as number) < 1) {
    return { ok: false, reason: `${SCHEMA_VERSION_KEY} is not a whole number >= 1` };
  }
  if (!Number.isSafeInteger(writeEpoch) || (writeEpoch as number) < 0) {
    return { ok: false, reason: `${WRITE_EPOCH_KEY} is not a whole number >= 0` };
  }
  const { [SCHEMA_VERSION_KEY]: _version, [WRITE_EPOCH_KEY]: _epoch, ...state } = value;
  return {
    ok: true,
    state,
    schemaVersion: schemaVersion as number,
    writeEpoch: writeEpoch as number,
    droppedProtoKeys,
  };
}

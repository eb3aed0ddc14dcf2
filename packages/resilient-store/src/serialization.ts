import { StoreSerializeError } from "./errors.js";

/** The keys the store adds to the caller's state in the file. */
export const SCHEMA_VERSION_KEY = "_schemaVersion";
/** @see SCHEMA_VERSION_KEY */
export const WRITE_EPOCH_KEY = "_writeEpoch";

/**
 * @internal A caller's state turned into the top-level entries of the file,
 * each already rendered, so the metadata can be slotted in later (inside the
 * mutex, once the epoch is known) without serializing twice.
 */
export interface SerializedState {
  /** `[key, rendered entry]` in key order; the entry is `  "key": value`. */
  readonly entries: ReadonlyArray<readonly [string, string]>;
  /** The caller's state alone, as JSON: what `get()` parses. */
  readonly callerText: string;
  /** How many `__proto__` keys were dropped. */
  readonly droppedProtoKeys: number;
}

/** @internal Tells whether `value` is an object the store can hold at the top level. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Renders JSON with every object's keys in code-unit order and 2-space
 * indentation, refusing values that JSON would silently change or drop (so a
 * state never comes back different from what was stored) and dropping
 * `__proto__` keys.
 */
class Serializer {
  readonly #storePath: string;
  readonly #segments: Array<string | number> = [];
  readonly #ancestors = new Set<object>();
  droppedProtoKeys = 0;

  constructor(storePath: string) {
    this.#storePath = storePath;
  }

  /** @returns the rendered value, or undefined for a property JSON omits (an `undefined` value). */
  render(value: unknown, key: string, indent: string, toJsonApplied = false): string | undefined {
    switch (typeof value) {
      case "string":
        return JSON.stringify(value);
      case "number":
        if (Number.isFinite(value)) return String(value);
        throw this.#fail(`${value} has no JSON form (it would be stored as null)`);
      case "boolean":
        return value ? "true" : "false";
      case "undefined":
        return undefined;
      case "bigint":
        throw this.#fail("a BigInt has no JSON form; store it as a string");
      case "symbol":
        throw this.#fail("a symbol has no JSON form");
      case "function":
        throw this.#fail("a function cannot be stored");
    }
    if (value === null) return "null";
    const object = value as Record<string, unknown>;
    if (!toJsonApplied && typeof object.toJSON === "function") {
      return this.render((object.toJSON as (key: string) => unknown)(key), key, indent, true);
    }
    if (this.#ancestors.has(object)) throw this.#fail("circular reference");
    this.#ancestors.add(object);
    try {
      if (Array.isArray(object)) return this.#renderArray(object, indent);
      if (!isPlainObject(object)) {
        const name = (Object.getPrototypeOf(object) as { constructor?: { name?: string } })
          ?.constructor?.name;
        throw this.#fail(
          `a ${name || "non-plain"} object would not come back as it was stored; ` +
            "store plain objects and arrays (or give the class a toJSON method)",
        );
      }
      return this.#renderObject(object, indent);
    } finally {
      this.#ancestors.delete(object);
    }
  }

  #renderArray(array: unknown[], indent: string): string {
    if (array.length === 0) return "[]";
    const inner = `${indent}  `;
    let text = "[";
    for (let index = 0; index < array.length; index++) {
      this.#segments.push(index);
      const rendered = this.render(array[index], String(index), inner);
      if (rendered === undefined) {
        throw this.#fail("undefined inside an array (JSON would turn it into null)");
      }
      this.#segments.pop();
      text += `${index === 0 ? "\n" : ",\n"}${inner}${rendered}`;
    }
    return `${text}\n${indent}]`;
  }

  #renderObject(object: Record<string, unknown>, indent: string): string {
    const inner = `${indent}  `;
    let text = "";
    for (const key of Object.keys(object).sort()) {
      if (key === "__proto__") {
        this.droppedProtoKeys++;
        continue;
      }
      this.#segments.push(key);
      const rendered = this.render(object[key], key, inner);
      this.#segments.pop();
      if (rendered === undefined) continue;
      text += `${text === "" ? "\n" : ",\n"}${inner}${JSON.stringify(key)}: ${rendered}`;
    }
    return text === "" ? "{}" : `{${text}\n${indent}}`;
  }

  /** Renders the top level as separate entries. */
  entries(state: Record<string, unknown>): Array<readonly [string, string]> {
    const result: Array<readonly [string, string]> = [];
    this.#ancestors.add(state);
    for (const key of Object.keys(state).sort()) {
      if (key === "__proto__") {
        this.droppedProtoKeys++;
        continue;
      }
      this.#segments.push(key);
      const rendered = this.render(state[key], key, "  ");
      this.#segments.pop();
      if (rendered !== undefined) result.push([key, `  ${JSON.stringify(key)}: ${rendered}`]);
    }
    return result;
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

/**
 * @internal Serializes a caller's state (a plain object, checked by the caller).
 * @throws {@link StoreSerializeError} for values JSON cannot carry faithfully.
 */
export function serializeState(state: Record<string, unknown>, storePath: string): SerializedState {
  const serializer = new Serializer(storePath);
  const entries = serializer.entries(state);
  return {
    entries,
    callerText: joinEntries(entries.map(([, entry]) => entry)),
    droppedProtoKeys: serializer.droppedProtoKeys,
  };
}

/** @internal The file text: the caller's entries with the metadata slotted in key order. */
export function composeFileText(
  serialized: SerializedState,
  schemaVersion: number,
  writeEpoch: number,
): string {
  const meta: Array<readonly [string, string]> = [
    [SCHEMA_VERSION_KEY, `  "${SCHEMA_VERSION_KEY}": ${schemaVersion}`],
    [WRITE_EPOCH_KEY, `  "${WRITE_EPOCH_KEY}": ${writeEpoch}`],
  ];
  const lines: string[] = [];
  let metaIndex = 0;
  for (const [key, entry] of serialized.entries) {
    while (metaIndex < meta.length && meta[metaIndex]![0] < key) lines.push(meta[metaIndex++]![1]);
    lines.push(entry);
  }
  while (metaIndex < meta.length) lines.push(meta[metaIndex++]![1]);
  return joinEntries(lines);
}

function joinEntries(lines: string[]): string {
  return lines.length === 0 ? "{}" : `{\n${lines.join(",\n")}\n}`;
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

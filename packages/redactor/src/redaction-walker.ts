import { placeholder } from "./secret-patterns.js";
import type { SensitiveKeys } from "./sensitive-keys.js";

/** Stands for a value that could not be read (a getter or proxy trap threw). */
export const UNREADABLE = "[Unreadable]";
/** Stands for an object already being walked higher up (a cycle). */
export const CIRCULAR = "[Circular]";
/** Stands for an object nested deeper than `maxDepth`. */
export const MAX_DEPTH = "[MaxDepth]";

type RedactText = (text: string) => string;

const NATIVE_ERROR_TYPES = [
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
] as const;

/** Properties that {@link RedactionWalker} renders itself rather than copying. */
const ERROR_FIELDS = new Set(["name", "message", "stack", "code", "cause", "errors"]);

/**
 * True for errors, including those from another realm (a `vm` context, a
 * worker) that `instanceof Error` misses.
 */
export function isErrorLike(value: unknown): value is Error {
  if (value instanceof Error) return true;
  if (typeof value !== "object" || value === null) return false;
  try {
    return Object.prototype.toString.call(value) === "[object Error]";
  } catch {
    return false;
  }
}

/** What {@link read} returns when the property could not be read. */
const FAILED: unique symbol = Symbol("read failed");

/** Reads a property that may be a throwing getter or sit behind a proxy. */
function read(object: object, key: PropertyKey): unknown {
  try {
    return (object as Record<PropertyKey, unknown>)[key];
  } catch {
    return FAILED;
  }
}

/** {@link read}, with a failure read as `undefined`. */
function readOrUndefined(object: object, key: PropertyKey): unknown {
  const value = read(object, key);
  return value === FAILED ? undefined : value;
}

/**
 * For each copy that had a key clash: the next number to try after each
 * clashing key, so numbering `key#2`, `key#3`… stays linear in the number
 * of keys however many redact to the same placeholder.
 */
const nextCopyNumbers = new WeakMap<object, Map<string, number>>();

/**
 * Sets `key` on a fresh object, as `key#2`, `key#3`… when it is taken (two
 * keys redacted to the same placeholder), without `__proto__` ever reaching
 * the prototype setter.
 */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  let unique = key;
  if (Object.hasOwn(target, key)) {
    let numbers = nextCopyNumbers.get(target);
    if (numbers === undefined) {
      numbers = new Map();
      nextCopyNumbers.set(target, numbers);
    }
    let copy = numbers.get(key) ?? 2;
    do unique = `${key}#${copy++}`;
    while (Object.hasOwn(target, unique));
    numbers.set(key, copy);
  }
  if (unique === "__proto__") {
    Object.defineProperty(target, unique, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[unique] = value;
  }
}

/** Copies own enumerable properties the way {@link define} sets them. */
function assignFields(target: object, source: Record<string, unknown>): void {
  for (const key of Object.keys(source))
    define(target as Record<string, unknown>, key, source[key]);
}

/** `Buffer`, `Uint8Array`, `WeakMap`…: the constructor's name, else the string tag. */
function typeName(value: object): string {
  const maker = readOrUndefined(value, "constructor");
  if (typeof maker === "function" && maker.name) return maker.name;
  const tag = readOrUndefined(value, Symbol.toStringTag);
  return typeof tag === "string" ? tag : "Object";
}

/**
 * Walks any value into a redacted, JSON-safe copy: strings pass through the
 * patterns, credential-named keys are replaced whole, and everything JSON or
 * a console would choke on (cycles, bigint, Maps, Buffers, throwing getters)
 * becomes a plain, readable stand-in. It never mutates what it walks.
 */
export class RedactionWalker {
  readonly #text: RedactText;
  readonly #keys: SensitiveKeys;
  readonly #maxDepth: number;
  /** Clean keys → placeholder name of their values ("" for ordinary keys). */
  readonly #cleanKeys = new Map<string, string>();

  constructor(text: RedactText, keys: SensitiveKeys, maxDepth: number) {
    this.#text = text;
    this.#keys = keys;
    this.#maxDepth = maxDepth;
  }

  /** A redacted, JSON-safe copy of `value`; never throws. */
  value(value: unknown): unknown {
    try {
      return this.#walk(value, 0, new Set());
    } catch {
      return UNREADABLE;
    }
  }

  /** A new Error that mirrors `error` with every part redacted; never throws. */
  error(error: unknown): Error {
    try {
      return this.#copyError(error, 0, new Set());
    } catch {
      return new Error(UNREADABLE);
    }
  }

  #walk(value: unknown, depth: number, ancestors: Set<object>): unknown {
    switch (typeof value) {
      case "string":
        return this.#text(value);
      case "number":
      case "boolean":
      case "undefined":
        return value;
      case "bigint":
        return value.toString();
      case "symbol":
        return this.#text(value.toString());
      case "function": {
        const name = readOrUndefined(value, "name");
        return `[Function: ${typeof name === "string" && name ? this.#text(name) : "anonymous"}]`;
      }
    }
    if (value === null) return null;
    const object = value as object;
    if (ancestors.has(object)) return CIRCULAR;
    if (depth >= this.#maxDepth) return MAX_DEPTH;
    ancestors.add(object);
    try {
      return this.#walkObject(object, depth, ancestors);
    } catch {
      return UNREADABLE;
    } finally {
      ancestors.delete(object);
    }
  }

  #walkObject(object: object, depth: number, ancestors: Set<object>): unknown {
    if (isErrorLike(object)) return this.#errorRecord(object, depth, ancestors);
    if (object instanceof Date) {
      return Number.isNaN(object.getTime()) ? "Invalid Date" : object.toISOString();
    }
    if (object instanceof RegExp) return this.#text(String(object));
    // Boxed primitives (`new String("…")`) are their value, not an object of indices.
    if (object instanceof String || object instanceof Number || object instanceof Boolean) {
      return this.#walk(object.valueOf(), depth, ancestors);
    }
    // Binary content is never shown: it could hold anything, in any encoding.
    if (ArrayBuffer.isView(object)) return `[${typeName(object)}: ${object.byteLength} bytes]`;
    if (
      object instanceof ArrayBuffer ||
      (typeof SharedArrayBuffer === "function" && object instanceof SharedArrayBuffer)
    ) {
      return `[${typeName(object)}: ${object.byteLength} bytes]`;
    }
    if (Array.isArray(object)) {
      const copy: unknown[] = [];
      for (let index = 0; index < object.length; index++) {
        const entry = read(object, index);
        copy.push(entry === FAILED ? UNREADABLE : this.#walk(entry, depth + 1, ancestors));
      }
      return copy;
    }
    if (object instanceof Map) return this.#entries(object, depth, ancestors);
    if (object instanceof Set) {
      return [...object].map((entry) => this.#walk(entry, depth + 1, ancestors));
    }
    if (object instanceof URLSearchParams) return this.#text(object.toString());
    if (typeof Headers === "function" && object instanceof Headers) {
      return this.#entries(object, depth, ancestors);
    }
    if (object instanceof WeakMap || object instanceof WeakSet || object instanceof Promise) {
      return `[${typeName(object)}]`;
    }
    const toJSON = readOrUndefined(object, "toJSON");
    if (typeof toJSON === "function") {
      const json: unknown = toJSON.call(object, "");
      if (json !== object) return this.#walk(json, depth + 1, ancestors);
    }
    return this.#record(object, depth, ancestors, undefined);
  }

  /** A Map or Headers: a plain object when every key is a string, else `[key, value]` pairs. */
  #entries(
    map: Iterable<[unknown, unknown]>,
    depth: number,
    ancestors: Set<object>,
  ): Record<string, unknown> | unknown[] {
    const entries = [...map];
    if (entries.every(([key]) => typeof key === "string")) {
      const copy: Record<string, unknown> = {};
      for (const [key, value] of entries) {
        define(
          copy,
          this.#text(key as string),
          this.#field(key as string, value, depth, ancestors),
        );
      }
      return copy;
    }
    return entries.map(([key, value]) => [
      this.#walk(key, depth + 1, ancestors),
      typeof key === "string"
        ? this.#field(key, value, depth, ancestors)
        : this.#walk(value, depth + 1, ancestors),
    ]);
  }

  /** Own enumerable string-keyed properties, except those in `skip`. */
  #record(
    object: object,
    depth: number,
    ancestors: Set<object>,
    skip: ReadonlySet<string> | undefined,
  ): Record<string, unknown> {
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(object)) {
      if (skip?.has(key)) continue;
      const entry = read(object, key);
      define(
        copy,
        this.#key(key),
        entry === FAILED ? UNREADABLE : this.#field(key, entry, depth, ancestors),
      );
    }
    return copy;
  }

  /** The value under `key`: replaced whole when the key names a credential. */
  #field(key: string, value: unknown, depth: number, ancestors: Set<object>): unknown {
    const name = this.#sensitiveName(key);
    if (name === undefined) return this.#walk(value, depth + 1, ancestors);
    // Absence, emptiness and flags carry no secret and help debugging.
    if (value === undefined || value === null || value === "" || typeof value === "boolean") {
      return value;
    }
    return placeholder(name);
  }

  /** An error as plain data: name, message, stack, code, its own fields, cause, errors. */
  #errorRecord(error: Error, depth: number, ancestors: Set<object>): Record<string, unknown> {
    const record: Record<string, unknown> = {
      name: this.#describe(read(error, "name"), "Error"),
      message: this.#describe(read(error, "message"), ""),
    };
    const stack = readOrUndefined(error, "stack");
    if (typeof stack === "string") record.stack = this.#text(stack);
    const code = readOrUndefined(error, "code");
    if (code !== undefined) record.code = this.#walk(code, depth + 1, ancestors);
    assignFields(record, this.#record(error, depth, ancestors, ERROR_FIELDS));
    if ("cause" in error)
      record.cause = this.#walk(readOrUndefined(error, "cause"), depth + 1, ancestors);
    const errors = readOrUndefined(error, "errors");
    if (Array.isArray(errors)) record.errors = this.#walk(errors, depth + 1, ancestors);
    return record;
  }

  #describe(value: unknown, fallback: string): string {
    if (value === FAILED) return UNREADABLE;
    return value === undefined ? fallback : this.#text(String(value));
  }

  /**
   * An object key, redacted. Keys repeat from one object to the next, so a
   * key found clean is remembered with the placeholder name its values get
   * (a bounded map; a key that held a secret is never kept).
   */
  #key(key: string): string {
    if (this.#cleanKeys.has(key)) return key;
    const redacted = this.#text(key);
    if (redacted === key && key.length <= 64 && this.#cleanKeys.size < 10_000) {
      this.#cleanKeys.set(key, this.#keys.placeholderFor(key) ?? "");
    }
    return redacted;
  }

  /** The placeholder name for values under `key`, or undefined for an ordinary key. */
  #sensitiveName(key: string): string | undefined {
    const cached = this.#cleanKeys.get(key);
    if (cached === undefined) return this.#keys.placeholderFor(key);
    return cached === "" ? undefined : cached;
  }

  #copyError(error: unknown, depth: number, ancestors: Set<object>): Error {
    if (!isErrorLike(error)) return this.#errorFromValue(error, depth, ancestors);
    ancestors.add(error);
    try {
      const name = this.#describe(read(error, "name"), "Error");
      const message = this.#describe(read(error, "message"), "");
      const rawErrors = readOrUndefined(error, "errors");
      const errors = Array.isArray(rawErrors)
        ? rawErrors.map((entry) => this.#nested(entry, depth, ancestors))
        : undefined;
      const copy =
        error instanceof AggregateError
          ? new AggregateError(errors ?? [], message)
          : new (NATIVE_ERROR_TYPES.find((type) => error instanceof type) ?? Error)(message);
      if (copy.name !== name) hide(copy, "name", name);
      const stack = readOrUndefined(error, "stack");
      hide(copy, "stack", typeof stack === "string" ? this.#text(stack) : `${name}: ${message}`);
      const fields = copy as unknown as Record<string, unknown>;
      const code = readOrUndefined(error, "code");
      if (code !== undefined) fields.code = this.#walk(code, depth + 1, ancestors);
      assignFields(copy, this.#record(error, depth, ancestors, ERROR_FIELDS));
      if (errors !== undefined && !(copy instanceof AggregateError)) hide(copy, "errors", errors);
      if ("cause" in error)
        hide(copy, "cause", this.#nested(readOrUndefined(error, "cause"), depth, ancestors));
      copyBeauvoirMarkers(error, copy);
      return copy;
    } finally {
      ancestors.delete(error);
    }
  }

  /** A cause or an entry of `errors`: errors stay errors, anything else becomes data. */
  #nested(value: unknown, depth: number, ancestors: Set<object>): unknown {
    if (!isErrorLike(value)) return this.#walk(value, depth + 1, ancestors);
    if (ancestors.has(value)) return CIRCULAR;
    if (depth + 1 >= this.#maxDepth) return MAX_DEPTH;
    return this.#copyError(value, depth + 1, ancestors);
  }

  /** Something thrown that is not an Error: a string, an object with a `message`, anything. */
  #errorFromValue(value: unknown, depth: number, ancestors: Set<object>): Error {
    if (typeof value === "object" && value !== null) {
      const message = readOrUndefined(value, "message");
      if (typeof message === "string") {
        const copy = new Error(this.#text(message));
        const name = readOrUndefined(value, "name");
        if (typeof name === "string") hide(copy, "name", this.#text(name));
        const fields = this.#walk(value, depth, ancestors);
        if (typeof fields === "object" && fields !== null) {
          const { message: _message, name: _name, ...rest } = fields as Record<string, unknown>;
          assignFields(copy, rest);
        }
        return copy;
      }
    }
    const redacted = this.#walk(value, depth, ancestors);
    if (typeof redacted === "string") return new Error(redacted);
    let message: string;
    try {
      message = JSON.stringify(redacted) ?? String(redacted);
    } catch {
      message = UNREADABLE;
    }
    return new Error(message);
  }
}

/** Defines a non-enumerable own property, as the engine does for `stack` and `cause`. */
function hide(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

/**
 * Keeps `BeauvoirError.isInstance()` and `XError.isInstance()` working on the
 * copy: they look for `Symbol.for("beauvoir.error…")` markers.
 */
function copyBeauvoirMarkers(source: object, target: object): void {
  let symbols: symbol[];
  try {
    symbols = Object.getOwnPropertySymbols(source);
  } catch {
    return;
  }
  for (const symbol of symbols) {
    const key = Symbol.keyFor(symbol);
    if (key?.startsWith("beauvoir.error") && readOrUndefined(source, symbol) === true) {
      Object.defineProperty(target, symbol, { value: true });
    }
  }
}

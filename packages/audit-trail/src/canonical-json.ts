/** Thrown by {@link canonicalJson} for a value JSON cannot represent; the message names the path. */
export class CanonicalJsonError extends TypeError {}

/**
 * How deep {@link canonicalJson} goes into nested objects and arrays. Deeper
 * values are refused: other verifiers must parse every record (Python's
 * `json` module stops near 1,000 levels), and recursion must not reach the
 * stack limit.
 */
export const CANONICAL_JSON_MAX_DEPTH = 256;

/**
 * Serializes `value` the way the audit trail hashes it: like `JSON.stringify`
 * (same escaping, same number formatting, `toJSON` honoured, `undefined`,
 * functions and symbols dropped from objects and turned into `null` in arrays,
 * non-finite numbers written as `null`), with no whitespace and with the keys of
 * every object, at every depth, sorted by UTF-16 code units (the order of
 * JavaScript's default `sort()`, and of RFC 8785).
 *
 * For JSON data this is the JSON Canonicalization Scheme of RFC 8785; parsing
 * the output and serializing it again gives the same bytes.
 *
 * @param value - anything JSON can represent.
 * @returns the canonical JSON text, or `undefined` when `value` itself is not
 *   representable at the top level (`undefined`, a function, a symbol).
 * @throws {@link CanonicalJsonError} on a `BigInt`, a cycle, or nesting deeper
 *   than {@link CANONICAL_JSON_MAX_DEPTH} levels.
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: { d: [1, undefined], c: "x" } }); // '{"a":{"c":"x","d":[1,null]},"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string | undefined {
  return serialize(value, "", [], "$");
}

function serialize(
  value: unknown,
  key: string,
  ancestors: object[],
  path: string,
): string | undefined {
  let current = value;
  if (
    typeof current === "object" &&
    current !== null &&
    typeof (current as { toJSON?: unknown }).toJSON === "function"
  ) {
    current = (current as { toJSON(key: string): unknown }).toJSON(key);
  }
  switch (typeof current) {
    case "string":
      return JSON.stringify(current);
    case "number":
      return Number.isFinite(current) ? JSON.stringify(current) : "null";
    case "boolean":
      return current ? "true" : "false";
    case "bigint":
      throw new CanonicalJsonError(`Cannot serialize a BigInt at ${path}`);
    case "object":
      if (current === null) return "null";
      return serializeContainer(current, ancestors, path);
    default:
      // undefined, function, symbol: dropped by the caller (object member) or null (array element).
      return undefined;
  }
}

function serializeContainer(value: object, ancestors: object[], path: string): string {
  if (ancestors.includes(value))
    throw new CanonicalJsonError(`Cannot serialize a cycle at ${path}`);
  if (ancestors.length >= CANONICAL_JSON_MAX_DEPTH) {
    throw new CanonicalJsonError(
      `Cannot serialize values nested deeper than ${CANONICAL_JSON_MAX_DEPTH} levels (at ${path.slice(0, 80)}…)`,
    );
  }
  ancestors.push(value);
  try {
    if (Array.isArray(value)) {
      const items: string[] = [];
      for (let index = 0; index < value.length; index++) {
        items.push(
          serialize(value[index], String(index), ancestors, `${path}[${index}]`) ?? "null",
        );
      }
      return `[${items.join(",")}]`;
    }
    // Boxed primitives serialize as their primitive, as in JSON.stringify.
    if (value instanceof Number || value instanceof String || value instanceof Boolean) {
      return serialize(value.valueOf(), "", ancestors, path) ?? "null";
    }
    const members: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const serialized = serialize(
        (value as Record<string, unknown>)[key],
        key,
        ancestors,
        `${path}.${key}`,
      );
      if (serialized !== undefined) members.push(`${JSON.stringify(key)}:${serialized}`);
    }
    return `{${members.join(",")}}`;
  } finally {
    ancestors.pop();
  }
}

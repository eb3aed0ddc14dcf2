import { createHash } from "node:crypto";

/**
 * Serializes `value` as JSON with the keys of every object sorted, so two
 * parameter objects that differ only in key order give the same text.
 * @param value - JSON data (objects, arrays, strings, finite numbers, booleans, null).
 * @returns the canonical JSON text.
 * @throws TypeError for values JSON cannot represent faithfully (bigint, function,
 *   symbol, Map, Set, non-finite numbers) and for cycles: silently dropping them
 *   would let two different calls share one key.
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: { d: 2, c: 3 } }); // '{"a":{"c":3,"d":2},"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, new Set(), "params");
}

function serialize(value: unknown, ancestors: Set<object>, path: string): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value))
        throw new TypeError(`${path} is ${value}, which JSON cannot represent`);
      return JSON.stringify(value);
    case "object":
      break;
    default:
      throw new TypeError(`${path} is a ${typeof value}, which JSON cannot represent`);
  }
  const object = value as object;
  if (typeof (object as { toJSON?: unknown }).toJSON === "function") {
    return serialize((object as { toJSON(): unknown }).toJSON(), ancestors, path);
  }
  if (object instanceof Map || object instanceof Set) {
    throw new TypeError(
      `${path} is a ${object.constructor.name}; convert it to an array or object first`,
    );
  }
  if (ancestors.has(object)) throw new TypeError(`${path} refers back to itself (a cycle)`);
  ancestors.add(object);
  let text: string;
  if (Array.isArray(object)) {
    text = `[${object
      .map((item, index) =>
        item === undefined ? "null" : serialize(item, ancestors, `${path}[${index}]`),
      )
      .join(",")}]`;
  } else {
    const record = object as Record<string, unknown>;
    const parts: string[] = [];
    for (const name of Object.keys(record).sort()) {
      const item = record[name];
      if (item === undefined) continue;
      parts.push(`${JSON.stringify(name)}:${serialize(item, ancestors, `${path}.${name}`)}`);
    }
    text = `{${parts.join(",")}}`;
  }
  ancestors.delete(object);
  return text;
}

/**
 * Builds the idempotency key of a side effect:
 * `{action}:{scope}/{resource}:{first 16 hex digits of SHA-256(canonical params)}`.
 * @param action - what is done, e.g. `add_issue_comment`; must not be empty or contain `:`.
 * @param scope - where, e.g. `acme/widgets`.
 * @param resource - on what, e.g. `issue-12`.
 * @param params - the call's parameters (JSON data); key order never matters.
 * @returns the key.
 * @throws TypeError for an empty action, an action containing `:`, non-string parts,
 *   or params JSON cannot represent.
 * @example
 * ```ts
 * generateIdempotencyKey("add_labels", "acme/widgets", "issue-12", { labels: ["bug"] });
 * // "add_labels:acme/widgets/issue-12:" + 16 hex digits
 * ```
 */
export function generateIdempotencyKey(
  action: string,
  scope: string,
  resource: string,
  params: unknown,
): string {
  if (typeof action !== "string" || action.length === 0 || action.includes(":")) {
    throw new TypeError(
      `action must be a non-empty string without ":" (got ${JSON.stringify(action)})`,
    );
  }
  if (typeof scope !== "string") throw new TypeError("scope must be a string");
  if (typeof resource !== "string") throw new TypeError("resource must be a string");
  const digest = createHash("sha256").update(canonicalJson(params)).digest("hex").slice(0, 16);
  return `${action}:${scope}/${resource}:${digest}`;
}

/**
 * The action a key was generated for (its text before the first `:`).
 * @param key - an idempotency key.
 * @returns the action segment, or the whole key if it has no `:`.
 */
export function actionOfKey(key: string): string {
  const end = key.indexOf(":");
  return end === -1 ? key : key.slice(0, end);
}

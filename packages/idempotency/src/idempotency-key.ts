import { createHash } from "node:crypto";
import { defaultRedactor, type IndexRedactor, redactText } from "./redaction.js";

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

/** Shown instead of a scope or resource the redactor cannot show safely in a key. */
const HIDDEN = "[REDACTED]";

/**
 * Builds the idempotency key of a side effect:
 * `{action}:{scope}/{resource}:{16 hex}`, where the visible scope and resource
 * are redacted and the 16 hex digits are the start of the SHA-256 of the
 * canonical JSON of the unredacted `{ scope, resource, params }`.
 *
 * So a secret in the resource (`?access_token=…`) never shows in the key, yet
 * two different secrets never share a key; scope and resource cannot slide
 * into each other (`acme/widgets` + `issues/12` differs from `acme` +
 * `widgets/issues/12`); equal inputs always give the same key; and redacting
 * the key gives the same key back, so it can be written anywhere as is.
 * @param action - what is done, e.g. `add_issue_comment`; must not be empty or contain `:`.
 * @param scope - where, e.g. `acme/widgets`.
 * @param resource - on what, e.g. `issue-12`.
 * @param params - the call's parameters (JSON data); key order never matters.
 * @param redactor - hides secrets in the visible part. @default a shared `SecretRedactor`
 * @returns the key.
 * @throws TypeError for an empty action, an action containing `:`, non-string parts,
 *   params JSON cannot represent, or a redactor that changes even `{action}:[REDACTED]:{hex}`.
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
  redactor: IndexRedactor = defaultRedactor(),
): string {
  if (typeof action !== "string" || action.length === 0 || action.includes(":")) {
    throw new TypeError(
      `action must be a non-empty string without ":" (got ${JSON.stringify(action)})`,
    );
  }
  if (typeof scope !== "string") throw new TypeError("scope must be a string");
  if (typeof resource !== "string") throw new TypeError("resource must be a string");
  // The canonical JSON of { scope, resource, params } (keys in sorted order):
  // strings are quoted and escaped, so no two inputs share a hash input.
  const hashed = `{"params":${canonicalJson(params)},"resource":${JSON.stringify(resource)},"scope":${JSON.stringify(scope)}}`;
  const digest = createHash("sha256").update(hashed).digest("hex").slice(0, 16);
  const prefix = `${action}:`;
  const suffix = `:${digest}`;
  // A pattern that reads `key=value` may take the digest for part of the value,
  // so the whole key must come out of the redactor unchanged; when it does not,
  // less of the scope and resource is shown.
  const candidates = [
    () => `${redactText(redactor, `${prefix}${scope}/${resource}`)}${suffix}`,
    () => redactText(redactor, `${prefix}${scope}/${resource}${suffix}`),
    () => `${prefix}${redactText(redactor, scope)}/${HIDDEN}${suffix}`,
    () => `${prefix}${HIDDEN}${suffix}`,
  ];
  for (const candidate of candidates) {
    const key = candidate();
    if (key.startsWith(prefix) && key.endsWith(suffix) && redactText(redactor, key) === key) {
      return key;
    }
  }
  throw new TypeError(
    `the redactor changes every key of action "${action}"; a redactor must leave its own output as it is`,
  );
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

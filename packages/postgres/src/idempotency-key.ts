import { createHash } from "node:crypto";
import { canonicalJson } from "@beauvoir/idempotency";

/** The part of `@beauvoir/redactor`'s `SecretRedactor` used on key text. */
export interface KeyRedactor {
  /** Returns `text` with secrets replaced. */
  redact(text: string): string;
}

/** Builds an idempotency key; `IdempotencyIndex.generateKey` of the file backend fits. */
export type GenerateKey = (
  action: string,
  scope: string,
  resource: string,
  params: unknown,
) => string;

/**
 * The file index's key rule, for a backend that is not given one:
 * `{action}:{redacted scope}/{redacted resource}:{16 hex}`, the hex being the
 * first 16 digits of SHA-256 over the canonical JSON of
 * `{ params, resource, scope }` *before* redaction, so two calls that differ
 * only in a secret still get different keys while no secret appears in a key.
 * @param redactor - what removes secrets from scope and resource.
 * @returns the key function.
 * @throws TypeError (from the key function) for an empty action, an action with `:`,
 *   non-string parts, or params JSON cannot represent.
 * @example
 * ```ts
 * const generateKey = createKeyGenerator(new SecretRedactor());
 * generateKey("add_labels", "acme/widgets", "issue-12", { labels: ["bug"] });
 * ```
 */
export function createKeyGenerator(redactor: KeyRedactor): GenerateKey {
  return (action, scope, resource, params) => {
    if (typeof action !== "string" || action.length === 0 || action.includes(":")) {
      throw new TypeError(
        `action must be a non-empty string without ":" (got ${JSON.stringify(action)})`,
      );
    }
    if (typeof scope !== "string") throw new TypeError("scope must be a string");
    if (typeof resource !== "string") throw new TypeError("resource must be a string");
    const digest = createHash("sha256")
      .update(canonicalJson({ params, resource, scope }))
      .digest("hex")
      .slice(0, 16);
    return `${action}:${redactor.redact(scope)}/${redactor.redact(resource)}:${digest}`;
  };
}

/**
 * The action a key was made for: its text before the first `:`.
 * @param key - an idempotency key.
 * @returns the action, or the whole key when it has no `:`.
 */
export function actionOfKey(key: string): string {
  const end = key.indexOf(":");
  return end === -1 ? key : key.slice(0, end);
}

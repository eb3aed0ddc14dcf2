import { generateIdempotencyKey, type IndexRedactor } from "@beauvoir/idempotency";

/** What the default key rule needs from a redactor; `SecretRedactor` fits. */
export type KeyRedactor = IndexRedactor;

/** Builds an idempotency key; `IdempotencyIndex.generateKey` of the file backend fits. */
export type GenerateKey = (
  action: string,
  scope: string,
  resource: string,
  params: unknown,
) => string;

/**
 * The file index's key rule (`generateIdempotencyKey` of `@beauvoir/idempotency`)
 * with the backend's redactor: `{action}:{redacted scope}/{redacted resource}:{16 hex}`,
 * the hex being the start of SHA-256 over the canonical JSON of the
 * *unredacted* `{ params, resource, scope }`. No secret appears in a key, calls
 * that differ only in a secret get different keys, and both backends give a
 * call the same key.
 * @param redactor - what hides secrets in the visible part.
 * @returns the key function.
 * @example
 * ```ts
 * const generateKey = createKeyGenerator(new SecretRedactor());
 * generateKey("add_labels", "acme/widgets", "issue-12", { labels: ["bug"] });
 * ```
 */
export function createKeyGenerator(redactor: KeyRedactor): GenerateKey {
  return (action, scope, resource, params) =>
    generateIdempotencyKey(action, scope, resource, params, redactor);
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

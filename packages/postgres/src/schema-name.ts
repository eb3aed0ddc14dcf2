const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Checks a schema (PostgreSQL namespace) name and returns it double-quoted for
 * SQL text. Only lowercase letters, digits and `_` are allowed, so the quoted
 * and unquoted spellings name the same schema and nothing needs escaping.
 * @param schema - e.g. `beauvoir`.
 * @returns the quoted identifier, e.g. `"beauvoir"`.
 * @throws TypeError naming the `schema` option for anything else.
 */
export function quoteSchemaName(schema: unknown): string {
  if (typeof schema !== "string" || !SCHEMA_NAME.test(schema)) {
    throw new TypeError(
      `schema must be 1-63 characters of a-z, 0-9 and _, not starting with a digit (got ${JSON.stringify(schema)})`,
    );
  }
  return `"${schema}"`;
}

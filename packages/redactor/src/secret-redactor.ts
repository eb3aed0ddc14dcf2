import {
  applyExtraPattern,
  type CompiledExtraPattern,
  compileExtraPattern,
} from "./extra-patterns.js";
import { resolveSecretRedactorOptions, type SecretRedactorOptions } from "./options.js";
import { BuiltInPatternSet, SHORTEST_MATCH } from "./pattern-engine.js";
import { RedactionWalker } from "./redaction-walker.js";
import { SensitiveKeys } from "./sensitive-keys.js";

/**
 * Finds secrets in strings, objects and errors and replaces them with typed
 * placeholders such as `[REDACTED:github-pat]`, so that logs, audit records
 * and error reports can be written without leaking credentials.
 *
 * Every method is synchronous, runs in time linear in the size of its input
 * (for the built-in patterns), and leaves its input untouched.
 *
 * @example
 * ```ts
 * const redactor = new SecretRedactor();
 * redactor.redact("curl -H 'Authorization: Bearer 6f1c9e2b7d4a' https://api/?api_key=k1");
 * // "curl -H 'Authorization: Bearer [REDACTED:bearer]' https://api/?api_key=[REDACTED:api-key]"
 * redactor.redactAny({ headers: { cookie: "sid=1" }, url: "https://u:pw@host/" });
 * // { headers: { cookie: "[REDACTED:cookie]" }, url: "https://u:[REDACTED:url-password]@host/" }
 * ```
 */
export class SecretRedactor {
  readonly #extras: readonly CompiledExtraPattern[];
  readonly #builtIns: BuiltInPatternSet;
  readonly #walker: RedactionWalker;
  readonly #maxDepth: number;

  /**
   * @param options - extra patterns, depth limit, built-ins to disable, extra sensitive keys.
   * @throws TypeError when an extra pattern is not a global RegExp (or `{ name, pattern }`
   * with one), or another option has the wrong type.
   * @throws RangeError when `maxDepth` is out of range or `disabledPatterns` names an unknown pattern.
   */
  constructor(options: SecretRedactorOptions = {}) {
    const resolved = resolveSecretRedactorOptions(options);
    this.#extras = resolved.extraPatterns.map(compileExtraPattern);
    this.#builtIns = new BuiltInPatternSet(resolved.disabledPatterns);
    this.#maxDepth = resolved.maxDepth;
    this.#walker = new RedactionWalker(
      (text) => this.redact(text),
      new SensitiveKeys(resolved.sensitiveKeys),
      resolved.maxDepth,
    );
  }

  /** The depth limit of {@link SecretRedactor.redactAny}, as resolved. */
  get maxDepth(): number {
    return this.#maxDepth;
  }

  /** Placeholder names in the order they are tried: extra patterns first, then built-ins. */
  get patternNames(): readonly string[] {
    return [...this.#extras.map((extra) => extra.name), ...this.#builtIns.names];
  }

  /**
   * Replaces every secret found in `text` with `[REDACTED:<name>]`. Where a
   * key name or scheme gives the secret away (`password=…`, `Bearer …`), the
   * key stays and only the value is replaced. Redacting twice changes nothing.
   *
   * @param text - any text: a log line, a command line, a response body.
   * @returns the text with secrets replaced; the same string when there were none.
   * @example
   * ```ts
   * redactor.redact("postgres://app:hunter2@db:5432/main");
   * // "postgres://app:[REDACTED:url-password]@db:5432/main"
   * ```
   */
  redact(text: string): string {
    let result = typeof text === "string" ? text : String(text);
    for (const extra of this.#extras) result = applyExtraPattern(result, extra);
    return result.length < SHORTEST_MATCH ? result : this.#builtIns.redact(result);
  }

  /**
   * Returns a redacted, JSON-safe deep copy of `value`: strings (and object
   * keys) go through {@link SecretRedactor.redact}; values under credential
   * keys (`authorization`, `cookie`, `x-api-key`, `*password`, `*secret`,
   * `*token`, `*apiKey`, `*privateKey`…) are replaced whole; errors become
   * `{ name, message, stack, code, cause, errors, … }`. Cycles become
   * `"[Circular]"`, objects deeper than `maxDepth` `"[MaxDepth]"`, throwing
   * getters `"[Unreadable]"`; Maps become objects (or `[key, value]` pairs),
   * Sets arrays, Dates ISO strings, bigints decimal strings, binary data
   * `"[Buffer: n bytes]"`, and `toJSON` is honoured. Never throws; never
   * mutates `value`.
   *
   * @param value - anything a caller may log or persist.
   * @returns the redacted copy.
   * @example
   * ```ts
   * redactor.redactAny({ user: "ada", password: "hunter2", note: "token=abc" });
   * // { user: "ada", password: "[REDACTED:password]", note: "token=[REDACTED:token]" }
   * ```
   */
  redactAny(value: unknown): unknown {
    return this.#walker.value(value);
  }

  /**
   * Returns a new Error with the same `name` (and the same built-in class,
   * `TypeError`, `AggregateError`…) whose `message`, `stack`, `code`, own
   * fields, every `cause` in the chain and every entry of `errors` are
   * redacted. Causes that are not errors go through
   * {@link SecretRedactor.redactAny}. A thrown non-Error becomes an Error
   * carrying its redacted description. The original is left as it was, and
   * `BeauvoirError.isInstance()` still recognises the copy.
   *
   * @param error - anything caught.
   * @returns the redacted copy; never throws.
   * @example
   * ```ts
   * const safe = redactor.redactError(new Error("GET https://x:pw@host failed"));
   * safe.message; // "GET https://x:[REDACTED:url-password]@host failed"
   * ```
   */
  redactError(error: unknown): Error {
    return this.#walker.error(error);
  }
}

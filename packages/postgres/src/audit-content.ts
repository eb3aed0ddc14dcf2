import {
  AuditInvalidEntryError,
  type AuditRedactor,
  canonicalJson,
  checkAuditEntry,
  type DeniedEntry,
  type DryRunEntry,
  type IntentEntry,
  redactAuditField,
  redactAuditText,
} from "@beauvoir/audit-trail";
import { toJsonSafe } from "@beauvoir/idempotency";

/** The columns of an audit record its writer fills in: redacted, serialized, validated. */
export interface AuditRecordContent {
  action: string;
  target: string;
  /** Canonical JSON of the redacted params object. */
  params: string;
  dedupeKey: string | null;
}

/** The result columns of a result record. */
export interface AuditResultContent {
  /** Canonical JSON of the redacted result; `null` for none (`undefined`). */
  result: string | null;
  /** The redacted error text; `null` for none. */
  error: string | null;
}

/**
 * @internal Turns what callers pass into audit columns exactly as
 * `@beauvoir/audit-trail` would write them: every field carrying caller data
 * (`action`, `target`, `dedupeKey`, `params`, `result`, `error`) redacted first, JSON in the canonical form the hash is computed over, an
 * `Error` written as `name: message`.
 */
export class AuditContent {
  readonly #redactor: AuditRedactor;

  constructor(redactor: AuditRedactor) {
    this.#redactor = redactor;
  }

  /**
   * @throws `AuditInvalidEntryError` (`@beauvoir/audit-trail`) for a malformed entry, params JSON
   *   cannot represent, or a redactor that fails.
   */
  entry(entry: IntentEntry | DeniedEntry | DryRunEntry): AuditRecordContent {
    const { action, target, paramsJson } = checkAuditEntry(entry, this.#redactor);
    const dedupeKey = (entry as IntentEntry).dedupeKey;
    return {
      action: redactAuditText(this.#redactor, "action", action),
      target: redactAuditText(this.#redactor, "target", target),
      params: paramsJson,
      dedupeKey: dedupeKey === undefined ? null : this.dedupeKey(dedupeKey),
    };
  }

  /**
   * A dedupe key as it is stored, and so as it is looked up: redacted.
   * @throws `AuditInvalidEntryError` (`@beauvoir/audit-trail`) when it is not a string.
   */
  dedupeKey(dedupeKey: unknown): string {
    if (typeof dedupeKey !== "string") {
      throw new AuditInvalidEntryError("dedupeKey", "dedupeKey must be a string");
    }
    return redactAuditText(this.#redactor, "dedupeKey", dedupeKey);
  }

  /**
   * The result columns. A result JSON cannot represent (a `BigInt`, a `Map`, a
   * cycle) is never a reason to leave a side effect unrecorded: it is stored in
   * the idempotency index's JSON-safe form (`toJsonSafe` of
   * `@beauvoir/idempotency`), redacted; `undefined` is "no result", every time.
   * @throws `AuditInvalidEntryError` (`@beauvoir/audit-trail`) when the redactor fails.
   */
  result(result: unknown, error: string | Error | undefined): AuditResultContent {
    const safe = toJsonSafe(result);
    const resultJson =
      safe === undefined
        ? null
        : (canonicalJson(toJsonSafe(redactAuditField(this.#redactor, "result", safe))) ?? null);
    return { result: resultJson, error: error === undefined ? null : this.error(error) };
  }

  /** The redacted text of an error. */
  error(error: string | Error): string {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const redacted = redactAuditField(this.#redactor, "error", text);
    return typeof redacted === "string" ? redacted : String(redacted);
  }
}

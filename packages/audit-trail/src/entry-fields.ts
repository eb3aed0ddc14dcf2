import type { DeniedEntry, DryRunEntry, IntentEntry } from "./audit-record.js";
import { canonicalJson } from "./canonical-json.js";
import { AuditInvalidEntryError } from "./errors.js";
import { describeFailure } from "./failure-description.js";
import type { AuditRedactor } from "./options.js";

/** The fields every intent, denied and dry-run entry has, checked by {@link checkAuditEntry}. */
export interface CheckedAuditEntry {
  /** As the caller passed it: a non-empty string, not redacted yet. */
  action: string;
  /** As the caller passed it: a string, not redacted yet. */
  target: string;
  /** Canonical JSON of the redacted params: always an object. */
  paramsJson: string;
}

/**
 * Checks the fields every `record*()` entry has, and turns its `params` into
 * what a record holds: redacted, then canonical JSON (the form the record's
 * hash is computed over). The file trail and other audit backends check
 * entries through it, so one entry is refused, or written, alike everywhere.
 * @param entry - what the caller passed.
 * @param redactor - redacts `params`.
 * @returns `action` and `target` as passed, and the params JSON.
 * @throws {@link AuditInvalidEntryError} when the entry is not an object,
 *   `action` is not a non-empty string, `target` not a string, `params` not a
 *   plain object (or does not redact to one, or cannot be written as JSON), or
 *   the redactor fails.
 * @example
 * ```ts
 * const { paramsJson } = checkAuditEntry(
 *   { action: "add_label", target: "o/r#1", params: { label: "bug" } },
 *   { redactAny: (value) => value },
 * ); // '{"label":"bug"}'
 * ```
 */
export function checkAuditEntry(
  entry: IntentEntry | DeniedEntry | DryRunEntry,
  redactor: AuditRedactor,
): CheckedAuditEntry {
  if (typeof entry !== "object" || entry === null) {
    throw new AuditInvalidEntryError("entry", "entry must be an object");
  }
  const { action, target, params } = entry;
  if (typeof action !== "string" || action.length === 0) {
    throw new AuditInvalidEntryError("action", "action must be a non-empty string");
  }
  if (typeof target !== "string")
    throw new AuditInvalidEntryError("target", "target must be a string");
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    throw new AuditInvalidEntryError("params", "params must be a plain object");
  }
  const paramsJson = auditFieldJson("params", redactAuditField(redactor, "params", params));
  if (paramsJson === undefined || !paramsJson.startsWith("{")) {
    throw new AuditInvalidEntryError("params", "params did not redact to an object");
  }
  return { action, target, paramsJson };
}

/**
 * One field of an entry, redacted.
 * @param redactor - the trail's redactor.
 * @param field - the field's name, for the error.
 * @param value - the field's value.
 * @returns what the redactor made of it.
 * @throws {@link AuditInvalidEntryError} (on `field`) when the redactor throws.
 */
export function redactAuditField(redactor: AuditRedactor, field: string, value: unknown): unknown {
  try {
    return redactor.redactAny(value);
  } catch (error) {
    throw new AuditInvalidEntryError(field, `Redacting ${field} failed`, error);
  }
}

/**
 * A text field of an entry (`action`, `target`, `dedupeKey`), redacted.
 * @param redactor - the trail's redactor.
 * @param field - the field's name, for the error.
 * @param text - the field's text.
 * @returns the redacted text.
 * @throws {@link AuditInvalidEntryError} (on `field`) when the redactor throws
 *   or does not return a string.
 */
export function redactAuditText(redactor: AuditRedactor, field: string, text: string): string {
  const redacted = redactAuditField(redactor, field, text);
  if (typeof redacted !== "string") {
    throw new AuditInvalidEntryError(field, `the redactor did not return a string for ${field}`);
  }
  return redacted;
}

/**
 * @internal A field's value as canonical JSON (`undefined` for `undefined`).
 * @throws {@link AuditInvalidEntryError} (on `field`) when JSON cannot represent it.
 */
export function auditFieldJson(field: string, value: unknown): string | undefined {
  try {
    return canonicalJson(value);
  } catch (error) {
    throw new AuditInvalidEntryError(
      field,
      `${field} cannot be written as JSON: ${describeFailure(error)}`,
      error,
    );
  }
}

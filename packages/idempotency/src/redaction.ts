import { describeHttpFailure, readHttpFailure } from "@beauvoir/core";
import { SecretRedactor } from "@beauvoir/redactor";
import { MAX_JSON_DEPTH, toJsonSafe } from "./json-safe.js";

/**
 * What the index needs from a redactor; `@beauvoir/redactor`'s `SecretRedactor`
 * fits. Everything the index writes (results, error texts, actions, the
 * visible part of derived keys) passes through it first.
 */
export interface IndexRedactor {
  /** The text with every secret replaced; applying it twice changes nothing more. */
  redact(text: string): string;
  /** A redacted copy of any value. */
  redactAny(value: unknown): unknown;
}

/** Stands for a text or value the redactor threw on: never written unredacted. */
export const REDACTION_FAILED = "[RedactionFailed]";

let sharedDefault: IndexRedactor | undefined;

/**
 * The redactor used when the caller gives none: one shared `SecretRedactor`
 * walking as deep as a stored result goes.
 * @returns the shared default redactor.
 */
export function defaultRedactor(): IndexRedactor {
  sharedDefault ??= new SecretRedactor({ maxDepth: MAX_JSON_DEPTH });
  return sharedDefault;
}

/**
 * Redacts a text; a redactor that throws or returns a non-string yields a
 * placeholder, never the raw text.
 * @param redactor - the redactor.
 * @param text - the text to write.
 * @returns the redacted text.
 */
export function redactText(redactor: IndexRedactor, text: string): string {
  try {
    const redacted = redactor.redact(text);
    return typeof redacted === "string" ? redacted : REDACTION_FAILED;
  } catch {
    return REDACTION_FAILED;
  }
}

/**
 * A result as the index stores it: converted to its JSON-safe form (see
 * `toJsonSafe`), redacted, and converted again, so whatever the redactor
 * returns is plain data.
 * @param redactor - the redactor.
 * @param value - what the side effect returned.
 * @returns the stored form; `undefined` for "no result".
 */
export function redactResult(redactor: IndexRedactor, value: unknown): unknown {
  const safe = toJsonSafe(value);
  if (safe === undefined) return undefined;
  let redacted: unknown;
  try {
    redacted = redactor.redactAny(safe);
  } catch {
    return REDACTION_FAILED;
  }
  return toJsonSafe(redacted) ?? null;
}

/**
 * The text recorded for a failure: a string as it is; an HTTP failure (an
 * Octokit error, a fetch `Response`, anything with `status` and `headers`) as
 * `HTTP <status> <METHOD> <url>: <message>`; an `Error` by its message; anything
 * else by `String()`. Never throws, even for a value whose getters throw.
 * @param error - what was thrown.
 * @returns a description, not yet redacted.
 */
export function describeFailure(error: unknown): string {
  if (typeof error === "string") return error;
  try {
    const failure = readHttpFailure(error);
    if (failure) return describeHttpFailure(failure);
  } catch {
    // Fall through to the plainer descriptions.
  }
  try {
    if (error instanceof Error) return String(error.message);
  } catch {
    return "[Unreadable error]";
  }
  try {
    return String(error);
  } catch {
    return "[Unreadable error]";
  }
}

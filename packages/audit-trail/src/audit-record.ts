/**
 * What a record says happened: before (`intent`), after (`result`), refused
 * (`denied`), simulated (`dry_run`); or, for the history itself, that every
 * record from this one on is signed (`signing_started`), or that the rotated
 * files before it may be removed (`checkpoint`, written by a prune).
 */
export type AuditPhase =
  | "intent"
  | "result"
  | "denied"
  | "dry_run"
  | "signing_started"
  | "checkpoint";

/**
 * The phases, in the order the README lists them.
 * @example
 * ```ts
 * const counts = Object.fromEntries(AUDIT_PHASES.map((phase) => [phase, 0]));
 * ```
 */
export const AUDIT_PHASES: readonly AuditPhase[] = Object.freeze([
  "intent",
  "result",
  "denied",
  "dry_run",
  "signing_started",
  "checkpoint",
]);

/**
 * A rotated file a `checkpoint` record lets go, named by its last record: the
 * oldest file left may continue from it (its first record's
 * `previousSegmentHash` is `lastHash`, its seq `lastSeq + 1`).
 */
export interface PrunedSegment {
  /** Seq of the last record of the removed file. */
  lastSeq: number;
  /** Hash of that record. */
  lastHash: string;
}

/**
 * One line of the audit file, as parsed back.
 *
 * The line holds the canonical JSON of every field except `hash` and `hmac`
 * (keys sorted at every depth, no whitespace), with `"hash"` and then `"hmac"`
 * appended before the closing brace; see the README for the exact format.
 */
export interface AuditRecord {
  /** Position in the whole history, from 1, one more than the record before (across rotated files too). */
  seq: number;
  /** `hash` of the record before in the same file, or `"genesis"` for a file's first record. */
  prevHash: string;
  /** SHA-256 hex of the canonical form. */
  hash: string;
  /** HMAC-SHA256 hex of the canonical form, when the writer had a key. */
  hmac?: string;
  /** Before, after, refused or simulated. */
  phase: AuditPhase;
  /** For `result`: the seq of the intent it closes. */
  intentSeq?: number;
  /** When the caller made the call, ISO-8601 UTC. */
  ts: string;
  /** What is done, e.g. `add_issue_comment`. */
  action: string;
  /** What it is done to, e.g. `owner/repo#123`. */
  target: string;
  /** The call's parameters, redacted. `{}` on results. */
  params: Record<string, unknown>;
  /** The caller's deduplication key, when given with the intent (copied onto its result). */
  dedupeKey?: string;
  /** For `result`: what the action returned, redacted. */
  result?: unknown;
  /** For `result`: the failure, redacted; for `denied`: the reason. */
  error?: string;
  /** True for `dry_run` records. */
  dryRun: boolean;
  /**
   * Only on `signing_started` records, equal to their own `seq`: from this
   * record on, every record of the history is signed. Unsigned records before
   * it were written before a key was configured, and are covered by the
   * chain up to this signed record.
   */
  signedFromSeq?: number;
  /**
   * Only on `checkpoint` records: the rotated files (oldest first) that a
   * prune removes. The history may then start after any of them, since the
   * files are removed oldest first.
   */
  prunedSegments?: PrunedSegment[];
  /**
   * Only on the first record of a file that continues a rotated one: the
   * `hash` of the last record of the previous file, which links the files into
   * one history.
   */
  previousSegmentHash?: string;
}

/** What {@link AuditTrail.recordIntent} takes. */
export interface IntentEntry {
  /** What is about to be done, e.g. `add_issue_comment`. */
  action: string;
  /** What it is done to, e.g. `owner/repo#123`. */
  target: string;
  /** The call's parameters; redacted before they are written. */
  params: Record<string, unknown>;
  /** A key the caller uses to recognise a repeated call; stored redacted. */
  dedupeKey?: string | undefined;
}

/** What {@link AuditTrail.recordDenied} takes. */
export interface DeniedEntry {
  /** The refused action. */
  action: string;
  /** What it would have been done to. */
  target: string;
  /** The parameters of the refused call; redacted. */
  params: Record<string, unknown>;
  /** Why it was refused; stored, redacted, in the record's `error` field. */
  reason?: string | undefined;
}

/** What {@link AuditTrail.recordDryRun} takes. */
export interface DryRunEntry {
  /** The simulated action. */
  action: string;
  /** What it would have been done to. */
  target: string;
  /** The parameters; redacted. */
  params: Record<string, unknown>;
}

/** What {@link AuditTrail.findResultByIntentSeq} answers when the intent has a result. */
export interface IntentResult {
  /** Always true: a missing result is answered with `null`. */
  hasResult: true;
  /** The recorded failure, when the action failed. */
  error?: string;
  /** The recorded (redacted) return value, when there was one. */
  result?: unknown;
}

/** What {@link AuditTrail.findResultByDedupeKey} answers: the latest result for a dedupeKey. */
export interface DedupeKeyResult {
  /** The intent that carried the key. */
  intentSeq: number;
  /** The result record's seq. */
  resultSeq: number;
  /** When the result was recorded (the result record's `ts`). */
  ts: string;
  /** The recorded (redacted) return value, when there was one. */
  result?: unknown;
  /** The recorded failure, when the action failed. */
  error?: string;
}

import { BeauvoirError, type Clock } from "@beauvoir/core";
import type {
  AuditPhase,
  AuditRecord,
  DeniedEntry,
  DryRunEntry,
  IntentEntry,
  PrunedSegment,
} from "./audit-record.js";
import { canonicalJson } from "./canonical-json.js";
import {
  auditFieldJson,
  checkAuditEntry,
  redactAuditField,
  redactAuditText,
} from "./entry-fields.js";
import { AuditInvalidEntryError } from "./errors.js";
import { describeFailure } from "./failure-description.js";
import type { AuditRedactor } from "./options.js";
import type { RecordContent } from "./record-line.js";

/**
 * Turns what callers pass to `record*()` into record content: every field
 * checked, every field carrying caller data redacted (`action`, `target`,
 * `dedupeKey`, `params`, `result`, `error`), values serialized. Anything that
 * goes wrong, including a getter that throws, is an
 * {@link AuditInvalidEntryError}; nothing is written then.
 */
export class EntryContent {
  readonly #redactor: AuditRedactor;
  readonly #clock: Clock;

  constructor(redactor: AuditRedactor, clock: Clock) {
    this.#redactor = redactor;
    this.#clock = clock;
  }

  /** Content of an `intent` record. */
  intent(entry: IntentEntry): RecordContent {
    return this.#guard(() => {
      const content = this.#describe("intent", entry, false);
      const { dedupeKey } = entry;
      if (dedupeKey !== undefined) content.dedupeKey = this.dedupeKey(dedupeKey);
      return content;
    });
  }

  /** Content of a `denied` record; the reason becomes its `error`. */
  denied(entry: DeniedEntry): RecordContent {
    return this.#guard(() => {
      const content = this.#describe("denied", entry, false);
      const { reason } = entry;
      if (reason !== undefined) content.error = this.#text("reason", describeFailure(reason));
      return content;
    });
  }

  /** Content of a `dry_run` record. */
  dryRun(entry: DryRunEntry): RecordContent {
    return this.#guard(() => this.#describe("dry_run", entry, true));
  }

  /** Content of the `result` record closing `intent`; it copies the intent's (already redacted) action, target and dedupeKey. */
  result(intent: AuditRecord, result: unknown, error: unknown): RecordContent {
    return this.#guard(() => {
      const content: RecordContent = {
        phase: "result",
        ts: this.#now(),
        action: intent.action,
        target: intent.target,
        paramsJson: "{}",
        intentSeq: intent.seq,
        dryRun: false,
      };
      if (intent.dedupeKey !== undefined) content.dedupeKey = intent.dedupeKey;
      if (result !== undefined) {
        const resultJson = auditFieldJson(
          "result",
          redactAuditField(this.#redactor, "result", result),
        );
        if (resultJson !== undefined) content.resultJson = resultJson;
      }
      if (error !== undefined) content.error = this.#text("error", describeFailure(error));
      return content;
    });
  }

  /** Content of the `signing_started` record. */
  signingStarted(): RecordContent {
    return {
      phase: "signing_started",
      ts: this.#now(),
      action: "start_signing",
      target: "audit-trail",
      paramsJson: "{}",
      dryRun: false,
      startsSigning: true,
    };
  }

  /**
   * Content of a `checkpoint` record: the rotated files a prune removes
   * (by their last record, oldest first) and what the prune was asked.
   * Nothing in it is caller data, so nothing is redacted.
   */
  checkpoint(prunedSegments: readonly PrunedSegment[], params: { before: string }): RecordContent {
    return {
      phase: "checkpoint",
      ts: this.#now(),
      action: "prune_history",
      target: "audit-trail",
      paramsJson: canonicalJson({ before: params.before, segments: prunedSegments.length })!,
      dryRun: false,
      prunedSegmentsJson: canonicalJson(
        prunedSegments.map(({ lastSeq, lastHash }) => ({ lastHash, lastSeq })),
      )!,
    };
  }

  /**
   * A dedupeKey as it is stored: checked and redacted.
   * @throws {@link AuditInvalidEntryError} when it is not a string or does not redact to one.
   */
  dedupeKey(dedupeKey: unknown): string {
    if (typeof dedupeKey !== "string") {
      throw new AuditInvalidEntryError("dedupeKey", "dedupeKey must be a string");
    }
    return this.#text("dedupeKey", dedupeKey);
  }

  #describe(
    phase: AuditPhase,
    entry: IntentEntry | DeniedEntry | DryRunEntry,
    dryRun: boolean,
  ): RecordContent {
    const { action, target, paramsJson } = checkAuditEntry(entry, this.#redactor);
    return {
      phase,
      ts: this.#now(),
      action: this.#text("action", action),
      target: this.#text("target", target),
      paramsJson,
      dryRun,
    };
  }

  /** Runs a description, turning any untyped failure (a throwing getter on the entry) into a typed one. */
  #guard(describe: () => RecordContent): RecordContent {
    try {
      return describe();
    } catch (error) {
      if (BeauvoirError.isInstance(error)) throw error;
      throw new AuditInvalidEntryError("entry", "the entry could not be read", error);
    }
  }

  #text(field: string, text: string): string {
    return redactAuditText(this.#redactor, field, text);
  }

  #now(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}

import { channel } from "node:diagnostics_channel";
import type { RecordContent } from "./record-line.js";

/** The `node:diagnostics_channel` name on which the audit trail publishes each record it appended. */
export const AUDIT_APPEND_CHANNEL = "beauvoir:audit:append";

/**
 * What {@link AUDIT_APPEND_CHANNEL} carries, once the record is written (and
 * fsynced, for all but `dry_run`). Already redacted; params and results are
 * left out (read the trail for them).
 */
export interface AuditAppendMessage {
  /** The audit file. */
  readonly path: string;
  readonly seq: number;
  readonly phase: RecordContent["phase"];
  /** ISO-8601. */
  readonly ts: string;
  readonly action: string;
  readonly target: string;
  readonly dedupeKey: string | undefined;
  /** For a result: the intent it closes. */
  readonly intentSeq: number | undefined;
  /** For a failed result or a denial: the error text. */
  readonly error: string | undefined;
}

const appendChannel = channel(AUDIT_APPEND_CHANNEL);

/** Whether anyone listens (the message is only built then). */
export function appendsObserved(): boolean {
  return appendChannel.hasSubscribers;
}

/** Publishes an appended record. */
export function publishAppend(path: string, seq: number, content: RecordContent): void {
  appendChannel.publish({
    path,
    seq,
    phase: content.phase,
    ts: content.ts,
    action: content.action,
    target: content.target,
    dedupeKey: content.dedupeKey,
    intentSeq: content.intentSeq,
    error: content.error,
  } satisfies AuditAppendMessage);
}

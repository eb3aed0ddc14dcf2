import type { AuditRecord } from "./audit-record.js";
import type { WrittenRecord } from "./record-writer.js";
import type { ResultIndex } from "./result-index.js";

/**
 * Moves the in-memory state past a batch that is now in the file: intents
 * become open, results close their intent and enter the result index.
 * @param records - the batch, in seq order.
 * @param openIntents - intents without a result, by seq.
 * @param index - the result index.
 */
export function noteWritten(
  records: WrittenRecord[],
  openIntents: Map<number, AuditRecord>,
  index: ResultIndex,
): void {
  for (const record of records) {
    const { content } = record;
    if (content.phase === "intent") {
      openIntents.set(record.seq, toIntentRecord(record));
    } else if (content.phase === "result") {
      const intentSeq = content.intentSeq!;
      openIntents.delete(intentSeq);
      const result: Pick<AuditRecord, "seq" | "ts" | "error" | "result"> = {
        seq: record.seq,
        ts: content.ts,
      };
      if (content.error !== undefined) result.error = content.error;
      if (content.resultJson !== undefined)
        result.result = JSON.parse(content.resultJson) as unknown;
      index.add(result, intentSeq, content.dedupeKey);
    }
  }
}

/** An intent record as `getPendingIntents()` gives it; params are parsed only if asked for. */
function toIntentRecord(record: WrittenRecord): AuditRecord {
  const { content } = record;
  const result = {
    seq: record.seq,
    prevHash: record.prevHash,
    hash: record.hash,
    phase: content.phase,
    ts: content.ts,
    action: content.action,
    target: content.target,
    dryRun: content.dryRun,
  } as AuditRecord;
  // Most intents get their result before anyone looks, and this runs once per
  // intent on the write path.
  let params: Record<string, unknown> | undefined;
  Object.defineProperty(result, "params", {
    enumerable: true,
    get: () => {
      params ??= JSON.parse(content.paramsJson) as Record<string, unknown>;
      return params;
    },
  });
  if (record.hmac !== undefined) result.hmac = record.hmac;
  if (content.dedupeKey !== undefined) result.dedupeKey = content.dedupeKey;
  if (record.previousSegmentHash !== undefined)
    result.previousSegmentHash = record.previousSegmentHash;
  return result;
}

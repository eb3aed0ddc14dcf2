import { SubsystemUnavailableError } from "./errors.js";
import type { ExecutorContext } from "./executor-context.js";
import type { AuditTrailPort, IdempotencyEntryView } from "./ports.js";
import { RECORDED_ERROR_CODES } from "./recorded-verdict.js";
import { actionOfKey } from "./step-identity.js";
import { reconciledMarker } from "./step-outcome.js";

/** What an operator decided about a key. */
export type OperatorDecision = "done" | "not_done" | "reset";

/**
 * Records an operator's decision about a key in the audit trail, then
 * applies it to the index, in the order that keeps a crash in between from
 * repeating the side effect:
 *
 * - `done`: the result `{ $reconciled: "done", by: "operator", reason? }`, then the
 *   key completed (later steps with it are `reconciled`);
 * - `not_done` / `reset`: the key may run again. A pending key's open intent
 *   is closed with `NOT_DONE:` / `RESET:` after the key is removed; any other
 *   key gets a new intent and result for the decision before it is removed.
 *
 * @returns the entry as it was before the decision, or `null`.
 */
export async function applyOperatorDecision(
  context: ExecutorContext,
  key: string,
  decision: OperatorDecision,
  reason: string | undefined,
): Promise<IdempotencyEntryView | null> {
  const { index, audit } = context;
  if (!index) throw new SubsystemUnavailableError("idempotencyIndex");
  if (!audit) throw new SubsystemUnavailableError("auditTrail");
  const command = decision === "reset" ? "resetKey" : "resolveKey";
  if (index.atomicSteps) {
    // One transaction: the decision recorded, the running attempt fenced out.
    const before = await index.atomicSteps.decide(key, decision, {
      reason,
      ...(decision === "done" ? { result: reconciledMarker("operator", reason) } : {}),
    });
    context.rerunnable.delete(key);
    context.logger.info(`step: ${command} by an operator`, {
      key,
      decision,
      previousStatus: before?.status ?? null,
    });
    return before;
  }
  const entry = await index.check(key);
  const action = entry?.action ?? actionOfKey(key);
  const openIntent = await openIntentOf(audit, entry);
  const record = (intentSeq: number, result: unknown, error?: string) =>
    audit.recordResult(intentSeq, result, error);
  const newIntent = () =>
    audit.recordIntent({
      action,
      target: key,
      params: {
        operator: {
          command,
          ...(decision === "reset" ? {} : { verdict: decision }),
          ...(reason === undefined ? {} : { reason }),
        },
      },
      dedupeKey: key,
    });
  const why = reason === undefined ? "" : ` (${reason})`;
  if (decision === "done") {
    const marker = reconciledMarker("operator", reason);
    const intentSeq = openIntent ?? (await newIntent());
    await record(intentSeq, marker);
    await index.settle(key, {
      status: "completed",
      action,
      ...(entry?.strategy === undefined ? {} : { strategy: entry.strategy }),
      intentSeq,
      result: marker,
    });
  } else {
    const text =
      decision === "reset"
        ? `${RECORDED_ERROR_CODES.reset}: an operator reset the key${why}`
        : `${RECORDED_ERROR_CODES.notDone}: an operator said the side effect did not happen${why}`;
    if (openIntent !== undefined) {
      await index.reset(key);
      await record(openIntent, undefined, text);
    } else {
      await record(await newIntent(), undefined, text);
      await index.reset(key);
    }
  }
  context.rerunnable.delete(key);
  context.logger.info(`step: ${command} by an operator`, {
    key,
    decision,
    previousStatus: entry?.status ?? null,
  });
  return entry;
}

/** The pending entry's intent, when it has no result yet. */
async function openIntentOf(
  audit: AuditTrailPort,
  entry: IdempotencyEntryView | null,
): Promise<number | undefined> {
  if (entry?.status !== "pending" || entry.intentSeq === undefined) return undefined;
  return (await audit.findResultByIntentSeq(entry.intentSeq)) ? undefined : entry.intentSeq;
}

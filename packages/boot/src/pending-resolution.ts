import { type ExecutorContext, strategyOf } from "./executor-context.js";
import { closeIfOpen } from "./key-ledger.js";
import type { AuditPendingIntent, IdempotencyEntryView } from "./ports.js";
import { askReconcileHook } from "./reconcile-hook.js";
import { RECORDED_ERROR_CODES, recordedVerdict } from "./recorded-verdict.js";
import { actionOfKey, identityFromIntent } from "./step-identity.js";
import { reconciledMarker } from "./step-outcome.js";

/** What became of a pending entry that no step in this process is running. */
export type PendingVerdict =
  /** The audit trail had its result: the key is completed now. */
  | { verdict: "completed"; result: unknown }
  /** Its reconcile hook said it happened: completed now, result unknown. */
  | { verdict: "reconciled" }
  /** Marked failed (its result was an error, or `skip` / no hook: outcome unknown). */
  | { verdict: "failed"; error: string }
  /** It may run again, superseding the pending intent. */
  | { verdict: "rerun"; intentSeq: number | undefined }
  /** Nothing could decide (its hook threw); it stays pending. */
  | { verdict: "in_doubt" }
  /** `check_then_retry` with no hook registered yet, and asked to wait for one: it stays pending. */
  | { verdict: "awaiting_hook" };

/**
 * Applies a pending entry's compensation strategy (the same rules at boot
 * and when `execute()` meets a key left pending in this process): its audit
 * result settles it if there is one (one with a runnable code lets it run
 * again); else `safe_retry` re-runs;
 * `check_then_retry` asks the action's reconcile hook (`done` → completed,
 * `not_done` → re-run, no answer → in doubt); `skip`, or no hook → failed
 * with `OUTCOME_UNKNOWN`.
 * @param context - the executor's services (with an index).
 * @param entry - a pending entry.
 * @param intent - its open intent record, for the hook.
 * @param stepSignal - the calling step's signal, if any.
 * @param waitForHooks - leave a `check_then_retry` entry whose action has no
 *   hook pending (`awaiting_hook`) instead of failing it: a hook may be
 *   registered later (`registerReconcilers`).
 */
export async function resolvePendingEntry(
  context: ExecutorContext,
  entry: IdempotencyEntryView,
  intent: AuditPendingIntent | undefined,
  stepSignal?: AbortSignal,
  waitForHooks = false,
): Promise<PendingVerdict> {
  const index = context.index;
  const key = entry.key;
  if (!index) return { verdict: "in_doubt" };
  if (context.rerunnable.has(key))
    return { verdict: "rerun", intentSeq: context.rerunnable.get(key) };
  const recorded =
    entry.intentSeq === undefined
      ? undefined
      : await context.audit?.findResultByIntentSeq(entry.intentSeq);
  const rerun = (): PendingVerdict => {
    context.rerunnable.set(key, entry.intentSeq);
    return { verdict: "rerun", intentSeq: entry.intentSeq };
  };
  if (recorded) {
    // An attempt recorded as leaving the step runnable (its key reset, or about to be).
    if (recordedVerdict(recorded) === "runnable") return rerun();
    if (recorded.error !== undefined) {
      await index.markFailed(key, recorded.error);
      return { verdict: "failed", error: recorded.error };
    }
    await index.markCompleted(key, recorded.result);
    return { verdict: "completed", result: recorded.result };
  }
  const action = entry.action ?? actionOfKey(key);
  const strategy = entry.strategy ?? strategyOf(context, action, undefined);
  if (strategy === "safe_retry") return rerun();
  if (strategy === "check_then_retry" && context.reconcilers[action]) {
    const identity = identityFromIntent(intent);
    const verdict = await askReconcileHook(
      context,
      { key, action, ...identity, intentSeq: entry.intentSeq },
      stepSignal,
    );
    if (verdict === "not_done") return rerun();
    if (verdict === undefined) return { verdict: "in_doubt" };
    const marker = reconciledMarker("hook");
    await closeIfOpen(context, entry.intentSeq, { result: marker });
    await index.markCompleted(key, marker);
    return { verdict: "reconciled" };
  }
  if (strategy === "check_then_retry" && waitForHooks) return { verdict: "awaiting_hook" };
  const error =
    strategy === "skip"
      ? `${RECORDED_ERROR_CODES.outcomeUnknown}: the outcome of "${action}" is unknown (it was cut off while running) and its strategy is skip`
      : `${RECORDED_ERROR_CODES.outcomeUnknown}: the outcome of "${action}" is unknown (it was cut off while running) and no reconcile hook is registered for it`;
  await closeIfOpen(context, entry.intentSeq, { error });
  await index.markFailed(key, error);
  return { verdict: "failed", error };
}

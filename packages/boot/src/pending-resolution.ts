import { StepSupersededError } from "./errors.js";
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
  /**
   * It may run again, superseding the pending intent (and, on a backend
   * shared by replicas, the attempt this replica holds).
   */
  | { verdict: "rerun"; intentSeq: number | undefined; attemptId?: string | undefined }
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
  const rerun = (intentSeq: number | undefined): PendingVerdict => {
    context.rerunnable.set(key, intentSeq);
    return { verdict: "rerun", intentSeq, attemptId: entry.attemptId };
  };
  if (context.rerunnable.has(key)) return rerun(context.rerunnable.get(key));
  // A backend that settles a key with its result in one transaction never
  // has a pending key whose intent has a result: only the file backend asks.
  const recorded =
    entry.intentSeq === undefined || index.atomicSteps
      ? undefined
      : await context.audit?.findResultByIntentSeq(entry.intentSeq);
  if (recorded) {
    // An attempt recorded as leaving the step runnable (its key reset, or about to be).
    if (recordedVerdict(recorded) === "runnable") return rerun(entry.intentSeq);
    if (recorded.error !== undefined) {
      await index.markFailed(key, recorded.error);
      return { verdict: "failed", error: recorded.error };
    }
    await index.markCompleted(key, recorded.result);
    return { verdict: "completed", result: recorded.result };
  }
  const action = entry.action ?? actionOfKey(key);
  const strategy = entry.strategy ?? strategyOf(context, action, undefined);
  if (strategy === "safe_retry") return rerun(entry.intentSeq);
  if (strategy === "check_then_retry" && context.reconcilers[action]) {
    const identity = identityFromIntent(entry.intent ?? intent);
    const verdict = await askReconcileHook(
      context,
      { key, action, ...identity, intentSeq: entry.intentSeq },
      stepSignal,
    );
    if (verdict === "not_done") return rerun(entry.intentSeq);
    if (verdict === undefined) return { verdict: "in_doubt" };
    await settlePendingEntry(context, entry, { result: reconciledMarker("hook") });
    return { verdict: "reconciled" };
  }
  if (strategy === "check_then_retry" && waitForHooks) return { verdict: "awaiting_hook" };
  const error =
    strategy === "skip"
      ? `${RECORDED_ERROR_CODES.outcomeUnknown}: the outcome of "${action}" is unknown (it was cut off while running) and its strategy is skip`
      : `${RECORDED_ERROR_CODES.outcomeUnknown}: the outcome of "${action}" is unknown (it was cut off while running) and no reconcile hook is registered for it`;
  await settlePendingEntry(context, entry, { error });
  return { verdict: "failed", error };
}

/**
 * Closes a pending entry's intent and settles its key: one transaction under
 * the attempt this replica holds on a backend that has them, else the
 * intent's result then the index's transition.
 * @throws {@link StepSupersededError} when the held attempt was taken over meanwhile.
 */
export async function settlePendingEntry(
  context: ExecutorContext,
  entry: IdempotencyEntryView,
  outcome: { result?: unknown; error?: string },
): Promise<void> {
  const index = context.index;
  if (!index) return;
  const atomic = index.atomicSteps;
  if (atomic && entry.attemptId !== undefined) {
    const settled = await atomic.settle({
      key: entry.key,
      attemptId: entry.attemptId,
      status: outcome.error === undefined ? "completed" : "failed",
      ...outcome,
    });
    if (!settled.settled) throw new StepSupersededError(entry.key);
    return;
  }
  await closeIfOpen(context, entry.intentSeq, outcome);
  if (outcome.error === undefined) await index.markCompleted(entry.key, outcome.result);
  else await index.markFailed(entry.key, outcome.error);
}

import type { ExecutorContext } from "./executor-context.js";
import { resolvePendingEntry } from "./pending-resolution.js";
import type { IdempotencyEntryView } from "./ports.js";
import { RECORDED_ERROR_CODES } from "./recorded-verdict.js";
import { actionOfKey } from "./step-identity.js";

/** What `reconcilePending()` did. */
export interface ReconcileReport {
  /** Keys promoted to completed by their reconcile hook. */
  promoted: string[];
  /** Keys cleared to run again the next time their step is executed. */
  rerun: string[];
  /** Keys marked failed (strategy `skip`, or `check_then_retry` without a hook). */
  failed: string[];
  /** Keys left pending because their hook threw; tried again at the next boot or execute. */
  unresolved: string[];
  /**
   * `check_then_retry` keys left pending because their action had no hook
   * yet; settled when one is registered (`registerReconcilers`), or by
   * their next `execute()` (failed, outcome unknown, if there is still none).
   */
  awaitingHook: string[];
  /** Audit intents closed because no step refers to them any more. */
  closedIntents: number[];
}

/** Which pending entries a reconciliation pass looks at, and how. */
export interface ReconcilePassOptions {
  /** Leave `check_then_retry` keys without a hook pending (see {@link ReconcileReport.awaitingHook}). @default false */
  waitForHooks?: boolean | undefined;
  /** Only entries of these actions; orphan intents are then left alone. @default every entry */
  actions?: ReadonlySet<string> | undefined;
}

/**
 * Applies each pending entry's compensation strategy after a crash (see
 * {@link resolvePendingEntry}) and closes, as `ABANDONED`, audit intents no
 * step refers to any more.
 * @param context - the executor's services.
 * @param isRunning - whether a key's step is running in this process (left alone).
 * @param options - see {@link ReconcilePassOptions}.
 */
export async function reconcileAfterCrash(
  context: ExecutorContext,
  isRunning: (key: string) => boolean,
  options: ReconcilePassOptions = {},
): Promise<ReconcileReport> {
  const report: ReconcileReport = {
    promoted: [],
    rerun: [],
    failed: [],
    unresolved: [],
    awaitingHook: [],
    closedIntents: [],
  };
  const { index, audit } = context;
  if (!index || !audit) return report;
  const { actions, waitForHooks = false } = options;
  // A backend shared by replicas takes over the pending keys of replicas whose
  // lease ended here, and answers with those (and the ones it left in doubt).
  const entries = (await index.reconcilePending()).filter(
    (entry) => actions === undefined || actions.has(entry.action ?? actionOfKey(entry.key)),
  );
  const intents = new Map((await audit.getPendingIntents()).map((intent) => [intent.seq, intent]));
  const referenced = new Set<number>();
  for (const entry of entries) {
    if (entry.intentSeq !== undefined) referenced.add(entry.intentSeq);
    if (isRunning(entry.key)) continue;
    const intent = entry.intentSeq === undefined ? undefined : intents.get(entry.intentSeq);
    const resolved = await resolvePendingEntry(context, entry, intent, undefined, waitForHooks);
    if (resolved.verdict === "completed" || resolved.verdict === "reconciled") {
      report.promoted.push(entry.key);
    } else if (resolved.verdict === "rerun") {
      await releaseTakenOver(context, entry);
      report.rerun.push(entry.key);
    } else if (resolved.verdict === "failed") {
      report.failed.push(entry.key);
      context.logger.warn("boot: pending step marked failed", {
        key: entry.key,
        error: resolved.error,
      });
    } else if (resolved.verdict === "awaiting_hook") {
      report.awaitingHook.push(entry.key);
    } else {
      report.unresolved.push(entry.key);
    }
  }
  // A pass for some actions only leaves other steps' intents to boot's own pass.
  if (actions !== undefined) return report;
  for (const intent of await audit.getPendingIntents()) {
    // Steps running now (when called after boot) own their intents.
    if (referenced.has(intent.seq) || (intent.dedupeKey && isRunning(intent.dedupeKey))) continue;
    await audit.recordResult(
      intent.seq,
      undefined,
      `${RECORDED_ERROR_CODES.abandoned}: the process stopped before this intent's side effect started, or the step was re-run under a newer intent`,
    );
    report.closedIntents.push(intent.seq);
  }
  return report;
}

/**
 * On a backend shared by replicas, a key to run again is released at once:
 * any replica's next `execute()` claims it, instead of every other one
 * waiting for this one to run it.
 */
async function releaseTakenOver(
  context: ExecutorContext,
  entry: IdempotencyEntryView,
): Promise<void> {
  const atomic = context.index?.atomicSteps;
  if (!atomic || entry.attemptId === undefined) return;
  context.rerunnable.delete(entry.key);
  await atomic.settle({
    key: entry.key,
    attemptId: entry.attemptId,
    status: "released",
    error: `${RECORDED_ERROR_CODES.takenOver}: the replica running it stopped before its outcome was recorded; released to run again`,
  });
}

import type { ExecutorContext, ReconcileContext } from "./executor-context.js";

/**
 * Asks the action's reconcile hook whether a step whose outcome is unknown
 * happened. The hook gets a signal that aborts at shutdown, after
 * `reconcileTimeoutMs`, or with `extraSignal` (the step's own).
 * @returns `"done"`, `"not_done"`, or `undefined` when there is no hook, it
 *   threw, or it answered anything else (the step is then in doubt).
 */
export async function askReconcileHook(
  context: ExecutorContext,
  about: Omit<ReconcileContext, "signal">,
  extraSignal?: AbortSignal,
): Promise<"done" | "not_done" | undefined> {
  const hook = context.reconcilers[about.action];
  if (!hook) return undefined;
  const signals = [context.shutdownSignal, AbortSignal.timeout(context.reconcileTimeoutMs)];
  if (extraSignal) signals.push(extraSignal);
  let verdict: unknown;
  try {
    verdict = await hook({ ...about, signal: AbortSignal.any(signals) });
  } catch (error) {
    context.logger.warn("step: reconcile hook failed; the step stays in doubt", {
      key: about.key,
      error,
    });
    return undefined;
  }
  if (verdict === "done" || verdict === "not_done") return verdict;
  context.logger.warn("step: reconcile hook answered neither done nor not_done", {
    key: about.key,
    verdict,
  });
  return undefined;
}

import { type ReconcileReport, reconcileAfterCrash } from "./boot-reconciliation.js";
import type { ExecutorContext, ReconcileHook } from "./executor-context.js";
import { assertHooks } from "./step-executor-options.js";

/**
 * Adds the reconcile hooks of actions that have none yet (a hook already
 * registered is kept) and reconciles the keys of those actions that a crash
 * left pending.
 * @param context - the executor's services; its `reconcilers` gain the new hooks.
 * @param isRunningHere - whether a step with a key runs in this executor now
 *   (such keys are left to their step).
 * @param hooks - one hook per action.
 * @returns what the pass did, and which actions were added.
 * @throws TypeError (synchronously) when `hooks` is not an object or a hook not a function.
 */
export function registerReconcileHooks(
  context: ExecutorContext,
  isRunningHere: (key: string) => boolean,
  hooks: Readonly<Record<string, ReconcileHook>>,
): Promise<ReconcileReport & { registered: string[] }> {
  if (typeof hooks !== "object" || hooks === null) throw new TypeError("hooks must be an object");
  assertHooks(hooks, "hooks");
  const registered = Object.keys(hooks).filter(
    (action) => !Object.hasOwn(context.reconcilers, action),
  );
  for (const action of registered) context.reconcilers[action] = hooks[action] as ReconcileHook;
  if (registered.length === 0) {
    return Promise.resolve({ ...emptyReport(), registered });
  }
  return reconcileAfterCrash(context, isRunningHere, {
    actions: new Set(registered),
  }).then((report) => ({ ...report, registered }));
}

function emptyReport(): ReconcileReport {
  return {
    promoted: [],
    rerun: [],
    failed: [],
    unresolved: [],
    awaitingHook: [],
    closedIntents: [],
  };
}

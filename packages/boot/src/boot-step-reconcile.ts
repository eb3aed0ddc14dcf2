import type { ReconcileReport } from "./boot-reconciliation.js";
import type { IndexPromotionWatcher } from "./boot-record.js";
import { logReconciliation } from "./boot-record.js";
import type { BootRun } from "./boot-run.js";
import { describeError } from "./errors.js";
import type { IdempotencyIndexPort } from "./ports.js";
import type { DurableStepExecutor } from "./step-executor.js";

/**
 * Boot step 5: the pending intents a crash left are reconciled (warn and
 * go on). A `check_then_retry` key whose hook an integration registers
 * after boot (e.g. `@beauvoir/octokit`) waits for it instead of being
 * failed here.
 * @param run - the boot in progress; gets the `reconciliation` subsystem and warnings.
 * @param executor - boot's executor.
 * @param idempotencyIndex - the index; without it (or the audit trail) the step is skipped.
 * @param promotions - sees the keys the index settles during the pass.
 * @returns the pass's report, or `undefined` when it was skipped or did not finish.
 */
export async function reconcilePendingStep(
  run: BootRun,
  executor: DurableStepExecutor,
  idempotencyIndex: IdempotencyIndexPort | undefined,
  promotions: IndexPromotionWatcher,
): Promise<ReconcileReport | undefined> {
  const { context, health } = run;
  const { subsystems, warnings } = health;
  if (!idempotencyIndex || !context.auditTrail) {
    subsystems.reconciliation = "degraded";
    warnings.push(
      "reconciliation skipped: the idempotency index or the audit trail is unavailable",
    );
    return undefined;
  }
  let reconciliation: ReconcileReport | undefined;
  try {
    const openIntents = await context.auditTrail.getPendingIntents();
    reconciliation = await promotions.during(() =>
      executor.reconcilePending({ waitForHooks: true }),
    );
    logReconciliation(context.logger, reconciliation, openIntents, promotions.settled);
    const undecided = reconciliation.unresolved.length + reconciliation.awaitingHook.length;
    subsystems.reconciliation = undecided > 0 ? "degraded" : "ok";
    if (reconciliation.unresolved.length > 0) {
      warnings.push(
        `reconciliation: ${reconciliation.unresolved.length} pending step(s) left in doubt`,
      );
    }
    if (reconciliation.awaitingHook.length > 0) {
      warnings.push(
        `reconciliation: ${reconciliation.awaitingHook.length} pending step(s) wait for a reconcile hook (executor.registerReconcilers); executed again without one, they fail (outcome unknown)`,
      );
    }
    if (reconciliation.failed.length > 0) {
      warnings.push(
        `reconciliation: ${reconciliation.failed.length} pending step(s) marked failed (outcome unknown)`,
      );
    }
    return reconciliation;
  } catch (error) {
    subsystems.reconciliation = "degraded";
    warnings.push(`reconciliation failed: ${describeError(error)}`);
    context.logger.warn("boot: reconciliation failed", { error });
    // A report the pass made before a later failure is still what it did.
    return reconciliation;
  }
}

import { StepFailedError, StepInDoubtError } from "./errors.js";
import type { ExecutorContext } from "./executor-context.js";
import type { JsonSafe } from "./json-safe.js";
import { waitForOtherReplica } from "./other-replica-wait.js";
import { resolvePendingEntry } from "./pending-resolution.js";
import type { CompensationStrategy, IdempotencyEntryView, IdempotencyIndexPort } from "./ports.js";
import { recordedVerdict } from "./recorded-verdict.js";
import { isReconciledMarker, type StepOutcome } from "./step-outcome.js";

/** What the dedup check says about a key before any attempt. */
export type KeyCheck<Result> =
  /**
   * Run it; `supersede` when it takes over a pending entry whose intent must
   * be closed (and, on a backend shared by replicas, the attempt held here).
   */
  | {
      run: true;
      supersede?: { intentSeq: number | undefined; attemptId?: string | undefined };
    }
  /** Do not run it: this is the answer. */
  | { run: false; outcome: StepOutcome<Result> };

/** The step being checked. */
export interface CheckedStep {
  key: string;
  action: string;
  strategy: CompensationStrategy;
  signal?: AbortSignal | undefined;
  /** Longest wait for another replica that runs the key's step. */
  maxWaitMs: number;
}

/**
 * Looks a key up before its step runs: `completed` → deduplicated (or
 * reconciled); `failed` → {@link StepFailedError}; `pending` (not running
 * here) → its strategy decides; unknown to the index → the audit trail is
 * asked whether a result for the key exists within the index's TTL, and if
 * so the index is repaired from it and the step is not run again.
 * @throws {@link StepFailedError}, {@link StepInDoubtError}.
 */
export async function checkKey<Result>(
  context: ExecutorContext,
  index: IdempotencyIndexPort,
  step: CheckedStep,
): Promise<KeyCheck<Result>> {
  const { key } = step;
  const atomic = index.atomicSteps;
  const startedAt = context.clock.now();
  for (let round = 0; ; round++) {
    let entry = await index.check(key);
    if (entry?.status === "completed") {
      return { run: false, outcome: await recordedOutcome<Result>(context, entry) };
    }
    if (entry?.status === "failed") throw new StepFailedError(key, entry.error ?? "unknown error");
    if (entry?.status === "pending") {
      if (atomic && entry.ownedHere === false) {
        // Another replica holds it: wait while its lease is live, take it over once it is not.
        if (entry.ownerLive) {
          await waitForOtherReplica(context, step, startedAt, round);
          continue;
        }
        const taken = await atomic.takeOver(key);
        if (taken === null) continue;
        entry = taken;
      }
      const intent =
        entry.intent ??
        (await context.audit?.getPendingIntents())?.find(
          (candidate) => candidate.seq === entry?.intentSeq,
        );
      const pending = await resolvePendingEntry(context, entry, intent, step.signal);
      switch (pending.verdict) {
        case "rerun":
          return {
            run: true,
            supersede: { intentSeq: pending.intentSeq, attemptId: pending.attemptId },
          };
        case "completed":
          return { run: false, outcome: outcomeOf<Result>(key, pending.result) };
        case "reconciled":
          return {
            run: false,
            outcome: { status: "reconciled", idempotencyKey: key, result: undefined },
          };
        case "failed":
          throw new StepFailedError(key, pending.error);
        default:
          throw new StepInDoubtError(key);
      }
    }
    // Index and audit history in one database: an unknown (or released) key runs.
    if (atomic) return { run: true };
    return askAuditTrail(context, index, step);
  }
}

/** The second source of truth: a lost index entry must not repeat a side effect. */
async function askAuditTrail<Result>(
  context: ExecutorContext,
  index: IdempotencyIndexPort,
  step: CheckedStep,
): Promise<KeyCheck<Result>> {
  const found = await context.audit?.findResultByDedupeKey(step.key);
  if (!found) return { run: true };
  const ageMs = context.clock.now() - Date.parse(found.ts);
  if (ageMs > index.ttlMs) return { run: true };
  const verdict = recordedVerdict(found);
  if (verdict === "runnable") return { run: true };
  if (verdict === "in_doubt") throw new StepInDoubtError(step.key);
  const settlement =
    verdict === "failed"
      ? { status: "failed" as const, error: found.error ?? "unknown error" }
      : {
          status: "completed" as const,
          ...(found.result === undefined ? {} : { result: found.result }),
        };
  try {
    await index.settle(step.key, {
      ...settlement,
      action: step.action,
      strategy: step.strategy,
      intentSeq: found.intentSeq,
    });
    context.logger.warn("step: the index did not know a key the audit trail settled; repaired", {
      key: step.key,
      intentSeq: found.intentSeq,
      status: settlement.status,
    });
  } catch (error) {
    context.logger.warn("step: could not repair the index from the audit trail", {
      key: step.key,
      error,
    });
  }
  if (verdict === "failed") throw new StepFailedError(step.key, found.error ?? "unknown error");
  return { run: false, outcome: outcomeOf<Result>(step.key, found.result) };
}

/** The outcome of a completed entry, its result read from the index or else the audit trail. */
export async function recordedOutcome<Result>(
  context: ExecutorContext,
  entry: IdempotencyEntryView,
): Promise<StepOutcome<Result>> {
  let result = entry.result;
  if (result === undefined && entry.intentSeq !== undefined) {
    result = (await context.audit?.findResultByIntentSeq(entry.intentSeq))?.result;
  }
  return outcomeOf<Result>(entry.key, result);
}

function outcomeOf<Result>(key: string, result: unknown): StepOutcome<Result> {
  if (isReconciledMarker(result)) {
    return { status: "reconciled", idempotencyKey: key, result: undefined };
  }
  return { status: "deduplicated", idempotencyKey: key, result: result as JsonSafe<Result> };
}

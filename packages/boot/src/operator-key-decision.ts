import { KeyInFlightError } from "./errors.js";
import type { ExecutorContext } from "./executor-context.js";
import { applyOperatorDecision, type OperatorDecision } from "./operator-commands.js";
import type { IdempotencyEntryView } from "./ports.js";

/**
 * Checks an operator's decision about a key (`resolveKey`, `resetKey`) and
 * applies it, unless the key's step is running in this executor: deciding
 * under a running step would race its own settlement.
 * @param context - the executor's services (index and audit trail).
 * @param isRunningHere - whether a step with the key runs in this executor now.
 * @param key - the idempotency key.
 * @param decision - what the operator decided.
 * @param reason - recorded with the decision.
 * @returns the entry as it was before, or `null`.
 * @throws TypeError for an empty key or a reason that is not a string;
 *   {@link KeyInFlightError} while the key's step runs here; as
 *   `applyOperatorDecision` otherwise.
 */
export async function decideKey(
  context: ExecutorContext,
  isRunningHere: (key: string) => boolean,
  key: string,
  decision: OperatorDecision,
  reason: string | undefined,
): Promise<IdempotencyEntryView | null> {
  if (typeof key !== "string" || key.length === 0) {
    throw new TypeError("key must be a non-empty string");
  }
  if (reason !== undefined && typeof reason !== "string") {
    throw new TypeError("reason must be a string");
  }
  if (isRunningHere(key)) throw new KeyInFlightError(key);
  return applyOperatorDecision(context, key, decision, reason);
}

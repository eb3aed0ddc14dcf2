import type { Clock } from "@beauvoir/core";
import type { RedactorPort, WorkflowRunOwnership } from "./ports.js";
import type {
  StepIdentity,
  WorkflowStepContext,
  WorkflowStepDefinition,
} from "./workflow-definition.js";
import { keyToPin, resumedIdentity } from "./workflow-engine-state.js";
import type { WorkflowRunState } from "./workflow-run-state.js";

/** What {@link pinnedStepKey} needs besides the step. */
export interface KeyPinning {
  redactor: RedactorPort;
  /** The index's key derivation; without it no key is pinned. */
  generateKey:
    | ((action: string, scope: string, resource: string, params: unknown) => string)
    | undefined;
  clock: Clock;
  /** Saves the run's state while the engine owns the run. */
  save: (state: WorkflowRunState, ownership: WorkflowRunOwnership) => Promise<void>;
}

/**
 * The key a step must keep: one pinned earlier, or one pinned now (saved
 * before the first attempt) when the redacted state would derive another.
 * @param pinning - the redactor, key derivation, clock and save of the engine.
 * @param state - the run before the step.
 * @param ownership - the engine's ownership of the run.
 * @param step - the step about to run.
 * @param context - the step's context, unredacted.
 * @param identity - the identity the step derived from it.
 * @returns the key and the run's state (with the pin when one was saved),
 *   or `undefined` when the derived key is the one to use.
 * @throws as the save, {@link WorkflowRunOwnedError} among others.
 */
export async function pinnedStepKey(
  pinning: KeyPinning,
  state: WorkflowRunState,
  ownership: WorkflowRunOwnership,
  step: WorkflowStepDefinition<never>,
  context: WorkflowStepContext<never>,
  identity: StepIdentity,
): Promise<{ key: string; state: WorkflowRunState } | undefined> {
  const earlier = state.pinnedKeys?.find((entry) => entry.step === step.name);
  if (earlier) return { key: earlier.idempotencyKey, state };
  const generateKey = pinning.generateKey;
  if (!generateKey || !step.identify) return undefined;
  const key = keyToPin({
    action: step.action,
    identity: { scope: identity.scope, resource: identity.resource, params: identity.params },
    identityAfterResume: resumedIdentity(pinning.redactor, context, step.identify),
    generateKey,
  });
  if (key === undefined) return undefined;
  const pinnedState: WorkflowRunState = {
    ...state,
    pinnedKeys: [...(state.pinnedKeys ?? []), { step: step.name, idempotencyKey: key }],
    updatedAt: pinning.clock.now(),
  };
  await pinning.save(pinnedState, ownership);
  return { key, state: pinnedState };
}

import type { Clock } from "@beauvoir/core";
import type { StepOutcome } from "./step-outcome.js";
import type { WorkflowDefinition } from "./workflow-definition.js";
import type { PinnedStepKey } from "./workflow-engine-state.js";

/**
 * The durable state of one run. It is written redacted (the redactor's
 * `redactAny`): `input`, `outputs` and `error` on disk, and so in a run
 * resumed by another process, have their secrets replaced; the process that
 * started or advanced a run keeps its unredacted state in memory.
 */
export interface WorkflowRunState {
  runId: string;
  workflow: string;
  input: unknown;
  status: "running" | "completed" | "failed";
  /** Index of the next step to run. */
  nextStep: number;
  /** Completed steps' outputs, by step name. */
  outputs: Record<string, unknown>;
  /** Why the run failed. */
  error?: string;
  createdAt: number;
  updatedAt: number;
  /**
   * Keys fixed before a step's first attempt, for steps whose identity the
   * redacted state could not derive again (see the README, "Workflow state
   * and secrets").
   */
  pinnedKeys?: PinnedStepKey[];
}

/** What one {@link WorkflowEngine.advance} did. */
export interface AdvanceResult {
  runId: string;
  /** The run's status after the step. */
  status: WorkflowRunState["status"];
  /** The step that ran, if one did. */
  step?: string;
  /** The step's outcome, if it succeeded. */
  outcome?: StepOutcome;
}

/**
 * The run once `stepName` completed with its recorded (JSON-safe) result.
 * @param state - the run before the step.
 * @param definition - the run's workflow, which says whether steps remain.
 * @param stepName - the step that completed.
 * @param recorded - its recorded result (`null` when it had none).
 * @param clock - dates the change.
 * @returns a new state with a new `outputs` object; `state` is left as it was.
 */
export function stateAfterStep(
  state: WorkflowRunState,
  definition: WorkflowDefinition<never>,
  stepName: string,
  recorded: unknown,
  clock: Clock,
): WorkflowRunState {
  const nextStep = state.nextStep + 1;
  return {
    ...state,
    nextStep,
    outputs: { ...state.outputs, [stepName]: recorded ?? null },
    status: nextStep >= definition.steps.length ? "completed" : "running",
    updatedAt: clock.now(),
  };
}

import type { StepRequest } from "./step-request.js";
import type {
  StepIdentity,
  WorkflowStepContext,
  WorkflowStepDefinition,
} from "./workflow-definition.js";
import type { WorkflowRunState } from "./workflow-run-state.js";

/** Step options passed to the executor as they are. */
const STEP_OPTIONS = [
  "timeoutMs",
  "classify",
  "failureKind",
  "retry",
  "maxWaitMs",
  "breakerKey",
  "strategy",
  "dryRun",
] as const;

/**
 * What a workflow step sees of its run.
 * @param runId - the run's id.
 * @param state - the run's state.
 * @returns the context (its `outputs` are the state's own).
 */
export function stepContextOf(runId: string, state: WorkflowRunState): WorkflowStepContext<never> {
  return {
    runId,
    workflow: state.workflow,
    input: state.input as never,
    outputs: state.outputs,
  };
}

/**
 * The step's side-effect identity: its own `identify()`, else the run's
 * step (`{ scope: workflow, resource: run id, params: { step: name } }`).
 * @param step - the step.
 * @param context - its context.
 * @returns the identity.
 */
export function stepIdentityOf(
  step: WorkflowStepDefinition<never>,
  context: WorkflowStepContext<never>,
): StepIdentity {
  return (
    step.identify?.(context) ?? {
      scope: context.workflow,
      resource: context.runId,
      params: { step: step.name },
    }
  );
}

/**
 * The executor's request for a workflow step, before its key is pinned and
 * its options copied (see {@link copyStepOptions}).
 * @param step - the step.
 * @param context - its context; its `run` sees it with the side-effect context.
 * @param identity - its identity (with the target and key it names, if any).
 * @returns the request.
 */
export function stepRequestOf(
  step: WorkflowStepDefinition<never>,
  context: WorkflowStepContext<never>,
  identity: StepIdentity,
): StepRequest<unknown> {
  const request: StepRequest<unknown> = {
    action: step.action,
    kind: step.kind ?? "write",
    scope: identity.scope,
    resource: identity.resource,
    params: identity.params,
    workflowId: context.workflow,
    run: (sideEffect) => step.run({ ...context, ...sideEffect }),
  };
  if (identity.target !== undefined) request.target = identity.target;
  if (identity.idempotencyKey !== undefined) request.idempotencyKey = identity.idempotencyKey;
  return request;
}

/**
 * Copies the step's executor options (timeout, retry, breaker, strategy,
 * dry run...) that it sets onto its request.
 * @param request - the step's request.
 * @param step - the step.
 */
export function copyStepOptions(
  request: StepRequest<unknown>,
  step: WorkflowStepDefinition<never>,
): void {
  for (const option of STEP_OPTIONS) {
    if (step[option] !== undefined) Object.assign(request, { [option]: step[option] });
  }
}

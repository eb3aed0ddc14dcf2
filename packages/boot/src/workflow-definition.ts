import type { FailureClass } from "@beauvoir/breaker";
import type { FailureKind } from "./failure-model.js";
import type { CompensationStrategy } from "./ports.js";
import type { RetryOptions } from "./retry-policy.js";
import type { SideEffectContext, StepKind } from "./step-request.js";

/** What a workflow step sees of its run. */
export interface WorkflowStepContext<Input = unknown> {
  /** The run's id. */
  runId: string;
  /** The workflow's name. */
  workflow: string;
  /** The input the run was started with. */
  input: Input;
  /** Outputs of the steps already completed, by step name. */
  outputs: Readonly<Record<string, unknown>>;
}

/** How a step identifies its side effect, for the idempotency key and the audit record. */
export interface StepIdentity {
  scope: string;
  resource: string;
  params: Record<string, unknown>;
  /** The audit record's target. @default `${scope}/${resource}` */
  target?: string | undefined;
  /** Replaces the derived idempotency key (e.g. with a webhook delivery id). */
  idempotencyKey?: string | undefined;
}

/** One named step of a workflow. */
export interface WorkflowStepDefinition<Input = unknown> {
  /** Unique within the workflow; its output is stored under this name. */
  name: string;
  /** The action, e.g. `add_issue_comment`; picks the compensation strategy. */
  action: string;
  /** @default "write" */
  kind?: StepKind | undefined;
  /**
   * The side effect's identity. Two steps with the same identity are the same
   * side effect and run once.
   * @default `{ scope: workflow name, resource: run id, params: { step: name } }`
   */
  identify?: ((context: WorkflowStepContext<Input>) => StepIdentity) | undefined;
  /**
   * The side effect. Its resolved value, in its JSON-safe form (see
   * `toJsonSafe`), becomes the step's output.
   */
  run: (context: WorkflowStepContext<Input> & SideEffectContext) => Promise<unknown>;
  /** Time limit for each attempt of the side effect. */
  timeoutMs?: number | undefined;
  /** Maps a thrown error to a failure class for the breaker. */
  classify?: ((error: unknown) => FailureClass) | undefined;
  /** How the executor tells how an attempt failed, where its GitHub defaults do not know better. */
  failureKind?: ((error: unknown) => FailureKind | undefined) | undefined;
  /** How failed attempts are retried. @default the executor's */
  retry?: RetryOptions | undefined;
  /** Longest wait for a token or a backoff. @default the executor's */
  maxWaitMs?: number | undefined;
  /** The circuit breaker of the step. @default the action */
  breakerKey?: string | undefined;
  /** Overrides the action's compensation strategy. */
  strategy?: CompensationStrategy | undefined;
  /** Record a `dry_run` instead of running it. @default the executor's */
  dryRun?: boolean | undefined;
}

/** A named sequence of steps. */
export interface WorkflowDefinition<Input = unknown> {
  /** Unique name; runs refer to their workflow by it (so it survives restarts). */
  name: string;
  /** The steps, run in order. */
  steps: ReadonlyArray<WorkflowStepDefinition<Input>>;
}

/**
 * Refuses a definition the engine could not run or resume: no name, no
 * steps, a step without a name or a `run` function, or two steps of the
 * same name (outputs are stored by step name).
 * @param definition - the workflow to register.
 * @throws TypeError naming what is wrong.
 */
export function assertValidWorkflowDefinition<Input>(definition: WorkflowDefinition<Input>): void {
  if (typeof definition?.name !== "string" || definition.name.length === 0) {
    throw new TypeError("workflow name must be a non-empty string");
  }
  if (!Array.isArray(definition.steps) || definition.steps.length === 0) {
    throw new TypeError(`workflow "${definition.name}" must have at least one step`);
  }
  const names = new Set<string>();
  for (const step of definition.steps) {
    if (typeof step.name !== "string" || step.name.length === 0 || names.has(step.name)) {
      throw new TypeError(
        `workflow "${definition.name}": step names must be unique non-empty strings`,
      );
    }
    if (typeof step.run !== "function") {
      throw new TypeError(
        `workflow "${definition.name}": step "${step.name}" needs a run function`,
      );
    }
    names.add(step.name);
  }
}

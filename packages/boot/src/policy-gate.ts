import { PolicyDeniedError } from "./errors.js";
import type { ExecutorContext } from "./executor-context.js";
import { intentParams, targetOf } from "./step-identity.js";
import type { StepKind, StepRequest } from "./step-request.js";

/**
 * Checks a step's params against the action policy before anything else is
 * recorded. A write whose action the policy does not name is refused; a read
 * is checked only when the policy names it (reads change nothing). A refusal
 * is recorded as `denied`.
 * @throws {@link PolicyDeniedError} on any violation.
 */
export async function enforceActionPolicy(
  context: ExecutorContext,
  request: StepRequest<unknown>,
  kind: StepKind,
): Promise<void> {
  if (!context.policy) return;
  const found = context.policy.validateParams(request.action, request.params);
  const violations =
    kind === "read" ? found.filter((violation) => violation.constraint !== "unknown_tool") : found;
  if (violations.length === 0) return;
  const error = new PolicyDeniedError(
    request.action,
    violations.map(({ param, constraint, message }) => ({ param, constraint, message })),
  );
  await context.audit?.recordDenied({
    action: request.action,
    target: targetOf(request),
    params: intentParams(request),
    reason: error.message,
  });
  context.logger.warn("step: refused by the action policy", {
    action: request.action,
    violations: error.violations.map((violation) => violation.message),
  });
  throw error;
}

/** Records that a step was only simulated. */
export async function recordDryRun(
  context: ExecutorContext,
  request: StepRequest<unknown>,
): Promise<void> {
  await context.audit?.recordDryRun({
    action: request.action,
    target: targetOf(request),
    params: intentParams(request),
  });
}

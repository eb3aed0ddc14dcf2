import type { ExecutorContext } from "./executor-context.js";
import type { AttemptFailure } from "./failure-model.js";

/** Hands a rate-limit answer to the limiter; one it cannot read is logged, never thrown. */
export async function recordRateLimit(
  context: ExecutorContext,
  failure: AttemptFailure,
  workflowId: string,
): Promise<void> {
  try {
    await context.limiter?.recordRateLimitFailure(failure.rateLimitEvidence, workflowId);
  } catch (error) {
    context.logger.warn("step: the rate limiter could not read a rate-limit answer", { error });
  }
}

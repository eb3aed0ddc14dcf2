import { findNetworkErrorCode } from "@beauvoir/breaker";
import { delay } from "@beauvoir/core";
import type { ExecutorContext, ReconcileContext } from "./executor-context.js";
import { type AttemptFailure, classifyAttemptFailure } from "./failure-model.js";
import { recordRateLimit } from "./rate-limit-record.js";
import { retryDelayMs, serverRetryFloorMs } from "./retry-policy.js";

/**
 * Asks the action's reconcile hook whether a step whose outcome is unknown
 * happened. The hook gets a signal that aborts at shutdown, after
 * `reconcileTimeoutMs`, or with `extraSignal` (the step's own).
 *
 * A hook only reads, so one that fails on a transient answer from GitHub (a
 * 5xx, a rate limit, a network error) is asked again, with the executor's
 * retry backoff and never before the server's `retry-after`, up to
 * `retry.maxAttempts` times within `reconcileTimeoutMs`; a rate limit it met
 * goes to the limiter like a step's. A rejection (another 4xx) or an error
 * nothing identifies as transient is not retried.
 * @returns `"done"`, `"not_done"`, or `undefined` when there is no hook, it
 *   failed for good, or it answered anything else (the step is then in doubt).
 */
export async function askReconcileHook(
  context: ExecutorContext,
  about: Omit<ReconcileContext, "signal">,
  extraSignal?: AbortSignal,
): Promise<"done" | "not_done" | undefined> {
  const hook = context.reconcilers[about.action];
  if (!hook) return undefined;
  const signals = [context.shutdownSignal, AbortSignal.timeout(context.reconcileTimeoutMs)];
  if (extraSignal) signals.push(extraSignal);
  const signal = AbortSignal.any(signals);
  const deadline = context.clock.now() + context.reconcileTimeoutMs;
  let verdict: unknown;
  for (let attempt = 1; ; attempt++) {
    try {
      verdict = await hook({ ...about, signal });
      break;
    } catch (error) {
      const failure = await classifyAttemptFailure(error);
      const waitMs = await waitBeforeAskingAgain(context, failure, attempt, deadline);
      if (waitMs === undefined || signal.aborted) {
        context.logger.warn("step: reconcile hook failed; the step stays in doubt", {
          key: about.key,
          attempts: attempt,
          error: failure.description,
        });
        return undefined;
      }
      context.logger.info("step: reconcile hook failed on a transient answer; asking again", {
        key: about.key,
        attempt,
        error: failure.description,
        waitMs,
      });
      try {
        await delay(waitMs, { signal, clock: context.clock });
      } catch {
        return undefined;
      }
    }
  }
  if (verdict === "done" || verdict === "not_done") return verdict;
  context.logger.warn("step: reconcile hook answered neither done nor not_done", {
    key: about.key,
    verdict,
  });
  return undefined;
}

/**
 * How long to wait before asking a failed hook again, or `undefined` when it
 * should not be asked again: not transient, attempts used up, or the wait
 * would run past the reconcile deadline.
 */
async function waitBeforeAskingAgain(
  context: ExecutorContext,
  failure: AttemptFailure,
  attempt: number,
  deadline: number,
): Promise<number | undefined> {
  if (failure.failureClass === "rate_limited") await recordRateLimit(context, failure, "default");
  if (!isTransient(failure) || attempt >= context.retry.maxAttempts) return undefined;
  const now = context.clock.now();
  const waitMs = retryDelayMs(
    attempt + 1,
    context.retry,
    serverRetryFloorMs(failure.error, now),
    context.random,
  );
  return now + waitMs < deadline ? waitMs : undefined;
}

/** A 5xx, a rate limit, a 408/425 or a network error: worth asking again. */
function isTransient(failure: AttemptFailure): boolean {
  if (failure.failureClass === "rate_limited") return true;
  if (failure.status !== undefined) {
    return failure.kind === "not_sent" || (failure.status >= 500 && failure.status !== 501);
  }
  return findNetworkErrorCode(failure.error) !== undefined;
}

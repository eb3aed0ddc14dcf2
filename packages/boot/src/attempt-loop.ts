import { classifyFailure } from "@beauvoir/breaker";
import { delay } from "@beauvoir/core";
import { publishAttempt } from "./diagnostics.js";
import { type ExecutorContext, redactedText } from "./executor-context.js";
import { circuitOpenError } from "./external-errors.js";
import { type AttemptFailure, classifyAttemptFailure } from "./failure-model.js";
import { toJsonSafe } from "./json-safe.js";
import type { StepLedger } from "./key-ledger.js";
import type { CircuitBreakerPort, CompensationStrategy, IdempotencyClaim } from "./ports.js";
import { recordRateLimit } from "./rate-limit-record.js";
import { askReconcileHook } from "./reconcile-hook.js";
import { RECORDED_ERROR_CODES } from "./recorded-verdict.js";
import {
  type ResolvedRetryOptions,
  resolveRetryOptions,
  retryDelayMs,
  serverRetryFloorMs,
} from "./retry-policy.js";
import { targetOf } from "./step-identity.js";
import type { StepOutcome } from "./step-outcome.js";
import type { StepKind, StepRequest } from "./step-request.js";

/** One step, ready for its attempts. */
export interface AttemptPlan<Result> {
  request: StepRequest<Result>;
  kind: StepKind;
  ledger: StepLedger;
  key: string;
  strategy: CompensationStrategy;
  /** Set to `terminal: true` when the step's key was marked failed. */
  failure: { terminal: boolean };
  /** Answers a claim the index refused (the key settled in between). */
  onLostClaim: (claim: IdempotencyClaim) => Promise<StepOutcome<Result>>;
}

/** What to do after a failed attempt. */
type NextMove = { retryInMs: number } | { reconciled: true } | { rethrow: true };

const RETHROW: NextMove = { rethrow: true };

/**
 * Runs a step's attempts: before each one its breaker's check, a rate-limit
 * token (waited for, at most `maxWaitMs`) and the ledger's intent and
 * claim; after a failure, what the failure model and the strategy say:
 * retry after a backoff, reconcile, or stop (the original error is rethrown).
 * @returns the outcome of the attempt that succeeded (or was reconciled).
 */
export async function runAttempts<Result>(
  context: ExecutorContext,
  plan: AttemptPlan<Result>,
): Promise<StepOutcome<Result>> {
  const { request, ledger } = plan;
  const retry = resolveRetryOptions(request.retry, context.retry);
  const maxWaitMs = request.maxWaitMs ?? context.maxWaitMs;
  const waitSignal = anySignal(context.stopSignal, request.signal);
  const breaker = context.breakers?.get(request.breakerKey ?? request.action);
  let delayMs = 0;
  for (let attempt = 1; ; attempt++) {
    if (delayMs > 0) await delay(delayMs, { signal: waitSignal, clock: context.clock });
    const refusal = breaker && circuitOpenError(breaker, context.clock.now());
    if (refusal) throw refusal;
    await context.limiter?.consume(request.workflowId ?? "default", {
      signal: waitSignal,
      maxWaitMs,
    });
    const claim = await ledger.open();
    if (!claim.claimed) return plan.onLostClaim(claim);
    const progress: AttemptProgress = { started: false, failure: undefined };
    let result: Result;
    try {
      result = await runOnce(context, request, breaker, plan.key, attempt, ledger, claim, progress);
    } catch (error) {
      const next = await afterFailure(context, plan, error, {
        attempt,
        retry,
        maxWaitMs,
        started: progress.started,
        failure: progress.failure?.error === error ? progress.failure : undefined,
      });
      if ("retryInMs" in next) {
        delayMs = next.retryInMs;
        continue;
      }
      if ("reconciled" in next) {
        return { status: "reconciled", idempotencyKey: plan.key, result: undefined };
      }
      throw error;
    }
    observeResponse(context, result);
    if (plan.kind === "read")
      return { status: "read", idempotencyKey: "", result, attempts: attempt };
    await ledger.completed(toJsonSafe(result));
    return { status: "executed", idempotencyKey: plan.key, result, attempts: attempt };
  }
}

async function runOnce<Result>(
  context: ExecutorContext,
  request: StepRequest<Result>,
  breaker: CircuitBreakerPort | undefined,
  key: string,
  attempt: number,
  ledger: StepLedger,
  claim: IdempotencyClaim,
  progress: AttemptProgress,
): Promise<Result> {
  const signal = anySignal(context.shutdownSignal, request.signal);
  const overrides = {
    failureKind: request.failureKind,
    classify: request.classify ?? context.classify,
  };
  const operation = async (effectSignal: AbortSignal): Promise<Result> => {
    effectSignal.throwIfAborted();
    progress.started = true;
    try {
      const result = await request.run({
        signal: effectSignal,
        idempotencyKey: key,
        attempt,
        intentSeq: ledger.intentSeq,
        ...(claim.attemptId === undefined ? {} : { attemptId: claim.attemptId }),
        ...(claim.fence === undefined ? {} : { fence: claim.fence }),
      });
      // A fetch answer that says "no" is a failed attempt, whether returned or thrown.
      if (result instanceof Response && !result.ok) throw result;
      return result;
    } catch (error) {
      // Classified here, where a Response's body can still be read, so the
      // breaker counts what the failure model says (a secondary limit told
      // apart by its message is a rate limit, not a transient 403).
      progress.failure = await classifyAttemptFailure(error, overrides);
      throw error;
    }
  };
  if (breaker) {
    return breaker.execute(operation, {
      signal,
      ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
      classify: (error) => {
        const known = progress.failure;
        return known !== undefined && known.error === error
          ? known.failureClass
          : (overrides.classify ?? classifyFailure)(error);
      },
    });
  }
  if (request.timeoutMs === undefined || request.timeoutMs === Number.POSITIVE_INFINITY) {
    return operation(signal);
  }
  return operation(AbortSignal.any([signal, AbortSignal.timeout(request.timeoutMs)]));
}

/** What one attempt got to. */
interface AttemptProgress {
  /** run() was called. */
  started: boolean;
  /** What run() threw, classified. */
  failure: AttemptFailure | undefined;
}

interface AttemptState {
  attempt: number;
  retry: ResolvedRetryOptions;
  maxWaitMs: number;
  started: boolean;
  failure: AttemptFailure | undefined;
}

async function afterFailure<Result>(
  context: ExecutorContext,
  plan: AttemptPlan<Result>,
  error: unknown,
  state: AttemptState,
): Promise<NextMove> {
  const { request, ledger } = plan;
  if (!state.started) {
    // Refused before run() was called (the breaker, the caller's signal): nothing was sent.
    await ledger.runnable(
      RECORDED_ERROR_CODES.notSent,
      `the side effect did not start: ${(await classifyAttemptFailure(error)).description}`,
    );
    return RETHROW;
  }
  if (context.shutdownSignal.aborted || request.signal?.aborted) {
    // Cut off mid-flight: the outcome is unknown, and the caller is gone. The
    // key stays pending; boot (or the next execute) applies the strategy.
    return RETHROW;
  }
  const failure =
    state.failure ??
    (await classifyAttemptFailure(error, {
      failureKind: request.failureKind,
      classify: request.classify ?? context.classify,
    }));
  // Every HTTP answer goes to the limiter: a rate limit blocks, anything else ends a streak.
  if (failure.status !== undefined || failure.failureClass === "rate_limited") {
    await recordRateLimit(context, failure, request.workflowId ?? "default");
  }
  const told = `attempt ${state.attempt} of ${state.retry.maxAttempts} ${failure.kind.replace("_", " ")}: ${failure.description}`;
  publishAttempt(() => ({
    action: request.action,
    idempotencyKey: plan.key,
    attempt: state.attempt,
    maxAttempts: state.retry.maxAttempts,
    kind: failure.kind,
    failureClass: failure.failureClass,
    status: failure.status,
    description: redactedText(context, failure.description),
  }));
  context.logger.warn("step: attempt failed", {
    action: request.action,
    key: plan.key,
    attempt: state.attempt,
    kind: failure.kind,
    failureClass: failure.failureClass,
    error: failure.description,
  });
  const terminal = async (code: string): Promise<NextMove> => {
    await ledger.failed(code, told);
    if (ledger.keyed) {
      plan.failure.terminal = true;
      if (typeof error === "object" && error !== null) context.terminalErrors.add(error);
    }
    return RETHROW;
  };
  const retryOrStop = async (runnableWhenExhausted: boolean): Promise<NextMove> => {
    if (state.attempt < state.retry.maxAttempts) {
      const floor = serverRetryFloorMs(failure.error, context.clock.now());
      const waitMs = retryDelayMs(state.attempt + 1, state.retry, floor, context.random);
      if (waitMs <= state.maxWaitMs) {
        await ledger.runnable(
          RECORDED_ERROR_CODES.retrying,
          `${told}; attempt ${state.attempt + 1} in ${waitMs} ms`,
        );
        return { retryInMs: waitMs };
      }
    }
    if (!runnableWhenExhausted) return terminal(RECORDED_ERROR_CODES.failed);
    await ledger.runnable(RECORDED_ERROR_CODES.notSent, told);
    return RETHROW;
  };
  if (failure.kind === "rejected") return terminal(RECORDED_ERROR_CODES.rejected);
  if (failure.kind === "not_sent") return retryOrStop(true);
  if (plan.kind === "read" || plan.strategy === "safe_retry") return retryOrStop(false);
  if (plan.strategy === "check_then_retry" && context.reconcilers[request.action]) {
    const verdict = await askReconcileHook(
      context,
      {
        key: plan.key,
        action: request.action,
        scope: request.scope,
        resource: request.resource,
        params: context.redact(request.params) as Record<string, unknown>,
        target: targetOf(request),
        intentSeq: ledger.intentSeq,
      },
      request.signal,
    );
    if (verdict === "done") {
      await ledger.reconciled();
      return { reconciled: true };
    }
    // Checked and not there: as good as not sent.
    if (verdict === "not_done") return retryOrStop(true);
    // The hook could not tell: the key stays pending, in doubt.
    return RETHROW;
  }
  return terminal(RECORDED_ERROR_CODES.outcomeUnknown);
}

function observeResponse(context: ExecutorContext, result: unknown): void {
  const limiter = context.limiter;
  if (!limiter?.observeResponse || typeof result !== "object" || result === null) return;
  if (!("headers" in result)) return;
  try {
    limiter.observeResponse(result);
  } catch (error) {
    context.logger.debug("step: the rate limiter could not read a response", { error });
  }
}

/**
 * A signal of this step's own that follows the executor's shared one (and
 * the step's): listeners that waits and the breaker add land on it, not on
 * the shared signal, however many steps run at once.
 */
function anySignal(shared: AbortSignal, own: AbortSignal | undefined): AbortSignal {
  return AbortSignal.any(own ? [shared, own] : [shared]);
}

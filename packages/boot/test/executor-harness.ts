import { CircuitBreakerGroup } from "@beauvoir/breaker";
import { ManualClock } from "@beauvoir/core";
import { RateLimiter } from "@beauvoir/rate-limiter";
import { SecretRedactor } from "@beauvoir/redactor";
import { DurableStepExecutor, type StepExecutorOptions } from "../src/step-executor.js";
import type { StepRequest } from "../src/step-request.js";
import { MemoryAuditTrail, MemoryIdempotencyIndex } from "./fakes.js";

export const START = 1_800_000_000_000;

/**
 * An executor on in-memory fakes of the audit trail and the index, with the
 * real breakers and rate limiter on a manual clock.
 */
export function harness(options: Partial<StepExecutorOptions> = {}) {
  const clock = new ManualClock(START);
  const audit = new MemoryAuditTrail();
  audit.now = () => clock.now();
  const index = new MemoryIdempotencyIndex(audit);
  const breakers = new CircuitBreakerGroup({ clock, failureThreshold: 5 });
  const limiter = new RateLimiter({ clock, cleanupIntervalMs: Number.POSITIVE_INFINITY });
  const executor = new DurableStepExecutor({
    auditTrail: audit,
    idempotencyIndex: index,
    circuitBreakers: breakers,
    rateLimiter: limiter,
    redactor: new SecretRedactor(),
    clock,
    random: () => 0.5,
    ...options,
  });
  return { clock, audit, index, breakers, limiter, executor };
}

/**
 * Waits for `promise`, moving the manual clock forward in `stepMs` steps
 * whenever nothing else is left to do, so backoffs and token waits end.
 */
export async function withClock<T>(
  clock: ManualClock,
  promise: Promise<T>,
  stepMs = 50,
): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => {
    settled = true;
  });
  watched.catch(() => {});
  for (let turns = 0; !settled; turns++) {
    if (turns > 200_000) throw new Error("withClock: the promise never settled");
    await new Promise((resolve) => setImmediate(resolve));
    if (!settled && clock.pendingTimers > 0) clock.advance(stepMs);
  }
  return watched;
}

/** An error shaped like Octokit's `RequestError`. */
export function octokitError(
  status: number,
  message: string,
  headers: Record<string, string> = {},
  request: { method: string; url: string } = {
    method: "POST",
    url: "https://api.github.com/repos/acme/widgets/issues/12/labels",
  },
): Error & { status: number } {
  return Object.assign(new Error(message), {
    name: "HttpError",
    status,
    request,
    response: { status, url: request.url, headers, data: { message } },
  });
}

/** A socket error as Node raises it. */
export function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 140.82.112.6:443`), { code });
}

/** A write step on acme/widgets. */
export function step<Result>(
  action: string,
  resource: string,
  run: StepRequest<Result>["run"],
  extra: Partial<StepRequest<Result>> = {},
): StepRequest<Result> {
  return { action, scope: "acme/widgets", resource, params: { resource }, run, ...extra };
}

/** A side effect that fails with the given errors in turn, then returns `result`. */
export function failingThen<Result>(errors: unknown[], result: Result) {
  const calls: Array<{ at: number; attempt: number }> = [];
  return {
    calls,
    run: (clock: ManualClock) => async (context: { attempt: number }) => {
      calls.push({ at: clock.now(), attempt: context.attempt });
      const error = errors[calls.length - 1];
      if (calls.length <= errors.length) throw error;
      return result;
    },
  };
}

/** Fails `count` separate steps of `action` with a 502 each, one attempt apiece. */
export async function failWithBadGateways(
  executor: { execute(request: StepRequest<unknown>): Promise<unknown> },
  action: string,
  count = 5,
): Promise<void> {
  for (let issue = 1; issue <= count; issue++) {
    await executor
      .execute(
        step(action, `issue-${issue}`, () => Promise.reject(octokitError(502, "Server Error")), {
          retry: { maxAttempts: 1 },
        }),
      )
      .catch(() => undefined);
  }
}

import { CircuitOpenError } from "@beauvoir/breaker";
import { BeauvoirError } from "@beauvoir/core";
import type { CircuitBreakerPort } from "./ports.js";

export { CircuitOpenError };
export class RateLimitedError extends BeauvoirError<"RATE_LIMITED"> {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super("RATE_LIMITED", "rate limited");
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The error to throw before recording anything when the breaker would refuse
 * the call; `undefined` when it admits calls.
 */
export function circuitOpenError(
  breaker: CircuitBreakerPort,
  now: number,
): CircuitOpenError | undefined {
  if (breaker.getState() !== "OPEN") return undefined;
  return new CircuitOpenError(breaker.getStats?.().retryAt ?? now, "OPEN");
}

export function rateLimitedError(_workflowId: string, retryAfterMs: number): Error {
  return new RateLimitedError(retryAfterMs);
}

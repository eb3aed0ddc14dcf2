import { CircuitOpenError } from "@beauvoir/breaker";
import { RateLimitedError } from "@beauvoir/rate-limiter";
import type { CircuitBreakerPort } from "./ports.js";

export { CircuitOpenError, RateLimitedError };

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

/** The rate limiter's own error for a refused `tryConsume()`. */
export function rateLimitedError(
  workflowId: string,
  retryAfterMs: number,
  bucket: "global" | "workflow",
): RateLimitedError {
  return new RateLimitedError(retryAfterMs, bucket, workflowId);
}

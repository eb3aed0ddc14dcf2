import { BeauvoirError } from "@beauvoir/core";

// Temporary stand-ins until @beauvoir/breaker and @beauvoir/rate-limiter land.
export class CircuitOpenError extends BeauvoirError<"CIRCUIT_OPEN"> {
  readonly retryAt: number;
  constructor(retryAt: number) {
    super("CIRCUIT_OPEN", "circuit open");
    this.retryAt = retryAt;
  }
}
export class RateLimitedError extends BeauvoirError<"RATE_LIMITED"> {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super("RATE_LIMITED", "rate limited");
    this.retryAfterMs = retryAfterMs;
  }
}

export function circuitOpenError(state: unknown, now: number): Error | undefined {
  const name = typeof state === "string" ? state : (state as { state?: unknown } | null)?.state;
  if (typeof name === "string" && name.toLowerCase() === "open") return new CircuitOpenError(now);
  return undefined;
}

export function rateLimitedError(_workflowId: string, retryAfterMs: number): Error {
  return new RateLimitedError(retryAfterMs);
}

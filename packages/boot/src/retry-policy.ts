import { type Defined, definedFields, readHeader, readHttpFailure } from "@beauvoir/core";

/** How `execute()` retries a failed attempt (see the failure model in the README). */
export interface RetryOptions {
  /** Attempts in all, the first included; `1` turns retries off. A whole number ≥ 1. @default 3 */
  maxAttempts?: number | undefined;
  /** Backoff before the second attempt, before jitter. @default 1_000 */
  baseDelayMs?: number | undefined;
  /** Ceiling of the exponential backoff (a server's `retry-after` may ask for more). @default 60_000 */
  maxDelayMs?: number | undefined;
}

/** Defaults of {@link RetryOptions}. */
export const RETRY_DEFAULTS = Object.freeze({
  maxAttempts: 3,
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
});

/** {@link RetryOptions} with every field set. */
export type ResolvedRetryOptions = Readonly<Defined<RetryOptions>>;

/**
 * Merges a step's retry options over a default and checks each one.
 * @param given - the step's (or boot's) options.
 * @param defaults - what is not given.
 * @param name - the option's name in error messages.
 * @throws TypeError or RangeError naming the option.
 */
export function resolveRetryOptions(
  given: RetryOptions | undefined,
  defaults: ResolvedRetryOptions = RETRY_DEFAULTS,
  name = "retry",
): ResolvedRetryOptions {
  if (given === undefined) return defaults;
  if (typeof given !== "object" || given === null) {
    throw new TypeError(`${name} must be an object, got ${String(given)}`);
  }
  const resolved = { ...defaults, ...definedFields(given) };
  if (!Number.isInteger(resolved.maxAttempts) || resolved.maxAttempts < 1) {
    throw new RangeError(
      `${name}.maxAttempts must be a whole number ≥ 1, got ${String(resolved.maxAttempts)}`,
    );
  }
  for (const field of ["baseDelayMs", "maxDelayMs"] as const) {
    const value = resolved[field];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`${name}.${field} must be a finite number ≥ 0, got ${String(value)}`);
    }
  }
  if (resolved.maxDelayMs < resolved.baseDelayMs) {
    throw new RangeError(
      `${name}.maxDelayMs must be ≥ ${name}.baseDelayMs, got ${resolved.maxDelayMs} < ${resolved.baseDelayMs}`,
    );
  }
  return Object.freeze(resolved);
}

/**
 * The wait before attempt `nextAttempt` (2 for the first retry): equal-jitter
 * exponential backoff, `min(maxDelayMs, baseDelayMs * 2^(nextAttempt - 2))`
 * times a factor in [0.5, 1), and never less than what the server asked for.
 * @param nextAttempt - the attempt about to start (≥ 2).
 * @param options - the retry options.
 * @param serverFloorMs - from {@link serverRetryFloorMs}.
 * @param random - a source in [0, 1).
 * @returns milliseconds to wait.
 */
export function retryDelayMs(
  nextAttempt: number,
  options: ResolvedRetryOptions,
  serverFloorMs: number,
  random: () => number,
): number {
  const exponential = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (nextAttempt - 2));
  const jittered = Math.round(exponential * (0.5 + random() / 2));
  return Math.max(jittered, Math.ceil(serverFloorMs));
}

const WHOLE_NUMBER = /^\d+$/;

/**
 * How long the server asked the client to stay away: `retry-after` (seconds
 * or an HTTP date), and `x-ratelimit-reset` when `x-ratelimit-remaining` is
 * `0` (GitHub's primary limit); the later of the two, from `now`.
 * @param failure - what the attempt threw (or returned).
 * @param now - epoch milliseconds.
 * @returns milliseconds, 0 when the server said nothing.
 */
export function serverRetryFloorMs(failure: unknown, now: number): number {
  const headers = readHttpFailure(failure)?.headers;
  if (!headers) return 0;
  let until = now;
  const retryAfter = readHeader(headers, "retry-after")?.trim();
  if (retryAfter !== undefined && WHOLE_NUMBER.test(retryAfter)) {
    until = Math.max(until, now + Number(retryAfter) * 1000);
  } else if (retryAfter !== undefined && /[a-z]/i.test(retryAfter)) {
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) until = Math.max(until, date);
  }
  const remaining = readHeader(headers, "x-ratelimit-remaining")?.trim();
  const reset = readHeader(headers, "x-ratelimit-reset")?.trim();
  if (remaining === "0" && reset !== undefined && WHOLE_NUMBER.test(reset)) {
    until = Math.max(until, Number(reset) * 1000);
  }
  return until - now;
}

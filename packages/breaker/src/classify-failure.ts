import type { HeadersLike } from "@beauvoir/core";
import type { GitHubFailureContext } from "./classify-github-failure.js";
import { type FailureClass, isFailureClass } from "./failure-class.js";
import { classifyGitHubStatus } from "./github-status-rules.js";
import { ownNetworkErrorCode } from "./network-error-code.js";

// fetch wraps the socket error in `TypeError("fetch failed", { cause })`; a few
// levels are enough for any wrapper seen in practice, and stop cycles.
const MAX_CAUSE_DEPTH = 8;

/**
 * Classifies anything a call threw, so that `execute()` can decide whether it
 * counts against the circuit. The first rule that matches wins, checked on the
 * error and then on its `cause` chain:
 *
 * 1. an object with a `failureClass` property naming a class (your own errors,
 *    or `CircuitTimeoutError`, which is `external`);
 * 2. an HTTP failure: a fetch `Response`, or an error with a numeric `status` /
 *    `statusCode` (Octokit's `RequestError`, axios' `error.response`), passed to
 *    `classifyGitHubFailure` with its headers and body (`response.data`,
 *    or the message, which Octokit fills from the body);
 * 3. a network error code (`ECONNRESET`, `ETIMEDOUT`, `ENOTFOUND`,
 *    `ECONNREFUSED`, `EAI_AGAIN`, `EPIPE`, …, any undici `UND_ERR_*`; see
 *    `findNetworkErrorCode`), an `AbortError` or a `TimeoutError` (from
 *    `AbortSignal.timeout`) → `external`;
 *
 * and anything else is `transient`.
 *
 * @param error - what was thrown.
 * @param context - passed on to `classifyGitHubFailure` (`resourceShouldExist`, `overrides`).
 * @returns the failure class.
 * @example
 * ```ts
 * const breaker = new CircuitBreaker({
 *   classify: (error) => classifyFailure(error, { resourceShouldExist: true }),
 * });
 * ```
 */
export function classifyFailure(error: unknown, context?: GitHubFailureContext): FailureClass {
  let current = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH; depth++) {
    if (current === null || (typeof current !== "object" && typeof current !== "function")) break;
    const found = classifyOne(current as Record<string, unknown>, context);
    if (found !== undefined) return found;
    current = (current as { cause?: unknown }).cause;
  }
  return "transient";
}

function classifyOne(
  candidate: Record<string, unknown>,
  context: GitHubFailureContext | undefined,
): FailureClass | undefined {
  if (isFailureClass(candidate.failureClass)) return candidate.failureClass;
  const response = asObject(candidate.response);
  const status =
    httpStatus(candidate.status) ?? httpStatus(candidate.statusCode) ?? statusOf(response);
  if (status !== undefined) {
    const headers = (asObject(candidate.headers) ?? asObject(response?.headers)) as
      | HeadersLike
      | undefined;
    const body = [response?.data, plainBody(candidate.body), candidate.data, candidate.message];
    return classifyGitHubStatus(status, headers, body, context);
  }
  return ownNetworkErrorCode(candidate) === undefined ? undefined : "external";
}

function statusOf(response: Record<string, unknown> | undefined): number | undefined {
  if (!response) return undefined;
  return httpStatus(response.status) ?? httpStatus(response.statusCode);
}

function httpStatus(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 100 && value <= 599
    ? value
    : undefined;
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null
    ? (value as Record<string, unknown>)
    : undefined;
}

/** A fetch `Response.body` is a stream; only text, bytes and parsed JSON are read. */
function plainBody(value: unknown): unknown {
  if (typeof value === "string" || value instanceof Uint8Array) return value;
  if (typeof value === "object" && value !== null && !("getReader" in value)) return value;
  return undefined;
}

/**
 * Classifies a failed fetch `Response` from GitHub, reading its body when the
 * headers alone cannot tell (a 403 that may be a secondary rate limit). The
 * body is read from a clone, so the response stays readable.
 * @param response - the response, typically with `response.ok === false`.
 * @param context - passed on to `classifyGitHubFailure`.
 * @returns the failure class.
 * @example
 * ```ts
 * const response = await fetch(url, { signal });
 * if (!response.ok) {
 *   const failureClass = await classifyGitHubResponse(response);
 *   throw Object.assign(new Error(`GitHub answered ${response.status}`), { failureClass });
 * }
 * ```
 */
export async function classifyGitHubResponse(
  response: Response,
  context?: GitHubFailureContext,
): Promise<FailureClass> {
  const withoutBody = classifyGitHubStatus(response.status, response.headers, undefined, context);
  if (response.status !== 403 || withoutBody !== "transient" || context?.overrides?.[403]) {
    return withoutBody;
  }
  let body: string | undefined;
  try {
    body = await response.clone().text();
  } catch {
    // Already consumed or the connection broke: decide on the headers alone.
  }
  return classifyGitHubStatus(response.status, response.headers, body, context);
}

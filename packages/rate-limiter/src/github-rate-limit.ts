import { type HeadersLike, mentionsSecondaryRateLimit, readHeader } from "@beauvoir/core";
import type { RateLimiter, RateLimitKind } from "./rate-limiter.js";

/**
 * An HTTP answer from GitHub, or an error that carries one: an object with
 * `status`, `headers` and the parsed `body`, or Octokit's `RequestError`
 * (`status`, `response.headers`, `response.data`).
 */
export interface GitHubResponseLike {
  /** HTTP status code. */
  readonly status: number;
  /** Response headers. */
  readonly headers?: HeadersLike | undefined;
  /** Parsed JSON body (`{ message }`) or the body text. */
  readonly body?: unknown;
  /** Where Octokit's `RequestError` keeps the response. */
  readonly response?:
    | { readonly headers?: HeadersLike | undefined; readonly data?: unknown }
    | undefined;
  /** An error's message; searched for the secondary-limit text when there is no body. */
  readonly message?: string | undefined;
}

/** What {@link parseGitHubRateLimit} found in a response. */
export interface GitHubRateLimit {
  readonly kind: RateLimitKind;
  /** `retry-after`, when it was given in seconds. */
  readonly retryAfterSec: number | undefined;
  /**
   * When to try again, UTC epoch seconds: `x-ratelimit-reset` when the quota
   * is used up, or a `retry-after` given as an HTTP date.
   */
  readonly resetAtEpochSec: number | undefined;
}

const WHOLE_NUMBER = /^\d+$/;
/** An HTTP date names a month or weekday; `Date.parse` alone would also take "5.5". */
const HAS_LETTERS = /[a-z]/i;

/**
 * Reads GitHub's rate-limit signals from a response, following GitHub's REST
 * documentation ("Rate limits for the REST API", "Exceeding the rate limit"):
 *
 * - only `403` and `429` can be rate limits;
 * - a body that mentions a secondary rate limit (or, in older answers, abuse
 *   detection) → `"secondary"`, with `retry-after`, and with
 *   `x-ratelimit-reset` when `x-ratelimit-remaining` is `0`;
 * - otherwise `x-ratelimit-remaining: 0` → `"primary"`, until `x-ratelimit-reset`;
 * - otherwise a `retry-after` header, or any `429` → `"secondary"`;
 * - anything else (a plain `403` is a permission problem) → `null`.
 *
 * @param response - the response, or an error carrying one.
 * @returns the limit found, or `null` when the response is not a rate limit.
 * @example
 * ```ts
 * const limit = parseGitHubRateLimit({ status: 429, headers: { "retry-after": "30" } });
 * // { kind: "secondary", retryAfterSec: 30, resetAtEpochSec: undefined }
 * ```
 */
export function parseGitHubRateLimit(response: GitHubResponseLike): GitHubRateLimit | null {
  const status = response?.status;
  if (status !== 403 && status !== 429) return null;
  const headers = response.headers ?? response.response?.headers;
  const retryAfter = readHeader(headers, "retry-after");
  let retryAfterSec: number | undefined;
  let retryAtEpochSec: number | undefined;
  if (retryAfter !== undefined && WHOLE_NUMBER.test(retryAfter)) {
    retryAfterSec = Number(retryAfter);
  } else if (retryAfter !== undefined && HAS_LETTERS.test(retryAfter)) {
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) retryAtEpochSec = Math.ceil(date / 1000);
  }
  const remaining = readHeader(headers, "x-ratelimit-remaining");
  const quotaUsedUp =
    remaining !== undefined && WHOLE_NUMBER.test(remaining) && Number(remaining) === 0;
  const reset = readHeader(headers, "x-ratelimit-reset");
  const resetAtEpochSec =
    quotaUsedUp && reset !== undefined && WHOLE_NUMBER.test(reset) ? Number(reset) : undefined;
  const retryGiven = retryAfterSec !== undefined || retryAtEpochSec !== undefined;

  let kind: RateLimitKind;
  if (mentionsSecondaryRateLimit(messageOf(response))) kind = "secondary";
  else if (quotaUsedUp) kind = "primary";
  else if (retryGiven || status === 429) kind = "secondary";
  else return null;
  return { kind, retryAfterSec, resetAtEpochSec: later(resetAtEpochSec, retryAtEpochSec) };
}

/**
 * Reads GitHub's rate-limit headers and body from a response and records what
 * they say on `limiter` (see {@link parseGitHubRateLimit} for the rules and
 * `RateLimiter.recordRateLimit` for the effect). Call it for every failed
 * response; it does nothing for those that are not rate limits.
 *
 * @param limiter - the limiter to inform.
 * @param workflowId - the workflow whose request was refused.
 * @param response - the response, or an error carrying one (Octokit's `RequestError` works as is).
 * @returns the kind of limit recorded, or `null` when the response is not a rate limit.
 * @example
 * ```ts
 * const response = await fetch(url);
 * if (!response.ok) {
 *   const body = await response.json();
 *   const kind = recordGitHubRateLimit(limiter, "triage", { status: response.status, headers: response.headers, body });
 *   if (kind) await delay(limiter.getBackoffMs("triage"));
 * }
 * ```
 */
export function recordGitHubRateLimit(
  limiter: RateLimiter,
  workflowId: string,
  response: GitHubResponseLike,
): RateLimitKind | null {
  const limit = parseGitHubRateLimit(response);
  if (limit === null) return null;
  limiter.recordRateLimit(workflowId, limit.kind, limit.retryAfterSec, limit.resetAtEpochSec);
  return limit.kind;
}

/** The text GitHub explains the refusal in: the body's `message`, the body text, or the error message. */
function messageOf(response: GitHubResponseLike): string {
  const body = response.body ?? response.response?.data;
  if (typeof body === "string") return body;
  const message = (body as { message?: unknown } | null | undefined)?.message;
  if (typeof message === "string") return message;
  return typeof response.message === "string" ? response.message : "";
}

function later(first: number | undefined, second: number | undefined): number | undefined {
  if (first === undefined) return second;
  if (second === undefined) return first;
  return Math.max(first, second);
}

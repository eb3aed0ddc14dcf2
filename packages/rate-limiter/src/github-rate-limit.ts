import {
  type HeadersLike,
  type HttpFailure,
  mentionsSecondaryRateLimit,
  readHeader,
  readHttpFailure,
} from "@beauvoir/core";
import type { RateLimitKind } from "./blocks-snapshot.js";
import type { RateLimiter } from "./rate-limiter.js";

/**
 * An HTTP answer from GitHub, or an error that carries one: an object with
 * `status`, `headers` and the parsed `body`, Octokit's `RequestError`
 * (`status`, `response.headers`, `response.data`), a fetch `Response`, or an
 * error whose `cause` is one of those. The readers take `unknown`; this type
 * documents what they look at.
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
/** Wrappers seen in practice are a level or two deep; this also stops cycles. */
const MAX_CAUSE_DEPTH = 8;

/** @internal An HTTP answer found in a value, and the object that carried it. */
export interface FoundHttpAnswer {
  readonly failure: HttpFailure;
  readonly carrier: Record<string, unknown>;
}

/**
 * @internal Finds the HTTP answer in `value` or its `cause` chain, read by
 * core's `readHttpFailure` (Octokit errors, fetch responses, axios-like errors,
 * any `{ status, headers }`).
 */
export function findHttpAnswer(value: unknown): FoundHttpAnswer | undefined {
  let current = value;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH; depth++) {
    if (typeof current !== "object" || current === null) return undefined;
    const failure = readHttpFailure(current);
    if (failure !== undefined) return { failure, carrier: current as Record<string, unknown> };
    current = safeGet(current, "cause");
  }
  return undefined;
}

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
 * The status and headers are read with core's `readHttpFailure`, so an
 * Octokit `RequestError`, a fetch `Response`, an axios-like error or any
 * `{ status, headers }` works, also as the `cause` of another error. The body
 * is read when it is text or parsed JSON (`body`, Octokit's `response.data`,
 * `data`), else the error's message; the body stream of a fetch `Response` is
 * not read here (see {@link readGitHubRateLimit}).
 *
 * @param response - the response, or an error carrying one.
 * @returns the limit found, or `null` when the value is not a rate-limit answer.
 * @example
 * ```ts
 * const limit = parseGitHubRateLimit({ status: 429, headers: { "retry-after": "30" } });
 * // { kind: "secondary", retryAfterSec: 30, resetAtEpochSec: undefined }
 * ```
 */
export function parseGitHubRateLimit(response: unknown): GitHubRateLimit | null {
  const found = findHttpAnswer(response);
  return found === undefined ? null : rateLimitOf(found, undefined);
}

/**
 * Like {@link parseGitHubRateLimit}, and also reads the body of a fetch
 * `Response` (from a clone, so the caller can still read it) when only the
 * body can tell: a `403` whose headers say nothing of a rate limit.
 * @param response - the response, or an error carrying one.
 * @returns the limit found, or `null`.
 * @example
 * ```ts
 * const response = await fetch(url);
 * if (!response.ok) {
 *   const limit = await readGitHubRateLimit(response);
 *   if (limit) limiter.recordRateLimit("triage", limit.kind, limit.retryAfterSec, limit.resetAtEpochSec);
 * }
 * ```
 */
export async function readGitHubRateLimit(response: unknown): Promise<GitHubRateLimit | null> {
  const found = findHttpAnswer(response);
  if (found === undefined) return null;
  const fromHeaders = rateLimitOf(found, undefined);
  if (fromHeaders !== null || found.failure.status !== 403) return fromHeaders;
  const clone = safeGet(found.carrier, "clone");
  if (typeof clone !== "function" || safeGet(found.carrier, "bodyUsed") === true) return null;
  let text: string;
  try {
    text = await (clone.call(found.carrier) as Response).text();
  } catch {
    // The connection broke while reading: decide on the headers, as above.
    return null;
  }
  return rateLimitOf(found, text);
}

/**
 * Reads GitHub's rate-limit headers and body from a response and records what
 * they say on `limiter`: the same as `limiter.recordRateLimitFailure(response,
 * workflowId)`, returning only the kind. Call it for every failed response; it
 * does nothing for those that are not rate limits.
 *
 * @param limiter - the limiter to inform.
 * @param workflowId - the workflow whose request was refused (for the log).
 * @param response - the response, or an error carrying one (Octokit's `RequestError` works as is).
 * @returns the kind of limit recorded, or `null` when the response is not a rate limit.
 * @example
 * ```ts
 * try {
 *   await octokit.rest.issues.createComment({ owner, repo, issue_number, body });
 * } catch (error) {
 *   if (recordGitHubRateLimit(limiter, "triage", error)) await delay(limiter.getBackoffMs("triage"));
 *   else throw error;
 * }
 * ```
 */
export function recordGitHubRateLimit(
  limiter: RateLimiter,
  workflowId: string,
  response: unknown,
): RateLimitKind | null {
  return limiter.recordRateLimitFailure(response, workflowId)?.kind ?? null;
}

/** @internal The rate limit an HTTP answer states, if any; `bodyText` adds a body read elsewhere. */
export function rateLimitOf(
  found: FoundHttpAnswer,
  bodyText: string | undefined,
): GitHubRateLimit | null {
  const { status, headers } = found.failure;
  if (status !== 403 && status !== 429) return null;
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
  if (mentionsSecondaryRateLimit(explanations(found, bodyText))) kind = "secondary";
  else if (quotaUsedUp) kind = "primary";
  else if (retryGiven || status === 429) kind = "secondary";
  else return null;
  return { kind, retryAfterSec, resetAtEpochSec: later(resetAtEpochSec, retryAtEpochSec) };
}

/**
 * The texts GitHub explains a refusal in: the body (`body`, Octokit's
 * `response.data`, `data`), then the message. A fetch `Response.body` is a
 * stream and is skipped.
 */
function explanations(found: FoundHttpAnswer, bodyText: string | undefined): unknown[] {
  const { carrier, failure } = found;
  const response = safeGet(carrier, "response");
  const texts: unknown[] = [bodyText, plainBody(safeGet(carrier, "body"))];
  if (typeof response === "object" && response !== null) texts.push(safeGet(response, "data"));
  texts.push(plainBody(safeGet(carrier, "data")), failure.message, safeGet(carrier, "message"));
  return texts;
}

function plainBody(value: unknown): unknown {
  if (typeof value === "object" && value !== null && "getReader" in value) return undefined;
  return value;
}

function later(first: number | undefined, second: number | undefined): number | undefined {
  if (first === undefined) return second;
  if (second === undefined) return first;
  return Math.max(first, second);
}

/** Reads a property without letting a throwing getter escape. */
function safeGet(subject: object, name: string): unknown {
  try {
    return (subject as Record<string, unknown>)[name];
  } catch {
    return undefined;
  }
}

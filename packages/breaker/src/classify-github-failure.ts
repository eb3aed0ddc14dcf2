import type { HeadersLike } from "@beauvoir/core";
import { classifyFailure } from "./classify-failure.js";
import type { FailureClass } from "./failure-class.js";
import { classifyGitHubStatus } from "./github-status-rules.js";

/** What the caller knows about the request, for {@link classifyGitHubFailure}. */
export interface GitHubFailureContext {
  /**
   * The resource is known to exist (we just created it, or read it a moment ago),
   * so a 404 means GitHub is misbehaving (replication lag, an outage), not that
   * the resource is absent.
   * @default false
   */
  resourceShouldExist?: boolean | undefined;
  /** Classes that replace the rules for the given status codes; checked first. */
  overrides?: Readonly<Partial<Record<number, FailureClass>>> | undefined;
}

/**
 * Classifies whatever a call to GitHub threw or returned, as
 * {@link classifyFailure} does: an Octokit `RequestError`, a fetch `Response`
 * or any `{ status, headers }` (also as the `cause` of another error) by the
 * status rules of the other form; a network error (`ECONNREFUSED`,
 * `ENOTFOUND`, `EAI_AGAIN`, `ECONNRESET`, `ETIMEDOUT`, `UND_ERR_*`, an
 * `AbortError` or `TimeoutError`) → `external`; anything else → `transient`.
 *
 * @param failure - what the call threw or returned.
 * @param context - `resourceShouldExist` and per-status `overrides`.
 * @returns the failure class.
 * @example
 * ```ts
 * try {
 *   await octokit.rest.issues.addLabels(params);
 * } catch (error) {
 *   breaker.recordFailure(classifyGitHubFailure(error));
 * }
 * ```
 */
export function classifyGitHubFailure(
  failure: unknown,
  context?: GitHubFailureContext | null,
): FailureClass;
/**
 * Classifies a failed GitHub API response, following these rules in order:
 *
 * 1. `context.overrides[statusCode]`, when given;
 * 2. 429 → `rate_limited`;
 * 3. 403 with a `retry-after` header → `rate_limited`;
 * 4. 403 with `x-ratelimit-remaining: 0` → `rate_limited` (primary limit);
 * 5. 403 whose body mentions a "secondary rate limit" or "abuse detection" → `rate_limited`;
 * 6. any other 403 → `transient` (permissions do not change between calls, but
 *    GitHub also answers 403 during incidents, so it may count);
 * 7. 404 → `transient` when `context.resourceShouldExist`, else `expected`;
 * 8. 422 → `permanent`;
 * 9. 500, 502, 503 and every other status → `transient`.
 *
 * Network failures have no status code: pass the thrown value itself (the
 * other form of this function) and they map to `external`.
 *
 * @param statusCode - the HTTP status of the response.
 * @param headers - the response headers, any shape; names are matched without regard to case.
 * @param body - the response body: the parsed JSON (`{ message, documentation_url }`),
 *   its text, or its bytes. Only needed to recognise a secondary rate limit without `retry-after`.
 * @param context - `resourceShouldExist` and per-status `overrides`.
 * @returns the failure class.
 * @throws TypeError when `statusCode` is not an integer or an override is not a failure class.
 * @example
 * ```ts
 * classifyGitHubFailure(403, { "x-ratelimit-remaining": "0" }); // "rate_limited"
 * classifyGitHubFailure(404, {}, undefined, { resourceShouldExist: true }); // "transient"
 * ```
 */
export function classifyGitHubFailure(
  statusCode: number,
  headers?: HeadersLike | null,
  body?: unknown,
  context?: GitHubFailureContext | null,
): FailureClass;
export function classifyGitHubFailure(
  statusOrFailure: unknown,
  headersOrContext?: unknown,
  body?: unknown,
  context?: GitHubFailureContext | null,
): FailureClass {
  if (typeof statusOrFailure !== "number") {
    return classifyFailure(
      statusOrFailure,
      (headersOrContext ?? undefined) as GitHubFailureContext,
    );
  }
  return classifyGitHubStatus(
    statusOrFailure,
    headersOrContext as HeadersLike | null | undefined,
    body,
    context,
  );
}

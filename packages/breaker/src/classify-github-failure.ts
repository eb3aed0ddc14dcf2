import { type HeadersLike, mentionsSecondaryRateLimit, readHeader } from "@beauvoir/core";
import { type FailureClass, isFailureClass } from "./failure-class.js";

/** What the caller knows about the request, for {@link classifyGitHubFailure}. */
export interface GitHubFailureContext {
  /**
   * The resource is known to exist (we just created it, or read it a moment ago),
   * so a 404 means GitHub is misbehaving (replication lag, an outage), not that
   * the resource is absent.
   * @default false
   */
  resourceShouldExist?: boolean;
  /** Classes that replace the rules for the given status codes; checked first. */
  overrides?: Readonly<Partial<Record<number, FailureClass>>>;
}

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
 * Network failures have no status code: use {@link classifyFailure} on the error,
 * which maps them to `external`.
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
): FailureClass {
  if (!Number.isInteger(statusCode)) {
    throw new TypeError(`statusCode must be an integer, got ${String(statusCode)}`);
  }
  const override = context?.overrides?.[statusCode];
  if (override !== undefined) {
    if (!isFailureClass(override)) {
      throw new TypeError(
        `overrides[${statusCode}] must be a failure class, got ${JSON.stringify(override)}`,
      );
    }
    return override;
  }
  switch (statusCode) {
    case 429:
      return "rate_limited";
    case 403:
      return isRateLimited403(headers, body) ? "rate_limited" : "transient";
    case 404:
      return context?.resourceShouldExist === true ? "transient" : "expected";
    case 422:
      return "permanent";
    default:
      return "transient";
  }
}

function isRateLimited403(headers: HeadersLike | null | undefined, body: unknown): boolean {
  if (readHeader(headers, "retry-after") !== undefined) return true;
  const remaining = readHeader(headers, "x-ratelimit-remaining");
  if (remaining !== undefined && Number(remaining) === 0) return true;
  return mentionsSecondaryRateLimit(body);
}

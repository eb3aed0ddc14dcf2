import { type HeadersLike, mentionsSecondaryRateLimit, readHeader } from "@beauvoir/core";
import type { GitHubFailureContext } from "./classify-github-failure.js";
import { type FailureClass, isFailureClass } from "./failure-class.js";

/**
 * @internal The rules of `classifyGitHubFailure` for a status code, its
 * headers and body.
 * @throws TypeError when `statusCode` is not an integer or an override is not a failure class.
 */
export function classifyGitHubStatus(
  statusCode: number,
  headers: HeadersLike | null | undefined,
  body: unknown,
  context: GitHubFailureContext | null | undefined,
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

// Shared with @beauvoir/breaker through core; re-exported so both read headers the same way.
export { type HeadersLike, readHeader } from "@beauvoir/core";
export {
  type RateLimitBucket,
  RateLimitedError,
  type RateLimiterErrorCode,
  RateLimiterShutDownError,
} from "./errors.js";
export {
  type GitHubRateLimit,
  type GitHubResponseLike,
  parseGitHubRateLimit,
  recordGitHubRateLimit,
} from "./github-rate-limit.js";
export {
  type BackoffOptions,
  RATE_LIMITER_DEFAULTS,
  type RateLimiterOptions,
  type TokenBucketOptions,
} from "./options.js";
export {
  type ConsumeAllowed,
  type ConsumeDenied,
  type ConsumeOptions,
  type ConsumeResult,
  RateLimiter,
  type RateLimitKind,
  type RemainingTokens,
} from "./rate-limiter.js";

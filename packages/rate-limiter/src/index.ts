export {
  type RateLimitBucket,
  RateLimitedError,
  type RateLimiterErrorCode,
  RateLimiterShutDownError,
} from "./errors.js";
export {
  type GitHubRateLimit,
  type GitHubResponseLike,
  type HeadersLike,
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

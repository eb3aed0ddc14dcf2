// Shared with @beauvoir/breaker through core; re-exported so both read headers the same way.
export { type HeadersLike, readHeader } from "@beauvoir/core";
export type {
  RateLimitBlock,
  RateLimitBlocksSnapshot,
  RateLimitKind,
  SecondaryStreak,
} from "./blocks-snapshot.js";
export {
  type RateLimitBucket,
  RateLimitExhaustedError,
  RateLimitedError,
  type RateLimiterErrorCode,
  RateLimiterShutDownError,
  RateLimitSnapshotError,
} from "./errors.js";
export type {
  BlocksChangeEvent,
  BlocksChangeReason,
  RateLimiterEvents,
} from "./github-limits.js";
export type { GitHubQuota } from "./github-quota.js";
export {
  type GitHubRateLimit,
  type GitHubResponseLike,
  parseGitHubRateLimit,
  readGitHubRateLimit,
  recordGitHubRateLimit,
} from "./github-rate-limit.js";
export {
  type BackoffOptions,
  type GitHubQuotaOptions,
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
  type RecordedRateLimit,
  type RemainingTokens,
} from "./rate-limiter.js";

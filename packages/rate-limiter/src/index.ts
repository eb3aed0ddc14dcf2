// Shared with @beauvoir/breaker through core; re-exported so both read headers the same way.
export { type HeadersLike, readHeader } from "@beauvoir/core";
export type {
  RateLimitBlock,
  RateLimitBlocksSnapshot,
  RateLimitKind,
  SecondaryStreak,
} from "./blocks-snapshot.js";
export type {
  ConsumeAllowed,
  ConsumeDenied,
  ConsumeOptions,
  ConsumeResult,
  RecordedRateLimit,
  RemainingTokens,
} from "./consume-result.js";
export {
  LIMITER_BLOCK_CHANNEL,
  LIMITER_WAIT_CHANNEL,
  type LimiterBlockMessage,
  type LimiterWaitMessage,
} from "./diagnostics.js";
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
export { RateLimiter } from "./rate-limiter.js";

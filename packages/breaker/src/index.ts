// Shared with @beauvoir/rate-limiter through core; re-exported so breaker's API is unchanged.
export { type HeadersLike, mentionsSecondaryRateLimit, readHeader } from "@beauvoir/core";
export { CircuitBreaker } from "./circuit-breaker.js";
export {
  CIRCUIT_BREAKER_GROUP_DEFAULTS,
  CircuitBreakerGroup,
  type CircuitBreakerGroupEventName,
  type CircuitBreakerGroupEvents,
  type CircuitBreakerGroupOptions,
  type GroupStateChangeEvent,
} from "./circuit-breaker-group.js";
export { type CircuitState, isCircuitState } from "./circuit-state.js";
export type { CircuitStats } from "./circuit-stats.js";
export { classifyFailure, classifyGitHubResponse } from "./classify-failure.js";
export { classifyGitHubFailure, type GitHubFailureContext } from "./classify-github-failure.js";
export { BREAKER_STATE_CHANNEL, type BreakerStateMessage } from "./diagnostics.js";
export {
  type BreakerErrorCode,
  BreakerSnapshotError,
  CircuitOpenError,
  CircuitTimeoutError,
} from "./errors.js";
export type {
  CircuitBreakerEventName,
  CircuitBreakerEvents,
  CircuitFailureEvent,
  CircuitRejectEvent,
  CircuitStateChangeEvent,
  CircuitSuccessEvent,
  StateChangeReason,
} from "./events.js";
export type { ExecuteOptions } from "./execute-options.js";
export { FAILURE_CLASSES, type FailureClass, isFailureClass } from "./failure-class.js";
export { findNetworkErrorCode } from "./network-error-code.js";
export {
  CIRCUIT_BREAKER_DEFAULTS,
  type CircuitBreakerOptions,
  type CommonCircuitBreakerOptions,
  type LegacyCircuitBreakerOptions,
} from "./options.js";
export type { CircuitBreakerSnapshot } from "./snapshot.js";
export type { Listener } from "./typed-emitter.js";

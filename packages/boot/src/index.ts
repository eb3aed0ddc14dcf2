export type {
  BackendBootResult,
  BackendBootServices,
  BootBackend,
  BootBackendContext,
  BootBackendServices,
} from "./backend.js";
export {
  BOOT_DEFAULTS,
  type BootConfig,
  type BootContext,
  type BootInitializers,
  type BootPaths,
} from "./boot-config.js";
export { BootOrchestrator, boot } from "./boot-orchestrator.js";
export type { ReconcilePassOptions, ReconcileReport } from "./boot-reconciliation.js";
export type {
  AutonomousBootResult,
  BootResult,
  BootResultBase,
  BootServices,
  DegradableService,
  DegradedBootResult,
  DegradedBootServices,
  DevBootResult,
  DevBootServices,
  ShutdownEvent,
  ShutdownOptions,
} from "./boot-result.js";
export { defaultInitializers } from "./default-initializers.js";
export {
  BEAUVOIR_CHANNELS,
  STEP_ATTEMPT_CHANNEL,
  STEP_CHANNEL,
  STEP_DURABLE_CHANNEL,
  type StepAttemptMessage,
  type StepDurableMessage,
  type StepTraceContext,
} from "./diagnostics.js";
export {
  BootError,
  type BootErrorCode,
  DegradedModeError,
  InvalidToolPolicyError,
  KeyInFlightError,
  PolicyDeniedError,
  type PolicyViolation,
  ShuttingDownError,
  StepFailedError,
  StepInDoubtError,
  StepSupersededError,
  SubsystemUnavailableError,
  WorkflowNotFoundError,
  WorkflowRunOwnedError,
} from "./errors.js";
export type {
  DurablePoint,
  DurablePointEvent,
  OperatingMode,
  ReconcileContext,
  ReconcileHook,
} from "./executor-context.js";
export { CircuitOpenError, RateLimitedError } from "./external-errors.js";
export {
  type AttemptFailure,
  classifyAttemptFailure,
  describeFailure,
  type FailureKind,
  type FailureModelOverrides,
} from "./failure-model.js";
export type { DamageReport, HealthReport, SubsystemStatus } from "./health-report.js";
export { type JsonSafe, type JsonSafeMember, toJsonSafe } from "./json-safe.js";
export {
  LAST_BOOT_FILE,
  type LastBootReading,
  type LastBootRecord,
  readLastBootRecord,
} from "./last-boot.js";
export type {
  ActionPolicyPort,
  AtomicClaim,
  AtomicClaimInput,
  AtomicSettleInput,
  AtomicSettleOutcome,
  AtomicStepPort,
  AuditIntentInput,
  AuditPendingIntent,
  AuditResultByKey,
  AuditTrailPort,
  CircuitBreakerGroupPort,
  CircuitBreakerPort,
  CompensationStrategy,
  IdempotencyClaim,
  IdempotencyEntryView,
  IdempotencyIndexPort,
  IdempotencySettlement,
  JsonStorePort,
  LockHandlePort,
  LockManagerPort,
  RateLimiterPort,
  RedactorPort,
  StoreFactoryPort,
  WorkflowAdvance,
  WorkflowRunOwnership,
  WorkflowRunRecord,
  WorkflowRunStorePort,
} from "./ports.js";
export {
  RECORDED_ERROR_CODES,
  type RecordedVerdict,
  recordedVerdict,
} from "./recorded-verdict.js";
export {
  RESILIENCE_STATE_STORE,
  type ResilienceState,
} from "./resilience-state.js";
export { RETRY_DEFAULTS, type RetryOptions } from "./retry-policy.js";
export {
  DurableStepExecutor,
  STEP_EXECUTOR_DEFAULTS,
  type StepExecutorOptions,
} from "./step-executor.js";
export { actionOfKey } from "./step-identity.js";
export type {
  DeduplicatedOutcome,
  DryRunOutcome,
  ExecutedOutcome,
  ReadOutcome,
  ReconciledBy,
  ReconciledMarker,
  ReconciledOutcome,
  StepOutcome,
  StepSettlement,
  WriteOutcome,
} from "./step-outcome.js";
export type { SideEffectContext, StepKind, StepRequest } from "./step-request.js";
export {
  type ActionPolicy,
  type ParamConstraint,
  type ParamViolation,
  type RegistryValidation,
  type ToolPolicy,
  ToolValidator,
} from "./tool-validator.js";
export {
  type AdvanceResult,
  type StepIdentity,
  type WorkflowDefinition,
  WorkflowEngine,
  type WorkflowEngineOptions,
  type WorkflowRunState,
  type WorkflowStepContext,
  type WorkflowStepDefinition,
} from "./workflow-engine.js";
export type { PinnedStepKey } from "./workflow-engine-state.js";

export {
  BOOT_DEFAULTS,
  type BootConfig,
  type BootContext,
  type BootInitializers,
  type BootPaths,
  type RedactorPort,
} from "./boot-config.js";
export {
  BootOrchestrator,
  type BootResult,
  type BootServices,
  boot,
  type ShutdownEvent,
  type ShutdownOptions,
} from "./boot-orchestrator.js";
export { defaultInitializers } from "./default-initializers.js";
export {
  BootError,
  type BootErrorCode,
  DegradedModeError,
  InvalidToolPolicyError,
  ShuttingDownError,
  StepFailedError,
  StepInDoubtError,
  SubsystemUnavailableError,
  WorkflowNotFoundError,
} from "./errors.js";
export { CircuitOpenError, RateLimitedError } from "./external-errors.js";
export type { HealthReport, SubsystemStatus } from "./health-report.js";
export type {
  AuditTrailPort,
  CircuitBreakerPort,
  CompensationStrategy,
  IdempotencyEntryView,
  IdempotencyIndexPort,
  JsonStorePort,
  LockHandlePort,
  LockManagerPort,
  RateLimiterPort,
  StoreFactoryPort,
} from "./ports.js";
export {
  actionOfKey,
  type DurablePoint,
  DurableStepExecutor,
  type OperatingMode,
  type ReconcileHook,
  type ReconcileReport,
  type SideEffectContext,
  type StepExecutorOptions,
  type StepKind,
  type StepOutcome,
  type StepRequest,
} from "./step-executor.js";
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

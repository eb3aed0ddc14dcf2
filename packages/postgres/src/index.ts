export {
  type AuditExportReport,
  type ExportAuditHistoryOptions,
  exportAuditHistory,
} from "./audit-export.js";
export {
  AUDIT_SEALER_DEFAULTS,
  AUDIT_SEALER_LOCK,
  type AuditCheckpointOptions,
  AuditSealer,
  type AuditSealerOptions,
  type SignedCheckpoint,
} from "./audit-sealer.js";
export {
  type IntentRecord,
  type OpenIntent,
  PostgresAuditTrail,
  type RecordedResult,
} from "./audit-trail.js";
export {
  createPostgresBackend,
  PostgresBackend,
  type PostgresBackendOptions,
} from "./backend.js";
export {
  type Checkpoint,
  checkpointKeyId,
  checkpointVerifierKey,
  signCheckpoint,
  verifyCheckpoint,
  verifyHistoryAgainstCheckpoint,
} from "./checkpoint.js";
export { CONNECTION_DEFAULTS, type ConnectionOptions } from "./connection-options.js";
export {
  CheckpointError,
  type CheckpointProblem,
  DatabaseUnavailableError,
  LeaseLostError,
  type LeaseLostReason,
  LockHeldError,
  LockLostError,
  type PostgresErrorCode,
  type SchemaProblem,
  SchemaVersionError,
  SessionSettingsError,
  StaleFenceError,
  StoreConflictError,
} from "./errors.js";
export {
  type ClaimInput,
  type ClaimOutcome,
  type IdempotencyKeyEntry,
  type KeyStatus,
  type OperatorOutcome,
  PostgresIdempotencyIndex,
  type PostgresIdempotencyOptions,
  type SettledWorkflowRun,
  type SettleInput,
  type SettleOutcome,
  type TakenOverKey,
  type TakeOverOptions,
} from "./idempotency-index.js";
export {
  actionOfKey,
  createKeyGenerator,
  type GenerateKey,
  type KeyRedactor,
} from "./idempotency-key.js";
export {
  INSTANCE_LEASE_DEFAULTS,
  InstanceLease,
  type InstanceLeaseOptions,
} from "./instance-lease.js";
export {
  PostgresJsonStore,
  PostgresStoreFactory,
  type StoredDocument,
  type StoreSetOptions,
} from "./json-store.js";
export { PostgresLockHandle } from "./lock-handle.js";
export {
  type AcquireOptions,
  LOCK_MANAGER_DEFAULTS,
  PostgresLockManager,
  type PostgresLockManagerOptions,
} from "./lock-manager.js";
export { MerkleFrontier, merkleLeafHash, merkleNodeHash } from "./merkle-tree.js";
export { type MigrateOptions, type MigrateReport, migrate } from "./migrate.js";
export { MIGRATIONS, type Migration, SCHEMA_VERSION } from "./migrations.js";
export type {
  PoolClientLike,
  PoolLike,
  Queryable,
  QueryConfigLike,
  QueryResultLike,
} from "./queryable.js";
export {
  PostgresRateLimiter,
  type PostgresRateLimiterOptions,
  type StoredRateLimitBlock,
} from "./rate-limiter.js";
export { assertSchemaUsable, type SchemaState } from "./schema-version.js";
export {
  type PostgresSessionSettings,
  postgresSessionSettings,
  SESSION_SETTINGS_DEFAULTS,
  type SessionSettingsOptions,
  verifySessionSettings,
} from "./session-settings.js";
export type { RetryOptions, SendOptions } from "./statement-runner.js";
export { PostgresWorkflowRuns } from "./workflow-runs.js";

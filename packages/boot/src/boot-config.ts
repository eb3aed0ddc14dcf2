import type { AuditTrailOptions } from "@beauvoir/audit-trail";
import type { CircuitBreakerGroupOptions } from "@beauvoir/breaker";
import type { Clock, FileSystem, Logger } from "@beauvoir/core";
import type { IdempotencyIndexOptions } from "@beauvoir/idempotency";
import type { LockManagerOptions } from "@beauvoir/locks";
import type { RateLimiterOptions } from "@beauvoir/rate-limiter";
import type { LogSink, LogThreshold, SecretRedactorOptions } from "@beauvoir/redactor";
import type { BootBackend } from "./backend.js";
import type { ReconcileHook } from "./executor-context.js";
import type {
  AuditTrailPort,
  CircuitBreakerGroupPort,
  IdempotencyIndexPort,
  LockManagerPort,
  RateLimiterPort,
  RedactorPort,
  StoreFactoryPort,
} from "./ports.js";
import type { RetryOptions } from "./retry-policy.js";
import type { StepExecutorOptions } from "./step-executor.js";
import type { ActionPolicy } from "./tool-validator.js";
import type { WorkflowDefinition } from "./workflow-engine.js";

/** Where boot keeps things under `dataDir`. */
export interface BootPaths {
  dataDir: string;
  /** `{dataDir}/audit/audit.jsonl` */
  auditFile: string;
  /** `{dataDir}/stores` */
  storesDir: string;
  /** `{dataDir}/locks` */
  locksDir: string;
  /** `{dataDir}/idempotency` */
  idempotencyDir: string;
}

/** What each initializer receives: the config and what earlier steps built. */
export interface BootContext {
  config: BootConfig;
  paths: BootPaths;
  clock: Clock;
  fs: FileSystem;
  /** Available from step 3b on; a silent logger before. */
  logger: Logger;
  redactor: RedactorPort | undefined;
  lockManager: LockManagerPort | undefined;
  auditTrail: AuditTrailPort | undefined;
}

/**
 * The functions that build each subsystem. Every one can be replaced through
 * {@link BootConfig.initializers}, e.g. to make one fail in a test.
 */
export interface BootInitializers {
  /** Step 2: creates the directories and proves they are writable (O_EXCL probe). */
  filesystem(context: BootContext): Promise<void>;
  /** Step 2: the lock manager (used for the single-instance lock, the index and step 6). */
  lockManager(context: BootContext): LockManagerPort | Promise<LockManagerPort>;
  /** Step 3a. */
  redactor(context: BootContext): RedactorPort | Promise<RedactorPort>;
  /**
   * Step 3b. Any logger that `createLogger`/`fromPino` did not make (pino,
   * winston, console…) is wrapped in the redacting logger: every record is
   * redacted, and pino is called data first, as it expects.
   */
  logger(context: BootContext): Logger | Promise<Logger>;
  /** Step 3c: opens the audit trail and runs its recovery; returns records lost. */
  auditTrail(context: BootContext): Promise<{ auditTrail: AuditTrailPort; recordsLost: number }>;
  /** Step 3d. */
  storeFactory(context: BootContext): StoreFactoryPort | Promise<StoreFactoryPort>;
  /** Step 3e: one breaker per action (or step `breakerKey`), each with `config.circuitBreaker`. */
  circuitBreakers(context: BootContext): CircuitBreakerGroupPort | Promise<CircuitBreakerGroupPort>;
  /** Step 3f. */
  rateLimiter(context: BootContext): RateLimiterPort | Promise<RateLimiterPort>;
  /** Step 3g: opens (initializes) the idempotency index. */
  idempotencyIndex(context: BootContext): Promise<IdempotencyIndexPort>;
}

/** Options of {@link boot}. */
export interface BootConfig {
  /**
   * The directory holding the audit trail, stores, locks and index (the file
   * backend). Must be absolute; not used, and not needed, with a `backend`.
   */
  dataDir?: string | undefined;
  /**
   * Where the durable state lives instead of `dataDir`, e.g.
   * `createPostgresBackend({ pool, schema: "beauvoir" })` for several replicas
   * sharing one database (no single-instance lock then: each replica holds a lease).
   * @default the file backend under `dataDir`
   */
  backend?: BootBackend | undefined;
  /**
   * Boot in `dev` mode, with a loud warning, whatever fails, instead of
   * aborting or degrading. Never for production.
   * @default false
   */
  allowDev?: boolean | undefined;
  /** HMAC key for the audit trail's records. @default none (hash chain only) */
  hmacKey?: string | Uint8Array | undefined;
  /** Options for `new LockManager(...)`, e.g. `maxAgeMs`, `corruptGraceMs`. @default {} */
  locks?: Omit<LockManagerOptions, "lockDir" | "logger" | "clock" | "fs"> | undefined;
  /**
   * How long step 2 waits for the single-instance lock: a previous process
   * killed while writing its lock file leaves an unreadable file that the lock
   * manager only treats as stale after its `corruptGraceMs`.
   * @default 0 (fail at once with `LOCK_HELD` or `LOCK_CORRUPT`)
   */
  instanceLockWaitMs?: number | undefined;
  /** Options for `new SecretRedactor(...)` (extra patterns, sensitive keys). @default {} */
  redactor?: SecretRedactorOptions | undefined;
  /**
   * Logger settings, passed to `createLogger`.
   * @default level from `BEAUVOIR_LOG_LEVEL` or "info", prefix "beauvoir", the console sink
   */
  log?:
    | {
        level?: LogThreshold | undefined;
        prefix?: string | undefined;
        sink?: LogSink | undefined;
      }
    | undefined;
  /** Extra options for `new AuditTrail(...)`, e.g. `maxSizeBytes`. @default {} */
  auditTrail?:
    | Omit<AuditTrailOptions, "path" | "logger" | "clock" | "fs" | "redactor" | "hmacKey">
    | undefined;
  /** The action policy to validate at step 4 (with {@link BootConfig.toolNames}). @default none: step 4 is skipped */
  actionPolicy?: ActionPolicy | undefined;
  /** The tool names the registry offers, cross-checked against {@link BootConfig.actionPolicy}. */
  toolNames?: readonly string[] | undefined;
  /** Options for each action's `CircuitBreaker` (`name` is the action). @default the breaker's defaults */
  circuitBreaker?: Omit<CircuitBreakerGroupOptions, "name"> | undefined;
  /** Options for `new RateLimiter(...)`. @default the limiter's defaults */
  rateLimiter?: RateLimiterOptions | undefined;
  /** Options for `new IdempotencyIndex(...)` (compensation table, onPendingConflict, ttlMs). */
  idempotency?:
    | Omit<
        IdempotencyIndexOptions,
        "dir" | "logger" | "clock" | "fs" | "locks" | "auditQuery" | "redactor"
      >
    | undefined;
  /**
   * Per-action checks for `check_then_retry` steps whose outcome is unknown
   * (left pending by a crash, or after an ambiguous failure). @default {}
   */
  reconcilers?: Readonly<Record<string, ReconcileHook>> | undefined;
  /** How every step retries unless it says otherwise. @default { maxAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 60_000 } */
  retry?: RetryOptions | undefined;
  /** Longest wait for a rate-limit token or a retry's backoff, for every step. @default 3_600_000 */
  maxWaitMs?: number | undefined;
  /** Simulate every write step: `dry_run` records, no side effect. @default false */
  dryRun?: boolean | undefined;
  /** Longest a reconcile hook may take before its signal aborts. @default 60_000 */
  reconcileTimeoutMs?: number | undefined;
  /** Workflows to register on the engine. @default [] */
  workflows?: ReadonlyArray<WorkflowDefinition<never>> | undefined;
  /** Longest wait for in-flight steps at shutdown. @default 10_000 */
  shutdownTimeoutMs?: number | undefined;
  /** Install SIGTERM/SIGINT handlers that call `shutdown()` then re-raise the signal. @default false */
  handleSignals?: boolean | undefined;
  /** See {@link StepExecutorOptions.onDurablePoint}. */
  onDurablePoint?: StepExecutorOptions["onDurablePoint"] | undefined;
  /** @default systemClock */
  clock?: Clock | undefined;
  /** @default nodeFileSystem */
  fs?: FileSystem | undefined;
  /** Replacements for the default initializers. @default {} */
  initializers?: Partial<BootInitializers> | undefined;
}

/** Defaults applied to {@link BootConfig}. */
export const BOOT_DEFAULTS = Object.freeze({
  allowDev: false,
  instanceLockWaitMs: 0,
  shutdownTimeoutMs: 10_000,
  handleSignals: false,
});

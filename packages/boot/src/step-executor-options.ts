import type { FailureClass } from "@beauvoir/breaker";
import { type Clock, type Logger, silentLogger, systemClock } from "@beauvoir/core";
import type {
  DurablePointEvent,
  ExecutorContext,
  OperatingMode,
  ReconcileHook,
} from "./executor-context.js";
import type {
  ActionPolicyPort,
  AuditTrailPort,
  CircuitBreakerGroupPort,
  IdempotencyIndexPort,
  RateLimiterPort,
  RedactorPort,
} from "./ports.js";
import { type RetryOptions, resolveRetryOptions } from "./retry-policy.js";
import { assertTimeout, assertWait } from "./step-request.js";

/** Options of {@link DurableStepExecutor}. */
export interface StepExecutorOptions {
  /** The audit trail; absent only in dev mode. */
  auditTrail?: AuditTrailPort | undefined;
  /** The idempotency index; absent in degraded or dev mode. */
  idempotencyIndex?: IdempotencyIndexPort | undefined;
  /** One circuit breaker per action (or step `breakerKey`); side effects run without when absent. */
  circuitBreakers?: CircuitBreakerGroupPort | undefined;
  /** The rate limiter; no limit when absent. */
  rateLimiter?: RateLimiterPort | undefined;
  /** The action policy each step's params are checked against. @default none */
  actionPolicy?: ActionPolicyPort | undefined;
  /** Redacts params for reconcile hooks and error text for the index, as the audit trail does. @default none */
  redactor?: RedactorPort | undefined;
  /** @default "autonomous" */
  mode?: OperatingMode | undefined;
  /** Subsystems that failed at boot, quoted in {@link DegradedModeError}. @default [] */
  failedSubsystems?: readonly string[] | undefined;
  /** Per-action checks for `check_then_retry` steps whose outcome is unknown. @default {} */
  reconcilers?: Readonly<Record<string, ReconcileHook>> | undefined;
  /** Retries of every step that does not say otherwise. @default { maxAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 60_000 } */
  retry?: RetryOptions | undefined;
  /** Longest wait for a token or a backoff, for steps that do not say. @default 3_600_000 (GitHub's primary window) */
  maxWaitMs?: number | undefined;
  /** Simulate every write step (a `dry_run` record each, nothing run). @default false */
  dryRun?: boolean | undefined;
  /** Longest a reconcile hook may take before its signal aborts. @default 60_000 */
  reconcileTimeoutMs?: number | undefined;
  /** Maps a thrown error to a breaker class for steps without their own `classify`. @default the breaker's */
  classify?: ((error: unknown) => FailureClass) | undefined;
  /** @default silentLogger */
  logger?: Logger | undefined;
  /** @default systemClock */
  clock?: Clock | undefined;
  /** Random source in [0, 1) for the backoff jitter. @default Math.random */
  random?: (() => number) | undefined;
  /**
   * Awaited after each durable point of a write step. For tracing, and for
   * crash tests that stop the process at an exact point.
   */
  onDurablePoint?: ((event: DurablePointEvent) => unknown) | undefined;
  /**
   * The lease of this replica on a backend shared by replicas (boot passes
   * the backend's): once it aborts, the signals of running side effects abort
   * (their keys stay pending, for the replica that takes them over) and no
   * step starts any more (`execute()` rejects with the signal's reason).
   * @default none
   */
  signal?: AbortSignal | undefined;
}

/** Defaults of {@link StepExecutorOptions}. */
export const STEP_EXECUTOR_DEFAULTS = Object.freeze({
  maxWaitMs: 3_600_000,
  reconcileTimeoutMs: 60_000,
  dryRun: false,
});

/** The signals the executor aborts, shared by every part of it. */
export interface ExecutorSignals {
  /** Aborted by `stop()`. */
  stopSignal: AbortSignal;
  /** Aborted when `drain()` gives up. */
  shutdownSignal: AbortSignal;
}

/**
 * Checks the executor's options and resolves their defaults into the
 * context every part of the executor shares. The `signal` option (the
 * lease) is the executor's own business and is not looked at here.
 * @param options - the executor's options.
 * @param signals - the executor's stop and shutdown signals.
 * @returns the context, with its own copy of the reconcile hooks.
 * @throws TypeError or RangeError naming a bad option.
 */
export function executorContextOf(
  options: StepExecutorOptions,
  signals: ExecutorSignals,
): ExecutorContext {
  const mode = options.mode ?? "autonomous";
  if (!["autonomous", "degraded", "dev"].includes(mode)) {
    throw new RangeError(`mode must be "autonomous", "degraded" or "dev", got ${String(mode)}`);
  }
  const reconcilers = { ...options.reconcilers };
  assertHooks(reconcilers, "reconcilers");
  const maxWaitMs = options.maxWaitMs ?? STEP_EXECUTOR_DEFAULTS.maxWaitMs;
  assertWait(maxWaitMs, "maxWaitMs");
  const reconcileTimeoutMs =
    options.reconcileTimeoutMs ?? STEP_EXECUTOR_DEFAULTS.reconcileTimeoutMs;
  assertTimeout(reconcileTimeoutMs, "reconcileTimeoutMs");
  if (options.dryRun !== undefined && typeof options.dryRun !== "boolean") {
    throw new TypeError(`dryRun must be a boolean, got ${String(options.dryRun)}`);
  }
  const random = options.random ?? Math.random;
  if (typeof random !== "function") throw new TypeError("random must be a function");
  const redactor = options.redactor;
  return {
    audit: options.auditTrail,
    index: options.idempotencyIndex,
    breakers: options.circuitBreakers,
    limiter: options.rateLimiter,
    policy: options.actionPolicy,
    mode,
    failedSubsystems: options.failedSubsystems ?? [],
    reconcilers,
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? systemClock,
    random,
    redact: redactor ? (value) => redactor.redactAny(value) : (value) => value,
    retry: resolveRetryOptions(options.retry),
    maxWaitMs,
    dryRun: options.dryRun ?? STEP_EXECUTOR_DEFAULTS.dryRun,
    reconcileTimeoutMs,
    classify: options.classify,
    onDurablePoint: options.onDurablePoint,
    stopSignal: signals.stopSignal,
    shutdownSignal: signals.shutdownSignal,
    rerunnable: new Map(),
    terminalErrors: new WeakSet(),
  };
}

/**
 * Refuses reconcile hooks that are not functions.
 * @param hooks - one hook per action.
 * @param name - the option's name, for the error.
 * @throws TypeError naming the first bad hook.
 */
export function assertHooks(hooks: Readonly<Record<string, unknown>>, name: string): void {
  for (const [action, hook] of Object.entries(hooks)) {
    if (typeof hook !== "function") throw new TypeError(`${name}.${action} must be a function`);
  }
}

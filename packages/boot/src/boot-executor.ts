import type { BootBackendServices } from "./backend.js";
import type { BootRun } from "./boot-run.js";
import type { DegradableServices } from "./boot-step-degradable-services.js";
import type { OperatingMode } from "./executor-context.js";
import type { FailStopMonitor } from "./fail-stop-monitor.js";
import { DurableStepExecutor } from "./step-executor.js";
import type { ToolValidator } from "./tool-validator.js";

/**
 * The executor boot hands out: the services that opened (the audit trail
 * and the index behind the fail-stop monitor), the mode decided, the
 * config's step settings, and the backend's lease.
 * @param run - the boot in progress.
 * @param services - step 3's P1 services.
 * @param toolValidator - step 4's validator, as the action policy.
 * @param mode - the operating mode.
 * @param monitor - watches the audit trail and the index for fail stops.
 * @param backendServices - the backend's services, for its lease.
 * @returns the executor.
 */
export function createBootExecutor(
  run: BootRun,
  services: DegradableServices,
  toolValidator: ToolValidator | undefined,
  mode: OperatingMode,
  monitor: FailStopMonitor,
  backendServices: BootBackendServices | undefined,
): DurableStepExecutor {
  const { config, context } = run;
  const { idempotencyIndex } = services;
  return new DurableStepExecutor({
    auditTrail:
      context.auditTrail && monitor.watch("auditTrail", context.auditTrail, ["recordIntent"]),
    idempotencyIndex: idempotencyIndex && monitor.watch("idempotencyIndex", idempotencyIndex),
    circuitBreakers: services.circuitBreakers,
    rateLimiter: services.rateLimiter,
    actionPolicy: toolValidator,
    redactor: context.redactor,
    mode,
    failedSubsystems: run.failed,
    reconcilers: config.reconcilers ?? {},
    ...(config.retry === undefined ? {} : { retry: config.retry }),
    ...(config.maxWaitMs === undefined ? {} : { maxWaitMs: config.maxWaitMs }),
    ...(config.dryRun === undefined ? {} : { dryRun: config.dryRun }),
    ...(config.reconcileTimeoutMs === undefined
      ? {}
      : { reconcileTimeoutMs: config.reconcileTimeoutMs }),
    ...(config.circuitBreaker?.classify ? { classify: config.circuitBreaker.classify } : {}),
    logger: context.logger,
    clock: context.clock,
    onDurablePoint: config.onDurablePoint,
    signal: backendServices?.signal,
  });
}

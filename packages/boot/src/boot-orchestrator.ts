import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type Logger, nodeFileSystem, silentLogger, systemClock } from "@beauvoir/core";
import { type BeauvoirLogger, createLogger, loggerSink, SecretRedactor } from "@beauvoir/redactor";
import {
  type BackendBootResult,
  type BootBackend,
  type BootBackendServices,
  backendInitializers,
  PeriodicTakeover,
} from "./backend.js";
import {
  BOOT_DEFAULTS,
  type BootConfig,
  type BootContext,
  type BootInitializers,
  type BootPaths,
} from "./boot-config.js";
import type { ReconcileReport } from "./boot-reconciliation.js";
import { type BootResult, createBootResult, type DevBootServices } from "./boot-result.js";
import { defaultInitializers } from "./default-initializers.js";
import { BootError, describeError } from "./errors.js";
import type { OperatingMode } from "./executor-context.js";
import type { HealthReport, SubsystemStatus } from "./health-report.js";
import type { LockHandlePort, RedactorPort } from "./ports.js";
import {
  RESILIENCE_STATE_STORE,
  type ResilienceState,
  ResilienceStateKeeper,
} from "./resilience-state.js";
import { DurableStepExecutor } from "./step-executor.js";
import { ToolValidator } from "./tool-validator.js";
import { validateBootConfig } from "./validate-boot-config.js";
import { WorkflowEngine } from "./workflow-engine.js";

const INSTANCE_LOCK = "boot-instance";
const P1_STEPS = new Set(["storeFactory", "circuitBreakers", "rateLimiter", "idempotencyIndex"]);

/**
 * Boots the toolkit in seven steps, in order: (1) validate the config, (2)
 * validate the filesystem and take the single-instance lock, (3) build the
 * redactor, logger and audit trail (P0: abort on failure), then the store
 * factory, breaker, rate limiter and idempotency index (P1: degraded mode on
 * failure), (4) validate the tools (P0), (5) reconcile pending intents, (6)
 * recover stale locks and clean quarantine (warn and go on), (7) decide the
 * operating mode and build the health report.
 *
 * @example
 * ```ts
 * const orchestrator = new BootOrchestrator({ dataDir: "/var/lib/agent" });
 * const { mode, health } = await orchestrator.boot();
 * ```
 */
export class BootOrchestrator {
  readonly #config: BootConfig;
  readonly #initializers: BootInitializers;

  /**
   * @param config - see {@link BootConfig}.
   * @throws TypeError when `config` is not an object (the rest is checked in step 1).
   */
  constructor(config: BootConfig) {
    if (typeof config !== "object" || config === null)
      throw new TypeError("boot config must be an object");
    this.#config = config;
    this.#initializers = { ...defaultInitializers, ...config.initializers };
  }

  /**
   * Runs the seven steps.
   * @returns the mode, health report, services, executor and workflow engine.
   * @throws {@link BootError} when a P0 step fails and `allowDev` is off (a
   *   second process on the same `dataDir` fails at step 2 with a `LOCK_HELD` cause).
   */
  async boot(): Promise<BootResult> {
    const startedAt = performance.now();
    const config = this.#config;
    const allowDev = config.allowDev ?? BOOT_DEFAULTS.allowDev;
    const subsystems: Record<string, SubsystemStatus> = {};
    const warnings: string[] = [];
    const failed: string[] = [];
    let p0Failed = false;
    const paths = resolvePaths(config.dataDir);
    const backend = config.backend;
    let initializers = this.#initializers;
    let opened: BootBackendServices | undefined;
    const context: BootContext = {
      config,
      paths,
      clock: config.clock ?? systemClock,
      fs: config.fs ?? nodeFileSystem,
      logger: silentLogger,
      redactor: undefined,
      lockManager: undefined,
      auditTrail: undefined,
    };
    // The lock manager exists before the logger (step 2 < step 3b); it logs through this forwarder.
    const forwardingLogger: Logger = {
      debug: (message, data) => context.logger.debug(message, data),
      info: (message, data) => context.logger.info(message, data),
      warn: (message, data) => context.logger.warn(message, data),
      error: (message, data) => context.logger.error(message, data),
    };
    const health = (mode: OperatingMode, success: boolean): HealthReport => ({
      success,
      mode,
      bootTimeMs: performance.now() - startedAt,
      warnings: [...warnings],
      subsystems: { ...subsystems },
    });
    let instanceLock: LockHandlePort | undefined;
    const abortOrDegrade = async (
      step: string,
      error: unknown,
      priority: "P0" | "P1",
    ): Promise<void> => {
      subsystems[step] = "failed";
      failed.push(step);
      warnings.push(`${step} failed: ${describeError(error)}`);
      context.logger.error(`boot: ${step} failed`, { error, priority });
      if (priority === "P0") {
        p0Failed = true;
        const lockHeld = (error as { code?: unknown })?.code === "LOCK_HELD";
        if (!allowDev || lockHeld) {
          await releaseQuietly(context, instanceLock, opened);
          throw new BootError(step, health(allowDev ? "dev" : "degraded", false), error);
        }
      }
    };
    const attempt = async <T>(step: string, priority: "P0" | "P1", build: () => T | Promise<T>) => {
      try {
        const value = await build();
        subsystems[step] = "ok";
        return value;
      } catch (error) {
        await abortOrDegrade(step, error, priority);
        return undefined;
      }
    };

    // 1. Config validation.
    await attempt("config", "P0", () => validateBootConfig(config));
    // 2. Filesystem validation, then the single-instance lock (the file
    // backend's: replicas of a shared backend run side by side).
    if (!backend) {
      await attempt("filesystem", "P0", () => initializers.filesystem(context));
      context.lockManager = await attempt("lockManager", "P0", () =>
        initializers.lockManager({ ...context, logger: forwardingLogger }),
      );
    }
    if (context.lockManager) {
      const lockManager = context.lockManager;
      instanceLock = await attempt("instanceLock", "P0", () =>
        lockManager.acquire(INSTANCE_LOCK, {
          waitMs: config.instanceLockWaitMs ?? BOOT_DEFAULTS.instanceLockWaitMs,
        }),
      );
    }
    // 3a-3c. P0 services.
    context.redactor = await attempt("redactor", "P0", () => initializers.redactor(context));
    const logger = await attempt("logger", "P0", async () =>
      redactingLogger(await initializers.logger(context), context.redactor),
    );
    if (logger) context.logger = logger;
    if (backend) {
      // The backend replaces the file services; an initializer the config names still wins.
      opened = await attempt("backend", "P0", () =>
        backend.open({
          config,
          logger: context.logger,
          redactor: context.redactor,
          clock: context.clock,
        }),
      );
      if (opened) {
        initializers = {
          ...defaultInitializers,
          ...backendInitializers(opened),
          ...config.initializers,
        };
      }
      context.lockManager = await attempt("lockManager", "P0", () =>
        initializers.lockManager({ ...context, logger: forwardingLogger }),
      );
    }
    const audit = await attempt("auditTrail", "P0", () => initializers.auditTrail(context));
    if (audit) {
      context.auditTrail = audit.auditTrail;
      if (audit.recordsLost > 0) {
        warnings.push(
          `auditTrail: recovery dropped ${audit.recordsLost} record(s) after a torn write or a broken chain`,
        );
      }
    }
    // 3d-3g. P1 services.
    const storeFactory = await attempt("storeFactory", "P1", () =>
      initializers.storeFactory(context),
    );
    const circuitBreakers = await attempt("circuitBreakers", "P1", () =>
      initializers.circuitBreakers(context),
    );
    const rateLimiter = await attempt("rateLimiter", "P1", () => initializers.rateLimiter(context));
    const idempotencyIndex = context.auditTrail
      ? await attempt("idempotencyIndex", "P1", () => initializers.idempotencyIndex(context))
      : await attempt("idempotencyIndex", "P1", () => {
          throw new Error("needs the audit trail, which failed");
        });
    // 4. Tool validation.
    let toolValidator: ToolValidator | undefined;
    if (config.actionPolicy) {
      const policy = config.actionPolicy;
      toolValidator = await attempt("tools", "P0", () => {
        const validator = new ToolValidator(policy);
        if (config.toolNames) {
          const verdict = validator.validateRegistry(config.toolNames);
          warnings.push(...verdict.warnings);
          if (!verdict.valid) throw new Error(verdict.errors.join("; "));
        }
        return validator;
      });
    }
    // Step 7's decision is needed by the executor that steps 5 and 6 use.
    const anyP1Failed = failed.some((step) => P1_STEPS.has(step));
    const mode: OperatingMode =
      p0Failed || (anyP1Failed && allowDev) ? "dev" : anyP1Failed ? "degraded" : "autonomous";
    // Breakers and GitHub's blocks as the last run left them, before any step runs.
    const resilienceState = storeFactory
      ? new ResilienceStateKeeper({
          store: storeFactory.create<ResilienceState>(RESILIENCE_STATE_STORE),
          breakers: circuitBreakers,
          limiter: rateLimiter,
          logger: context.logger,
        })
      : undefined;
    await resilienceState?.restore();
    resilienceState?.watch();
    const executor = new DurableStepExecutor({
      auditTrail: context.auditTrail,
      idempotencyIndex,
      circuitBreakers,
      rateLimiter,
      actionPolicy: toolValidator,
      redactor: context.redactor,
      mode,
      failedSubsystems: failed,
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
      signal: opened?.signal,
    });
    // 5. Reconcile pending intents: warn and go on.
    let reconciliation: ReconcileReport | undefined;
    if (idempotencyIndex && context.auditTrail) {
      try {
        reconciliation = await executor.reconcilePending();
        subsystems.reconciliation = reconciliation.unresolved.length > 0 ? "degraded" : "ok";
        if (reconciliation.unresolved.length > 0) {
          warnings.push(
            `reconciliation: ${reconciliation.unresolved.length} pending step(s) left in doubt`,
          );
        }
        if (reconciliation.failed.length > 0) {
          warnings.push(
            `reconciliation: ${reconciliation.failed.length} pending step(s) marked failed (outcome unknown)`,
          );
        }
      } catch (error) {
        subsystems.reconciliation = "degraded";
        warnings.push(`reconciliation failed: ${describeError(error)}`);
        context.logger.warn("boot: reconciliation failed", { error });
      }
    } else {
      subsystems.reconciliation = "degraded";
      warnings.push(
        "reconciliation skipped: the idempotency index or the audit trail is unavailable",
      );
    }
    // What replicas that stop later leave pending is taken over while this one runs.
    const takeovers =
      opened?.takeoverIntervalMs !== undefined && idempotencyIndex && context.auditTrail
        ? new PeriodicTakeover(
            () => executor.reconcilePending(),
            opened.takeoverIntervalMs,
            context.clock,
            context.logger,
          )
        : undefined;
    takeovers?.start();
    // 6. Stale locks and quarantine: warn and go on.
    if (context.lockManager) {
      try {
        await context.lockManager.recoverStaleLocks();
        subsystems.staleLocks = "ok";
      } catch (error) {
        subsystems.staleLocks = "degraded";
        warnings.push(`stale lock recovery failed: ${describeError(error)}`);
      }
    }
    if (storeFactory?.cleanupQuarantine) {
      try {
        await storeFactory.cleanupQuarantine();
      } catch (error) {
        warnings.push(`quarantine cleanup failed: ${describeError(error)}`);
      }
    }
    // 7. Mode and health.
    if (mode === "dev") {
      const message = `BEAUVOIR IS RUNNING IN DEV MODE: ${failed.join(", ") || "nothing"} failed at boot; durability and audit guarantees do not hold. Never use allowDev in production.`;
      warnings.push(message);
      context.logger.error(message);
      process.emitWarning(message, { code: "BEAUVOIR_DEV_MODE" });
    } else if (mode === "degraded") {
      context.logger.warn("boot: degraded mode, write steps are refused", { failed });
    }
    const report = health(mode, !p0Failed);
    context.logger.info("boot: done", { mode, bootTimeMs: Math.round(report.bootTimeMs) });

    const workflows = new WorkflowEngine({
      executor,
      storeFactory,
      runStore: opened?.workflowRuns,
      logger: context.logger,
      clock: context.clock,
    });
    for (const definition of config.workflows ?? []) workflows.register(definition);
    // See BootServices: the defaults build exactly these classes.
    const services = {
      logger: redactingLogger(context.logger, context.redactor),
      redactor: context.redactor,
      lockManager: context.lockManager,
      auditTrail: context.auditTrail,
      storeFactory,
      circuitBreakers,
      rateLimiter,
      idempotencyIndex,
      toolValidator,
    } as DevBootServices;
    return createBootResult({
      mode,
      health: report,
      reconciliation,
      services,
      executor,
      workflows,
      resilienceState,
      backend: opened && {
        stopTakeovers: async () => takeovers?.stop(),
        close: () => opened.close(),
      },
      shutdownTimeoutMs: config.shutdownTimeoutMs ?? BOOT_DEFAULTS.shutdownTimeoutMs,
      handleSignals: config.handleSignals ?? BOOT_DEFAULTS.handleSignals,
    });
  }
}

/**
 * Boots the toolkit: the seven steps of {@link BootOrchestrator}, with the
 * default initializers unless `config.initializers` replaces some.
 * @param config - see {@link BootConfig}.
 * @returns the mode, health report, services, executor and workflow engine.
 * @throws {@link BootError} when a P0 step fails and `allowDev` is off.
 * @example
 * ```ts
 * const app = await boot({ dataDir: "/var/lib/agent", handleSignals: true });
 * console.log(app.health.mode); // "autonomous"
 * await app.shutdown();
 * ```
 */
export function boot(config: BootConfig & { backend: BootBackend }): Promise<BackendBootResult>;
export function boot(config: BootConfig): Promise<BootResult>;
export function boot(config: BootConfig): Promise<BootResult | BackendBootResult> {
  return new BootOrchestrator(config).boot();
}

function resolvePaths(dataDir: string | undefined): BootPaths {
  const base = typeof dataDir === "string" ? dataDir : "";
  return {
    dataDir: base,
    auditFile: join(base, "audit", "audit.jsonl"),
    storesDir: join(base, "stores"),
    locksDir: join(base, "locks"),
    idempotencyDir: join(base, "idempotency"),
  };
}

async function releaseQuietly(
  context: BootContext,
  instanceLock: LockHandlePort | undefined,
  backend: BootBackendServices | undefined,
): Promise<void> {
  try {
    await context.auditTrail?.close();
  } catch {
    // Boot is already failing; the original error is the one to report.
  }
  try {
    await instanceLock?.release();
  } catch {
    // As above.
  }
  try {
    await backend?.close();
  } catch {
    // As above.
  }
}

/**
 * The logger boot hands out: the initializer's own when it is a redacting
 * one (it has `child()`), else that logger behind a redacting one.
 */
function redactingLogger(logger: Logger, redactor: RedactorPort | undefined): BeauvoirLogger {
  const candidate = logger as Partial<BeauvoirLogger>;
  if (typeof candidate.child === "function" && typeof candidate.isLevelEnabled === "function") {
    return logger as BeauvoirLogger;
  }
  return createLogger(redactor instanceof SecretRedactor ? redactor : new SecretRedactor(), {
    level: "debug",
    sink: loggerSink(logger, { argumentOrder: "message-first" }),
  });
}

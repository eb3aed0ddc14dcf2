import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type Logger, nodeFileSystem, silentLogger, systemClock } from "@beauvoir/core";
import {
  type BeauvoirLogger,
  createLogger,
  isBeauvoirLogger,
  loggerSink,
  looksLikePino,
  SecretRedactor,
} from "@beauvoir/redactor";
import {
  type BackendBootResult,
  type BootBackend,
  type BootBackendServices,
  backendInitializers,
  PeriodicTakeover,
  withBackendInitializers,
} from "./backend.js";
import {
  BOOT_DEFAULTS,
  type BootConfig,
  type BootContext,
  type BootInitializers,
  type BootPaths,
} from "./boot-config.js";
import { describeDamage } from "./boot-damage.js";
import type { ReconcileReport } from "./boot-reconciliation.js";
import { IndexPromotionWatcher, logReconciliation, recordLastBoot } from "./boot-record.js";
import { type BootResult, createBootResult, type DevBootServices } from "./boot-result.js";
import { inspectBootStores } from "./boot-store-health.js";
import { checkDefaultInitializerOptions, defaultInitializers } from "./default-initializers.js";
import { BootError, describeError } from "./errors.js";
import type { OperatingMode } from "./executor-context.js";
import { FailStopMonitor } from "./fail-stop-monitor.js";
import type { DamageReport, HealthReport, SubsystemStatus } from "./health-report.js";
import type { LockHandlePort, RedactorPort } from "./ports.js";
import { redactingStore } from "./redacting-store.js";
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
    const allowDev = (config.allowDev ?? BOOT_DEFAULTS.allowDev) === true;
    const subsystems: Record<string, SubsystemStatus> = {};
    const warnings: string[] = [];
    const damage: DamageReport[] = [];
    const failed: string[] = [];
    let p0Failed = false;
    const paths = resolvePaths(config.dataDir);
    // With a backend, its services replace the file ones once it is open.
    const backend = config.backend;
    let initializers = this.#initializers;
    let backendServices: BootBackendServices | undefined;
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
    // Until step 3a builds the configured redactor, texts go through a default one.
    const fallbackRedactor = new SecretRedactor();
    const redact = (text: string): string => {
      const redacted = (context.redactor ?? fallbackRedactor).redactAny(text);
      return typeof redacted === "string" ? redacted : fallbackRedactor.redact(text);
    };
    const health = (mode: OperatingMode, success: boolean): HealthReport => ({
      success,
      mode,
      bootTimeMs: performance.now() - startedAt,
      warnings: warnings.map(redact),
      subsystems: { ...subsystems },
      damage: [...damage],
    });
    let bootedAt = new Date().toISOString();
    const lastBoot = (
      report: HealthReport,
      reconciliation: ReconcileReport | undefined,
      aborted?: { step: string; error: string },
    ) =>
      recordLastBoot(context, context.redactor ?? fallbackRedactor, {
        bootedAt,
        health: report,
        reconciliation,
        ...(aborted ? { aborted } : {}),
      });
    let instanceLock: LockHandlePort | undefined;
    // What an abort after step 3 closes, so a later boot in this process finds it free.
    const opened: Array<() => unknown> = [];
    const abortOrDegrade = async (
      step: string,
      error: unknown,
      priority: "P0" | "P1",
    ): Promise<void> => {
      subsystems[step] = "failed";
      failed.push(step);
      const lockHeld = (error as { code?: unknown })?.code === "LOCK_HELD";
      // A bad option aborts even with allowDev: nothing may be written before it is fixed.
      const aborts = priority === "P0" && (!allowDev || lockHeld || step === "config");
      const found = describeDamage(
        step,
        error,
        aborts ? "aborted" : allowDev ? "dev" : "degraded",
        paths,
        redact,
      );
      if (found) damage.push(found);
      const consequence =
        found?.outcome === "degraded" ? "; write steps are refused, reads run" : "";
      const repair = found?.repair ? `; to fix it: ${found.repair}` : "";
      warnings.push(redact(`${step} failed: ${describeError(error)}${consequence}${repair}`));
      context.logger.error(`boot: ${step} failed`, { error, priority, file: found?.file });
      if (priority === "P0") {
        p0Failed = true;
        if (aborts) {
          const report = health(allowDev ? "dev" : "degraded", false);
          // Only the holder of the instance lock writes in the data directory.
          if (instanceLock) {
            await lastBoot(report, undefined, { step, error: redact(describeError(error)) });
          }
          await releaseQuietly(context, instanceLock, opened);
          throw new BootError(step, report, error);
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
    await attempt("config", "P0", async () => {
      validateBootConfig(config);
      await checkDefaultInitializerOptions(backend ? withBackendInitializers(context) : context);
    });
    if (subsystems.config === "ok") bootedAt = new Date(context.clock.now()).toISOString();
    // 2. Filesystem validation, then the single-instance lock (the file
    // backend's: replicas of a shared backend run side by side).
    if (!backend) {
      await attempt("filesystem", "P0", () => initializers.filesystem(context));
      context.lockManager = await attempt("lockManager", "P0", () =>
        initializers.lockManager({ ...context, logger: forwardingLogger }),
      );
    }
    if (context.lockManager && !backend) {
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
      // An initializer the config names still wins over the backend's service.
      backendServices = await attempt("backend", "P0", () =>
        backend.open({
          config,
          logger: context.logger,
          redactor: context.redactor,
          clock: context.clock,
        }),
      );
      if (backendServices) {
        const services = backendServices;
        opened.push(() => services.close());
        initializers = {
          ...defaultInitializers,
          ...backendInitializers(services),
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
    if (rateLimiter) opened.push(() => rateLimiter.shutdown?.());
    const promotions = new IndexPromotionWatcher();
    const idempotencyIndex = context.auditTrail
      ? await attempt("idempotencyIndex", "P1", () =>
          initializers.idempotencyIndex({
            ...context,
            logger: promotions.logger(context.logger),
          }),
        )
      : await attempt("idempotencyIndex", "P1", () => {
          throw new Error("needs the audit trail, which failed");
        });
    if (idempotencyIndex) opened.push(() => idempotencyIndex.close());
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
    // Damaged store files, seen read-only before anything loads (and quarantines) them.
    if (!backend) {
      const stores = await inspectBootStores(context.fs, paths, redact);
      warnings.push(...stores.warnings);
      damage.push(...stores.damage);
    }
    // Boot's own state files and every fail stop pass through here.
    const monitor = new FailStopMonitor(paths, redact);
    const bootRedactor = context.redactor ?? fallbackRedactor;
    const watchedStores = storeFactory && monitor.watchStoreFactory("stores", storeFactory);
    // Breakers and GitHub's blocks as the last run left them, before any step runs.
    const resilienceState = watchedStores
      ? new ResilienceStateKeeper({
          store: redactingStore(
            watchedStores.create<ResilienceState>(RESILIENCE_STATE_STORE),
            bootRedactor,
          ),
          breakers: circuitBreakers,
          limiter: rateLimiter,
          logger: context.logger,
        })
      : undefined;
    const restored = await resilienceState?.restore();
    if (restored && !restored.restored) {
      subsystems.resilienceState = "degraded";
      warnings.push(
        redact(
          `resilienceState: the saved breaker and rate-limit state could not be read (${restored.problem}); breakers start closed and the limiter unblocked`,
        ),
      );
      const found = describeDamage("resilienceState", restored.error, "warning", paths, redact);
      if (found) damage.push(found);
    }
    resilienceState?.watch();
    const executor = new DurableStepExecutor({
      auditTrail:
        context.auditTrail && monitor.watch("auditTrail", context.auditTrail, ["recordIntent"]),
      idempotencyIndex: idempotencyIndex && monitor.watch("idempotencyIndex", idempotencyIndex),
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
      signal: backendServices?.signal,
    });
    // 5. Reconcile pending intents: warn and go on.
    let reconciliation: ReconcileReport | undefined;
    if (idempotencyIndex && context.auditTrail) {
      try {
        // A check_then_retry key whose hook an integration registers after boot
        // (e.g. @beauvoir/octokit) waits for it instead of being failed here.
        const openIntents = await context.auditTrail.getPendingIntents();
        reconciliation = await promotions.during(() =>
          executor.reconcilePending({ waitForHooks: true }),
        );
        logReconciliation(context.logger, reconciliation, openIntents, promotions.settled);
        const undecided = reconciliation.unresolved.length + reconciliation.awaitingHook.length;
        subsystems.reconciliation = undecided > 0 ? "degraded" : "ok";
        if (reconciliation.unresolved.length > 0) {
          warnings.push(
            `reconciliation: ${reconciliation.unresolved.length} pending step(s) left in doubt`,
          );
        }
        if (reconciliation.awaitingHook.length > 0) {
          warnings.push(
            `reconciliation: ${reconciliation.awaitingHook.length} pending step(s) wait for a reconcile hook (executor.registerReconcilers); executed again without one, they fail (outcome unknown)`,
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
      backendServices?.takeoverIntervalMs !== undefined && idempotencyIndex && context.auditTrail
        ? new PeriodicTakeover(
            () => executor.reconcilePending(),
            backendServices.takeoverIntervalMs,
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
    // last-boot.json lives in the data directory, which a backend has not.
    const unwritten = backend ? undefined : await lastBoot(report, reconciliation);
    if (unwritten !== undefined) report.warnings.push(unwritten);
    // A fail stop later is written into the record too, one write at a time.
    let recordWrites: Promise<unknown> = Promise.resolve();
    monitor.attach(report, context.logger, () => {
      if (backend) return;
      recordWrites = recordWrites.then(() => lastBoot(report, reconciliation));
    });
    context.logger.info("boot: done", { mode, bootTimeMs: Math.round(report.bootTimeMs) });

    const workflows = new WorkflowEngine({
      executor,
      storeFactory: watchedStores,
      runStore: backendServices?.workflowRuns,
      redactor: bootRedactor,
      ...(idempotencyIndex
        ? {
            generateKey: (action: string, scope: string, resource: string, params: unknown) =>
              idempotencyIndex.generateKey(action, scope, resource, params),
          }
        : {}),
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
    const openedBackend = backendServices;
    return createBootResult({
      mode,
      health: report,
      reconciliation,
      services,
      executor,
      workflows,
      resilienceState,
      backend: openedBackend && {
        stopTakeovers: async () => takeovers?.stop(),
        close: () => openedBackend.close(),
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
  opened: ReadonlyArray<() => unknown>,
): Promise<void> {
  for (const close of [
    ...opened,
    () => context.auditTrail?.close(),
    () => instanceLock?.release(),
    () => context.lockManager?.releaseAll(),
  ]) {
    try {
      await close();
    } catch {
      // Boot is already failing; the original error is the one to report.
    }
  }
}

/**
 * The logger boot hands out: the initializer's own when `createLogger` (or
 * `fromPino`) made it, else that logger behind a redacting one, called the
 * way it expects: pino data first (`pino.info({ ...data }, msg)`), the
 * others message first.
 */
function redactingLogger(logger: Logger, redactor: RedactorPort | undefined): BeauvoirLogger {
  if (isBeauvoirLogger(logger)) return logger;
  return createLogger(redactor instanceof SecretRedactor ? redactor : new SecretRedactor(), {
    level: "debug",
    sink: loggerSink(logger, {
      argumentOrder: looksLikePino(logger) ? "data-first" : "message-first",
    }),
  });
}

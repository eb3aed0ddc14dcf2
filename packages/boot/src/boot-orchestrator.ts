import { performance } from "node:perf_hooks";
import { type BackendBootResult, type BootBackend, PeriodicTakeover } from "./backend.js";
import { BOOT_DEFAULTS, type BootConfig, type BootInitializers } from "./boot-config.js";
import { createBootExecutor } from "./boot-executor.js";
import { redactingLogger } from "./boot-logger.js";
import { announceOperatingMode, decideOperatingMode } from "./boot-operating-mode.js";
import { restoreResilienceState } from "./boot-resilience-restore.js";
import { type BootResult, createBootResult, type DevBootServices } from "./boot-result.js";
import { BootRun } from "./boot-run.js";
import { cleanupStep } from "./boot-step-cleanup.js";
import { validateConfigStep } from "./boot-step-config.js";
import { openCoreServicesStep } from "./boot-step-core-services.js";
import { openDegradableServicesStep } from "./boot-step-degradable-services.js";
import { lockDataDirectoryStep } from "./boot-step-instance-lock.js";
import { reconcilePendingStep } from "./boot-step-reconcile.js";
import { validateToolsStep } from "./boot-step-tools.js";
import { inspectBootStores } from "./boot-store-health.js";
import { defaultInitializers } from "./default-initializers.js";
import { FailStopMonitor } from "./fail-stop-monitor.js";
import { WorkflowEngine } from "./workflow-engine.js";

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
    const run = new BootRun(this.#config, performance.now());
    const { config, context, health, paths, redact } = run;
    // With a backend, its services replace the file ones once it is open.
    const backend = config.backend;
    // 1. Config validation.
    await validateConfigStep(run);
    // 2. Filesystem validation, then the single-instance lock (the file
    // backend's: replicas of a shared backend run side by side).
    await lockDataDirectoryStep(run, this.#initializers);
    // 3a-3c. P0 services.
    const { initializers, backendServices } = await openCoreServicesStep(run, this.#initializers);
    // 3d-3g. P1 services.
    const opened = await openDegradableServicesStep(run, initializers);
    const { storeFactory, circuitBreakers, rateLimiter, idempotencyIndex } = opened;
    // 4. Tool validation.
    const toolValidator = await validateToolsStep(run);
    // Step 7's decision is needed by the executor that steps 5 and 6 use.
    const mode = decideOperatingMode(run);
    // Damaged store files, seen read-only before anything loads (and quarantines) them.
    if (!backend) {
      const stores = await inspectBootStores(context.fs, paths, redact);
      health.warnings.push(...stores.warnings);
      health.damage.push(...stores.damage);
    }
    // Boot's own state files and every fail stop pass through here.
    const monitor = new FailStopMonitor(paths, redact);
    const bootRedactor = run.redactor;
    const watchedStores = storeFactory && monitor.watchStoreFactory("stores", storeFactory);
    const resilienceState = await restoreResilienceState(
      run,
      watchedStores,
      circuitBreakers,
      rateLimiter,
    );
    const executor = createBootExecutor(run, opened, toolValidator, mode, monitor, backendServices);
    // 5. Reconcile pending intents: warn and go on.
    const reconciliation = await reconcilePendingStep(
      run,
      executor,
      idempotencyIndex,
      opened.promotions,
    );
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
    await cleanupStep(run, storeFactory);
    // 7. Mode and health.
    announceOperatingMode(run, mode);
    const report = health.report(mode, !run.p0Failed);
    // last-boot.json lives in the data directory, which a backend has not.
    const unwritten = backend ? undefined : await run.lastBoot(report, reconciliation);
    if (unwritten !== undefined) report.warnings.push(unwritten);
    // A fail stop later is written into the record too, one write at a time.
    let recordWrites: Promise<unknown> = Promise.resolve();
    monitor.attach(report, context.logger, () => {
      if (backend) return;
      recordWrites = recordWrites.then(() => run.lastBoot(report, reconciliation));
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

import { join } from "node:path";
import { type Logger, nodeFileSystem, silentLogger, systemClock } from "@beauvoir/core";
import { SecretRedactor } from "@beauvoir/redactor";
import { BOOT_DEFAULTS, type BootConfig, type BootContext, type BootPaths } from "./boot-config.js";
import { describeDamage } from "./boot-damage.js";
import { BootHealth } from "./boot-health.js";
import type { ReconcileReport } from "./boot-reconciliation.js";
import { recordLastBoot } from "./boot-record.js";
import { BootError, describeError } from "./errors.js";
import type { HealthReport } from "./health-report.js";
import type { LockHandlePort, RedactorPort } from "./ports.js";

/** A boot step's priority: P0 aborts boot (or runs it in dev mode), P1 degrades it. */
export type BootPriority = "P0" | "P1";

/**
 * One boot in progress: what every step reads (config, paths, the context
 * the initializers get) and what they leave (health, failed steps, what to
 * close if boot aborts). {@link BootRun.attempt} runs a step and decides
 * what its failure means.
 */
export class BootRun {
  readonly config: BootConfig;
  readonly allowDev: boolean;
  readonly paths: BootPaths;
  readonly context: BootContext;
  readonly health: BootHealth;
  /** The steps that failed, in order. */
  readonly failed: string[] = [];
  /** Whether a P0 step failed (boot goes on only with `allowDev`). */
  p0Failed = false;
  /** When boot started, by the configured clock once the config is valid. */
  bootedAt = new Date().toISOString();
  /** The single-instance lock, once held: only its holder writes in the data directory. */
  instanceLock: LockHandlePort | undefined;
  /** What an abort after step 3 closes, so a later boot in this process finds it free. */
  readonly opened: Array<() => unknown> = [];
  /** The lock manager exists before the logger (step 2 < step 3b); it logs through this forwarder. */
  readonly forwardingLogger: Logger;
  /** Until step 3a builds the configured redactor, texts go through a default one. */
  readonly #fallbackRedactor = new SecretRedactor();

  /**
   * @param config - the boot config.
   * @param startedAt - `performance.now()` when boot started.
   */
  constructor(config: BootConfig, startedAt: number) {
    this.config = config;
    this.allowDev = (config.allowDev ?? BOOT_DEFAULTS.allowDev) === true;
    this.paths = resolvePaths(config.dataDir);
    const context: BootContext = {
      config,
      paths: this.paths,
      clock: config.clock ?? systemClock,
      fs: config.fs ?? nodeFileSystem,
      logger: silentLogger,
      redactor: undefined,
      lockManager: undefined,
      auditTrail: undefined,
    };
    this.context = context;
    this.forwardingLogger = {
      debug: (message, data) => context.logger.debug(message, data),
      info: (message, data) => context.logger.info(message, data),
      warn: (message, data) => context.logger.warn(message, data),
      error: (message, data) => context.logger.error(message, data),
    };
    this.health = new BootHealth(startedAt, this.redact);
  }

  /** The configured redactor once built, else a default one. */
  get redactor(): RedactorPort {
    return this.context.redactor ?? this.#fallbackRedactor;
  }

  /** Redacts a text with {@link BootRun.redactor} (a function of its own, to pass around). */
  readonly redact = (text: string): string => {
    const redacted = (this.context.redactor ?? this.#fallbackRedactor).redactAny(text);
    return typeof redacted === "string" ? redacted : this.#fallbackRedactor.redact(text);
  };

  /**
   * Writes `last-boot.json`.
   * @param report - the health report.
   * @param reconciliation - step 5's report, if it ran.
   * @param aborted - the step that aborted boot, and why.
   * @returns a warning when the record could not be written.
   */
  lastBoot(
    report: HealthReport,
    reconciliation: ReconcileReport | undefined,
    aborted?: { step: string; error: string },
  ): Promise<string | undefined> {
    return recordLastBoot(this.context, this.redactor, {
      bootedAt: this.bootedAt,
      health: report,
      reconciliation,
      ...(aborted ? { aborted } : {}),
    });
  }

  /**
   * Runs one step and records its subsystem as `ok`, or as `failed` with a
   * warning (and its damage, if a file is to blame).
   * @param step - the subsystem's name.
   * @param priority - what its failure means.
   * @param build - the step.
   * @returns what the step built, or `undefined` when it failed and boot goes on.
   * @throws {@link BootError} when a P0 step fails and boot aborts (after
   *   recording the last boot and closing what was opened).
   */
  async attempt<T>(
    step: string,
    priority: BootPriority,
    build: () => T | Promise<T>,
  ): Promise<T | undefined> {
    try {
      const value = await build();
      this.health.subsystems[step] = "ok";
      return value;
    } catch (error) {
      await this.#abortOrDegrade(step, error, priority);
      return undefined;
    }
  }

  async #abortOrDegrade(step: string, error: unknown, priority: BootPriority): Promise<void> {
    const { allowDev, paths, redact, health, context } = this;
    health.subsystems[step] = "failed";
    this.failed.push(step);
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
    if (found) health.damage.push(found);
    const consequence = found?.outcome === "degraded" ? "; write steps are refused, reads run" : "";
    const repair = found?.repair ? `; to fix it: ${found.repair}` : "";
    health.warnings.push(redact(`${step} failed: ${describeError(error)}${consequence}${repair}`));
    context.logger.error(`boot: ${step} failed`, { error, priority, file: found?.file });
    if (priority === "P0") {
      this.p0Failed = true;
      if (aborts) {
        const report = health.report(allowDev ? "dev" : "degraded", false);
        // Only the holder of the instance lock writes in the data directory.
        if (this.instanceLock) {
          await this.lastBoot(report, undefined, { step, error: redact(describeError(error)) });
        }
        await this.#releaseQuietly();
        throw new BootError(step, report, error);
      }
    }
  }

  async #releaseQuietly(): Promise<void> {
    const { context, instanceLock } = this;
    for (const close of [
      ...this.opened,
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

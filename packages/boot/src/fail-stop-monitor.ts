import type { Logger } from "@beauvoir/core";
import type { BootPaths } from "./boot-config.js";
import { describeDamage } from "./boot-damage.js";
import { DegradedModeError } from "./errors.js";
import type { DamageReport, HealthReport } from "./health-report.js";
import type { StoreFactoryPort } from "./ports.js";

/** The subsystems whose fail stop refuses every later write step. */
const WRITE_PATH = new Set(["auditTrail", "idempotencyIndex"]);

function isFailStopped(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as { code?: unknown }).code === "FAIL_STOPPED"
  );
}

/**
 * Watches the running subsystems for `FAIL_STOPPED` (an fsync failed: the
 * subsystem refuses its writes until it is reopened) and makes the instance
 * say so: the subsystem turns `failed` in the live health report, with a
 * warning and a {@link DamageReport}; an error line is logged once. Once the
 * audit trail or the index has stopped, the report's mode turns `degraded`
 * and every later write step is refused before its intent with
 * `DEGRADED_MODE` naming the subsystem (reads still run, and so does the
 * dedup check). A store that stops (`stores`) refuses its own writes, so
 * workflow runs cannot advance; steps outside workflows still run.
 */
export class FailStopMonitor {
  readonly #paths: BootPaths;
  readonly #redact: (text: string) => string;
  readonly #stopped = new Map<string, DamageReport>();
  #logger: Logger | undefined;
  #health: HealthReport | undefined;
  #onChange: (() => void) | undefined;

  /**
   * @param paths - the data directory's layout (for the reports).
   * @param redact - applied to the error texts reported.
   */
  constructor(paths: BootPaths, redact: (text: string) => string) {
    this.#paths = paths;
    this.#redact = redact;
  }

  /** Subsystems that have fail-stopped, in the order seen. */
  get stopped(): readonly string[] {
    return [...this.#stopped.keys()];
  }

  /**
   * From now on, fail stops are written into `health` (and those seen
   * before are applied at once) and logged on `logger`.
   * @param health - the live health report.
   * @param logger - where the fail stop is logged.
   * @param onChange - called after each change of `health` (boot rewrites `last-boot.json`).
   */
  attach(health: HealthReport, logger: Logger, onChange?: () => void): void {
    this.#health = health;
    this.#logger = logger;
    this.#onChange = onChange;
    for (const report of this.#stopped.values()) this.#apply(report);
  }

  /**
   * Wraps a subsystem so that a `FAIL_STOPPED` from any of its calls is seen.
   * Every call still reaches the subsystem itself (with it as `this`).
   * @param subsystem - its name in the health report.
   * @param port - the subsystem.
   * @param gate - method names refused once a write-path subsystem stopped
   *   (the audit trail's `recordIntent`).
   * @returns the watched subsystem.
   */
  watch<T extends object>(subsystem: string, port: T, gate: readonly string[] = []): T {
    const refused = new Set(gate);
    return new Proxy(port, {
      get: (target, property) => {
        const value = Reflect.get(target, property, target) as unknown;
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (refused.has(String(property))) this.#assertWritable(args[0]);
          let result: unknown;
          try {
            result = (value as (...parameters: unknown[]) => unknown).apply(target, args);
          } catch (error) {
            this.#observe(subsystem, error);
            throw error;
          }
          if (result instanceof Promise) {
            return result.catch((error: unknown) => {
              this.#observe(subsystem, error);
              throw error;
            });
          }
          return result;
        };
      },
    });
  }

  /**
   * Wraps a store factory so that every store it makes is {@link FailStopMonitor.watch}ed.
   * @param subsystem - the stores' name in the health report.
   * @param factory - the factory.
   * @returns the watching factory.
   */
  watchStoreFactory(subsystem: string, factory: StoreFactoryPort): StoreFactoryPort {
    const watching: StoreFactoryPort = {
      create: <T extends object>(name: string) => this.watch(subsystem, factory.create<T>(name)),
    };
    const cleanup = factory.cleanupQuarantine;
    if (cleanup) watching.cleanupQuarantine = () => cleanup.call(factory);
    return watching;
  }

  #assertWritable(input: unknown): void {
    const blocking = [...this.#stopped.values()].filter((report) =>
      WRITE_PATH.has(report.subsystem),
    );
    if (blocking.length === 0) return;
    const action =
      typeof input === "object" &&
      input !== null &&
      typeof (input as { action?: unknown }).action === "string"
        ? (input as { action: string }).action
        : "write";
    throw new DegradedModeError(
      action,
      blocking.map(
        (report) => `${report.subsystem} (FAIL_STOPPED${report.file ? ` at ${report.file}` : ""})`,
      ),
    );
  }

  #observe(subsystem: string, error: unknown): void {
    if (!isFailStopped(error) || this.#stopped.has(subsystem)) return;
    const report = describeDamage(subsystem, error, "fail_stopped", this.#paths, this.#redact);
    if (!report) return;
    this.#stopped.set(subsystem, report);
    if (this.#health) this.#apply(report);
  }

  #apply(report: DamageReport): void {
    const health = this.#health;
    if (!health) return;
    const writePath = WRITE_PATH.has(report.subsystem);
    if (writePath && health.mode === "autonomous") health.mode = "degraded";
    health.subsystems[report.subsystem] = "failed";
    const refusal = writePath
      ? "; write steps are refused until restart"
      : "; its state is no longer saved (workflow runs cannot advance) until restart";
    const warning = `${report.subsystem} fail-stopped: ${report.detail}${refusal}`;
    health.warnings.push(warning);
    health.damage.push(report);
    this.#logger?.error(`runtime: ${warning}`, { subsystem: report.subsystem, file: report.file });
    this.#onChange?.();
  }
}

import { performance } from "node:perf_hooks";
import type { OperatingMode } from "./executor-context.js";
import type { DamageReport, HealthReport, SubsystemStatus } from "./health-report.js";

/**
 * What boot's steps find, gathered into the {@link HealthReport}: the
 * status of each subsystem, the warnings and the damaged files.
 */
export class BootHealth {
  /** Each step's subsystem, by name. */
  readonly subsystems: Record<string, SubsystemStatus> = {};
  /** Warnings, passed through the redactor again in the report. */
  readonly warnings: string[] = [];
  /** Damaged files, with their repair. */
  readonly damage: DamageReport[] = [];
  readonly #startedAt: number;
  readonly #redact: (text: string) => string;

  /**
   * @param startedAt - `performance.now()` when boot started.
   * @param redact - redacts a warning as the report is made.
   */
  constructor(startedAt: number, redact: (text: string) => string) {
    this.#startedAt = startedAt;
    this.#redact = redact;
  }

  /**
   * The health report as of now.
   * @param mode - the operating mode to report.
   * @param success - whether every P0 step succeeded.
   * @returns a report with its own copies of the lists.
   */
  report(mode: OperatingMode, success: boolean): HealthReport {
    return {
      success,
      mode,
      bootTimeMs: performance.now() - this.#startedAt,
      warnings: this.warnings.map(this.#redact),
      subsystems: { ...this.subsystems },
      damage: [...this.damage],
    };
  }
}

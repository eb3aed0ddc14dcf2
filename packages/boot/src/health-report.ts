/** The status of one subsystem after boot. */
export type SubsystemStatus = "ok" | "degraded" | "failed";

/** What `boot()` reports about itself. */
export interface HealthReport {
  /** True when boot returned without a P0 failure (always true for a returned report outside dev mode). */
  success: boolean;
  /** The operating mode decided at step 7. */
  mode: "autonomous" | "degraded" | "dev";
  /** Wall time of the whole boot, in milliseconds. */
  bootTimeMs: number;
  /** Everything worth a human's attention: degraded subsystems, recovered records, tool registry warnings. */
  warnings: string[];
  /** Status of each subsystem by name (`config`, `filesystem`, `auditTrail`, …). */
  subsystems: Record<string, SubsystemStatus>;
}

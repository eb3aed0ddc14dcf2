/** The status of one subsystem after boot. */
export type SubsystemStatus = "ok" | "degraded" | "failed";

/**
 * One damaged or refused file boot found (or a subsystem that stopped its
 * writes later), with what boot did about it and how an operator fixes it.
 */
export interface DamageReport {
  /** The subsystem that reported it: `auditTrail`, `idempotencyIndex`, `stores`, `resilienceState`, … */
  subsystem: string;
  /** The error code, e.g. `AUDIT_CORRUPT`, `INDEX_CORRUPT`, `SYMLINK_REFUSED`, `FAIL_STOPPED`, or `STORE_BAK_SERVED`, `STORE_QUARANTINED` for a store. */
  code: string;
  /** The damaged file, when one is named. */
  file?: string;
  /** Its first bad line (1-based), when known. */
  line?: number;
  /** The seq of the first bad audit record, when known. */
  seq?: number;
  /** What is wrong (redacted). */
  detail: string;
  /**
   * What boot did: `aborted` (P0, `BootError`), `degraded` (write steps
   * refused, reads run), `dev` (`allowDev`), `warning` (served from a
   * backup or recovered: nothing refused), `fail_stopped` (found at run time).
   */
  outcome: "aborted" | "degraded" | "dev" | "warning" | "fail_stopped";
  /** The operator command that fixes it, when there is one. */
  repair?: string;
}

/** What `boot()` reports about itself. */
export interface HealthReport {
  /** True when boot returned without a P0 failure (always true for a returned report outside dev mode). */
  success: boolean;
  /**
   * The operating mode decided at step 7. On a running instance it turns
   * `degraded` when a subsystem fail-stops (see {@link DamageReport.outcome}).
   */
  mode: "autonomous" | "degraded" | "dev";
  /** Wall time of the whole boot, in milliseconds. */
  bootTimeMs: number;
  /** Everything worth a human's attention (redacted): degraded subsystems, recovered records, damaged files, tool registry warnings. */
  warnings: string[];
  /** Status of each subsystem by name (`config`, `filesystem`, `auditTrail`, …). */
  subsystems: Record<string, SubsystemStatus>;
  /** Every damaged or refused file found, and every fail stop seen since boot. */
  damage: DamageReport[];
}

import type { BootRun } from "./boot-run.js";
import type { OperatingMode } from "./executor-context.js";

/** The P1 steps: one failed means degraded mode (dev mode with `allowDev`). */
const P1_STEPS = new Set(["storeFactory", "circuitBreakers", "rateLimiter", "idempotencyIndex"]);

/**
 * Boot step 7's decision, made before step 5 since the executor that steps
 * 5 and 6 use enforces it: dev when a P0 step failed (boot went on with
 * `allowDev`) or a P1 step did with `allowDev`, degraded when a P1 step
 * failed, else autonomous.
 * @param run - the boot so far.
 * @returns the operating mode.
 */
export function decideOperatingMode(run: BootRun): OperatingMode {
  const anyP1Failed = run.failed.some((step) => P1_STEPS.has(step));
  return run.p0Failed || (anyP1Failed && run.allowDev)
    ? "dev"
    : anyP1Failed
      ? "degraded"
      : "autonomous";
}

/**
 * Says loudly that boot runs in dev mode (a warning in the report, an error
 * log line and a process warning `BEAUVOIR_DEV_MODE`), or logs degraded mode.
 * @param run - the boot in progress.
 * @param mode - the mode decided.
 */
export function announceOperatingMode(run: BootRun, mode: OperatingMode): void {
  const { context, failed } = run;
  if (mode === "dev") {
    const message = `BEAUVOIR IS RUNNING IN DEV MODE: ${failed.join(", ") || "nothing"} failed at boot; durability and audit guarantees do not hold. Never use allowDev in production.`;
    run.health.warnings.push(message);
    context.logger.error(message);
    process.emitWarning(message, { code: "BEAUVOIR_DEV_MODE" });
  } else if (mode === "degraded") {
    context.logger.warn("boot: degraded mode, write steps are refused", { failed });
  }
}

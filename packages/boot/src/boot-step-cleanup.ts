import type { BootRun } from "./boot-run.js";
import { describeError } from "./errors.js";
import type { StoreFactoryPort } from "./ports.js";

/**
 * Boot step 6: stale locks are recovered and the store quarantine cleaned
 * (warn and go on).
 * @param run - the boot in progress; gets the `staleLocks` subsystem and warnings.
 * @param storeFactory - the store factory, if it opened.
 */
export async function cleanupStep(
  run: BootRun,
  storeFactory: StoreFactoryPort | undefined,
): Promise<void> {
  const { context, health } = run;
  if (context.lockManager) {
    try {
      await context.lockManager.recoverStaleLocks();
      health.subsystems.staleLocks = "ok";
    } catch (error) {
      health.subsystems.staleLocks = "degraded";
      health.warnings.push(`stale lock recovery failed: ${describeError(error)}`);
    }
  }
  if (storeFactory?.cleanupQuarantine) {
    try {
      await storeFactory.cleanupQuarantine();
    } catch (error) {
      health.warnings.push(`quarantine cleanup failed: ${describeError(error)}`);
    }
  }
}

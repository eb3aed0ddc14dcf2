import { isAbsolute } from "node:path";
import { assertBootBackend } from "./backend.js";
import type { BootConfig } from "./boot-config.js";
import { resolveRetryOptions } from "./retry-policy.js";
import { assertTimeout, assertWait } from "./step-request.js";

/**
 * Boot's step 1: every option checked before anything is created on disk.
 * @throws TypeError or RangeError naming the option.
 */
export function validateBootConfig(config: BootConfig): void {
  if (config.backend !== undefined) assertBootBackend(config.backend);
  else if (
    typeof config.dataDir !== "string" ||
    config.dataDir.length === 0 ||
    !isAbsolute(config.dataDir)
  ) {
    throw new TypeError(`dataDir must be an absolute path, got ${JSON.stringify(config.dataDir)}`);
  }
  for (const option of ["shutdownTimeoutMs", "instanceLockWaitMs"] as const) {
    const value = config[option];
    if (value !== undefined && (typeof value !== "number" || !(value >= 0))) {
      throw new RangeError(`${option} must be a non-negative number, got ${value}`);
    }
  }
  if (config.toolNames !== undefined && !config.actionPolicy) {
    throw new TypeError("toolNames needs actionPolicy to be checked against");
  }
  for (const [action, hook] of Object.entries(config.reconcilers ?? {})) {
    if (typeof hook !== "function") throw new TypeError(`reconcilers.${action} must be a function`);
  }
  resolveRetryOptions(config.retry);
  if (config.maxWaitMs !== undefined) assertWait(config.maxWaitMs, "maxWaitMs");
  if (config.reconcileTimeoutMs !== undefined) {
    assertTimeout(config.reconcileTimeoutMs, "reconcileTimeoutMs");
  }
  if (config.dryRun !== undefined && typeof config.dryRun !== "boolean") {
    throw new TypeError(`dryRun must be a boolean, got ${String(config.dryRun)}`);
  }
}

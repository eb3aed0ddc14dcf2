import { isAbsolute } from "node:path";
import { assertBootBackend } from "./backend.js";
import type { BootConfig, BootInitializers } from "./boot-config.js";
import { defaultInitializers } from "./default-initializers.js";
import { resolveRetryOptions } from "./retry-policy.js";
import { DurableStepExecutor } from "./step-executor.js";
import { assertTimeout, assertWait } from "./step-request.js";
import { ToolValidator } from "./tool-validator.js";
import { WorkflowEngine } from "./workflow-engine.js";

const BOOLEAN_OPTIONS = ["allowDev", "handleSignals", "dryRun"] as const;
const OBJECT_OPTIONS = [
  "locks",
  "redactor",
  "log",
  "auditTrail",
  "circuitBreaker",
  "rateLimiter",
  "idempotency",
  "reconcilers",
  "retry",
  "initializers",
  "actionPolicy",
] as const;

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
  for (const option of BOOLEAN_OPTIONS) {
    const value = config[option];
    if (value !== undefined && typeof value !== "boolean") {
      throw new TypeError(`${option} must be a boolean, got ${String(value)}`);
    }
  }
  for (const option of OBJECT_OPTIONS) {
    const value = config[option];
    if (value !== undefined && (typeof value !== "object" || value === null)) {
      throw new TypeError(`${option} must be an object, got ${String(value)}`);
    }
  }
  for (const name of Object.keys(defaultInitializers) as Array<keyof BootInitializers>) {
    const initializer = config.initializers?.[name];
    if (initializer !== undefined && typeof initializer !== "function") {
      throw new TypeError(`initializers.${name} must be a function`);
    }
  }
  const hmacKey = config.hmacKey;
  if (hmacKey !== undefined && typeof hmacKey !== "string" && !(hmacKey instanceof Uint8Array)) {
    throw new TypeError("hmacKey must be a string or a Uint8Array");
  }
  if (config.onDurablePoint !== undefined && typeof config.onDurablePoint !== "function") {
    throw new TypeError("onDurablePoint must be a function");
  }
  if (config.clock !== undefined && typeof config.clock?.now !== "function") {
    throw new TypeError("clock must have a now() method");
  }
  if (
    config.toolNames !== undefined &&
    (!Array.isArray(config.toolNames) || config.toolNames.some((name) => typeof name !== "string"))
  ) {
    throw new TypeError("toolNames must be an array of strings");
  }
  // Built here only to be checked: step 4 builds the one that is used.
  if (config.actionPolicy) new ToolValidator(config.actionPolicy);
  if (config.workflows !== undefined) {
    if (!Array.isArray(config.workflows)) throw new TypeError("workflows must be an array");
    const scratch = new WorkflowEngine({
      executor: new DurableStepExecutor(),
      storeFactory: undefined,
      redactor: { redactAny: (value) => value },
    });
    for (const definition of config.workflows) scratch.register(definition);
  }
}

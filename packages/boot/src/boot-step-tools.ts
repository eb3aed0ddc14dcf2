import type { BootRun } from "./boot-run.js";
import { ToolValidator } from "./tool-validator.js";

/**
 * Boot step 4 (P0): the action policy, and the tool names against it when
 * the config lists them.
 * @param run - the boot in progress; gets the registry's warnings.
 * @returns the validator, or `undefined` without a policy (or when it failed and boot goes on).
 * @throws {@link BootError} when the policy or the registry is invalid and boot aborts.
 */
export async function validateToolsStep(run: BootRun): Promise<ToolValidator | undefined> {
  const { config } = run;
  if (!config.actionPolicy) return undefined;
  const policy = config.actionPolicy;
  return run.attempt("tools", "P0", () => {
    const validator = new ToolValidator(policy);
    if (config.toolNames) {
      const verdict = validator.validateRegistry(config.toolNames);
      run.health.warnings.push(...verdict.warnings);
      if (!verdict.valid) throw new Error(verdict.errors.join("; "));
    }
    return validator;
  });
}

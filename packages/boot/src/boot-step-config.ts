import { withBackendInitializers } from "./backend.js";
import type { BootRun } from "./boot-run.js";
import { checkDefaultInitializerOptions } from "./default-initializers.js";
import { validateBootConfig } from "./validate-boot-config.js";

/**
 * Boot step 1 (P0): the config and the default initializers' options are
 * checked before anything is written. Once they hold, the boot is dated by
 * the configured clock.
 * @param run - the boot in progress.
 * @throws {@link BootError} for a bad option, even with `allowDev`.
 */
export async function validateConfigStep(run: BootRun): Promise<void> {
  const { config, context } = run;
  await run.attempt("config", "P0", async () => {
    validateBootConfig(config);
    await checkDefaultInitializerOptions(
      config.backend ? withBackendInitializers(context) : context,
    );
  });
  if (run.health.subsystems.config === "ok") {
    run.bootedAt = new Date(context.clock.now()).toISOString();
  }
}

import { BOOT_DEFAULTS, type BootInitializers } from "./boot-config.js";
import type { BootRun } from "./boot-run.js";

/** The lock one process on a data directory holds. */
const INSTANCE_LOCK = "boot-instance";

/**
 * Boot step 2 (P0), for the file backend: the filesystem is checked, then
 * the lock manager built and the single-instance lock taken (replicas of a
 * shared backend run side by side, so a backend skips this step).
 * @param run - the boot in progress; gets the lock manager and the instance lock.
 * @param initializers - the initializers in use.
 * @throws {@link BootError} when a step fails and boot aborts (a second
 *   process on the same `dataDir` fails here with a `LOCK_HELD` cause).
 */
export async function lockDataDirectoryStep(
  run: BootRun,
  initializers: BootInitializers,
): Promise<void> {
  const { config, context } = run;
  const backend = config.backend;
  if (!backend) {
    await run.attempt("filesystem", "P0", () => initializers.filesystem(context));
    context.lockManager = await run.attempt("lockManager", "P0", () =>
      initializers.lockManager({ ...context, logger: run.forwardingLogger }),
    );
  }
  if (context.lockManager && !backend) {
    const lockManager = context.lockManager;
    run.instanceLock = await run.attempt("instanceLock", "P0", () =>
      lockManager.acquire(INSTANCE_LOCK, {
        waitMs: config.instanceLockWaitMs ?? BOOT_DEFAULTS.instanceLockWaitMs,
      }),
    );
  }
}

import { type BootBackendServices, backendInitializers } from "./backend.js";
import type { BootInitializers } from "./boot-config.js";
import { redactingLogger } from "./boot-logger.js";
import type { BootRun } from "./boot-run.js";
import { defaultInitializers } from "./default-initializers.js";

/** What step 3's P0 part opened. */
export interface CoreServices {
  /** The initializers from now on: with a backend, its services replace the file ones. */
  initializers: BootInitializers;
  /** The backend's services, once it is open. */
  backendServices: BootBackendServices | undefined;
}

/**
 * Boot step 3a-3c (P0): the redactor, the logger, the backend if any (and
 * its lock manager), and the audit trail. They go into the run's context.
 * @param run - the boot in progress.
 * @param initializers - the initializers in use so far.
 * @returns the initializers for the next steps, and the backend's services.
 * @throws {@link BootError} when a step fails and boot aborts.
 */
export async function openCoreServicesStep(
  run: BootRun,
  initializers: BootInitializers,
): Promise<CoreServices> {
  const { config, context } = run;
  const backend = config.backend;
  let backendServices: BootBackendServices | undefined;
  context.redactor = await run.attempt("redactor", "P0", () => initializers.redactor(context));
  const logger = await run.attempt("logger", "P0", async () =>
    redactingLogger(await initializers.logger(context), context.redactor),
  );
  if (logger) context.logger = logger;
  if (backend) {
    // An initializer the config names still wins over the backend's service.
    backendServices = await run.attempt("backend", "P0", () =>
      backend.open({
        config,
        logger: context.logger,
        redactor: context.redactor,
        clock: context.clock,
      }),
    );
    if (backendServices) {
      const services = backendServices;
      run.opened.push(() => services.close());
      initializers = {
        ...defaultInitializers,
        ...backendInitializers(services),
        ...config.initializers,
      };
    }
    context.lockManager = await run.attempt("lockManager", "P0", () =>
      initializers.lockManager({ ...context, logger: run.forwardingLogger }),
    );
  }
  const audit = await run.attempt("auditTrail", "P0", () => initializers.auditTrail(context));
  if (audit) {
    context.auditTrail = audit.auditTrail;
    if (audit.recordsLost > 0) {
      run.health.warnings.push(
        `auditTrail: recovery dropped ${audit.recordsLost} record(s) after a torn write or a broken chain`,
      );
    }
  }
  return { initializers, backendServices };
}

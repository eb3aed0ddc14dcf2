import { dirname, join } from "node:path";
import { AuditTrail } from "@beauvoir/audit-trail";
import { CircuitBreakerGroup, type FailureClass } from "@beauvoir/breaker";
import {
  ensureDurableDirectory,
  type FileHandleLike,
  isErrnoError,
  openPrivateFile,
} from "@beauvoir/core";
import { IdempotencyIndex } from "@beauvoir/idempotency";
import { LockManager } from "@beauvoir/locks";
import { RateLimiter } from "@beauvoir/rate-limiter";
import { createLogger, SecretRedactor } from "@beauvoir/redactor";
import { ResilientStoreFactory } from "@beauvoir/resilient-store";
import type { BootContext, BootInitializers } from "./boot-config.js";
import type {
  CircuitBreakerGroupPort,
  IdempotencyIndexPort,
  LockManagerPort,
  RateLimiterPort,
  StoreFactoryPort,
} from "./ports.js";

/** What boot's breakers count toward opening, unless `config.circuitBreaker` says otherwise. */
export const BOOT_BREAKER_COUNTABLE_CLASSES: readonly FailureClass[] = Object.freeze([
  "transient",
  "external",
]);

async function probeDirectory(context: BootContext, directory: string): Promise<void> {
  // Each level created 0700 and made durable in its parent: a mkdir whose
  // parent is not fsynced can vanish in a power cut with every file in it.
  await ensureDurableDirectory(context.fs, directory);
  // O_EXCL proves we can create files here and that the filesystem honours
  // exclusive create, which the lock manager and the stores rely on; never
  // through a planted link (O_NOFOLLOW). No fsync of the probe itself: it
  // proves permissions, not durability, and boot time counts.
  const probe = join(directory, `.boot-probe.${process.pid}`);
  let handle: FileHandleLike;
  try {
    handle = await openPrivateFile(context.fs, probe, "create");
  } catch (error) {
    // Left by a killed process that had our pid (unlink removes a link, never its target).
    if (!isErrnoError(error, "EEXIST")) throw error;
    await context.fs.unlink(probe);
    handle = await openPrivateFile(context.fs, probe, "create");
  }
  await handle.close();
  await context.fs.unlink(probe);
}

/** The initializers `boot()` uses unless the config replaces them. */
export const defaultInitializers: BootInitializers = Object.freeze({
  async filesystem(context: BootContext) {
    const { paths } = context;
    for (const directory of [
      paths.dataDir,
      dirname(paths.auditFile),
      paths.storesDir,
      paths.locksDir,
      paths.idempotencyDir,
    ]) {
      await probeDirectory(context, directory);
    }
  },
  lockManager(context: BootContext): LockManagerPort {
    return new LockManager({
      ...context.config.locks,
      lockDir: context.paths.locksDir,
      logger: context.logger,
      clock: context.clock,
      fs: context.fs,
    });
  },
  redactor(context: BootContext) {
    return new SecretRedactor(context.config.redactor);
  },
  logger(context: BootContext) {
    const log = context.config.log ?? {};
    const redactor = context.redactor;
    if (!(redactor instanceof SecretRedactor)) {
      throw new TypeError(
        "the default logger needs the default redactor; replace both initializers together",
      );
    }
    return createLogger(redactor, {
      prefix: log.prefix ?? "beauvoir",
      ...(log.level === undefined ? {} : { level: log.level }),
      ...(log.sink === undefined ? {} : { sink: log.sink }),
    });
  },
  async auditTrail(context: BootContext) {
    const auditTrail = buildAuditTrail(context);
    const recovery = await auditTrail.initialize();
    return { auditTrail, recordsLost: recovery.recordsLost };
  },
  storeFactory(context: BootContext): StoreFactoryPort {
    return new ResilientStoreFactory({
      baseDir: context.paths.storesDir,
      logger: context.logger,
      clock: context.clock,
      fs: context.fs,
    });
  },
  circuitBreakers(context: BootContext): CircuitBreakerGroupPort {
    return new CircuitBreakerGroup({
      clock: context.clock,
      logger: context.logger,
      // The rate limiter waits rate limits out exactly as GitHub asks; counted
      // by a breaker as well, five of them would refuse the action for its
      // whole open duration.
      countableClasses: BOOT_BREAKER_COUNTABLE_CLASSES,
      ...context.config.circuitBreaker,
    });
  },
  rateLimiter(context: BootContext): RateLimiterPort {
    return new RateLimiter({
      clock: context.clock,
      logger: context.logger,
      ...context.config.rateLimiter,
    });
  },
  async idempotencyIndex(context: BootContext): Promise<IdempotencyIndexPort> {
    const index = buildIdempotencyIndex(context);
    await index.initialize();
    return index;
  },
});

function buildAuditTrail(context: BootContext): AuditTrail {
  const { config } = context;
  return new AuditTrail({
    ...config.auditTrail,
    path: context.paths.auditFile,
    logger: context.logger,
    clock: context.clock,
    fs: context.fs,
    ...(context.redactor ? { redactor: context.redactor } : {}),
    ...(config.hmacKey === undefined ? {} : { hmacKey: config.hmacKey }),
  });
}

function buildIdempotencyIndex(context: BootContext): IdempotencyIndex {
  const audit = context.auditTrail;
  const redactor = context.redactor;
  return new IdempotencyIndex({
    ...context.config.idempotency,
    dir: context.paths.idempotencyDir,
    logger: context.logger,
    clock: context.clock,
    fs: context.fs,
    ...(context.lockManager ? { locks: context.lockManager } : {}),
    ...(audit ? { auditQuery: audit } : {}),
    // The index redacts keys, errors and results with boot's redactor (it
    // needs one that also redacts plain text, as SecretRedactor does).
    ...(redactor instanceof SecretRedactor ? { redactor } : {}),
  });
}

/**
 * Boot's step 1 for the default initializers the config did not replace:
 * builds each subsystem without opening it (their constructors check every
 * option and touch no disk), so a bad `auditTrail`, `idempotency`, `locks`,
 * `circuitBreaker`, `rateLimiter`, `redactor` or `log` option is refused
 * before boot creates anything.
 * @param context - boot's context before step 2 (nothing built yet).
 * @throws TypeError or RangeError naming the option.
 */
export async function checkDefaultInitializerOptions(context: BootContext): Promise<void> {
  const replaced = context.config.initializers ?? {};
  const uses = (name: keyof BootInitializers) => replaced[name] === undefined;
  const redactor = uses("redactor") ? defaultInitializers.redactor(context) : undefined;
  const scratch: BootContext = { ...context, redactor: await redactor };
  if (uses("logger") && uses("redactor")) await defaultInitializers.logger(scratch);
  if (uses("lockManager")) defaultInitializers.lockManager(scratch);
  if (uses("auditTrail")) buildAuditTrail(scratch);
  if (uses("storeFactory")) defaultInitializers.storeFactory(scratch);
  if (uses("circuitBreakers")) {
    (await defaultInitializers.circuitBreakers(scratch)).get("boot-options-check");
  }
  if (uses("rateLimiter")) (await defaultInitializers.rateLimiter(scratch)).shutdown?.();
  if (uses("idempotencyIndex")) buildIdempotencyIndex(scratch);
}

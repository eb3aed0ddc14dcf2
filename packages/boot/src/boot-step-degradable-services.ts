import type { BootInitializers } from "./boot-config.js";
import { IndexPromotionWatcher } from "./boot-record.js";
import type { BootRun } from "./boot-run.js";
import type {
  CircuitBreakerGroupPort,
  IdempotencyIndexPort,
  RateLimiterPort,
  StoreFactoryPort,
} from "./ports.js";

/** What step 3's P1 part opened; a failed one is `undefined` (degraded mode). */
export interface DegradableServices {
  storeFactory: StoreFactoryPort | undefined;
  circuitBreakers: CircuitBreakerGroupPort | undefined;
  rateLimiter: RateLimiterPort | undefined;
  idempotencyIndex: IdempotencyIndexPort | undefined;
  /** Sees the keys the index settles from audit results while it opens and during step 5. */
  promotions: IndexPromotionWatcher;
}

/**
 * Boot step 3d-3g (P1): the store factory, the circuit breakers, the rate
 * limiter and the idempotency index (which needs the audit trail). A
 * failure degrades boot instead of aborting it.
 * @param run - the boot in progress.
 * @param initializers - the initializers in use.
 * @returns the services that opened.
 */
export async function openDegradableServicesStep(
  run: BootRun,
  initializers: BootInitializers,
): Promise<DegradableServices> {
  const { context } = run;
  const storeFactory = await run.attempt("storeFactory", "P1", () =>
    initializers.storeFactory(context),
  );
  const circuitBreakers = await run.attempt("circuitBreakers", "P1", () =>
    initializers.circuitBreakers(context),
  );
  const rateLimiter = await run.attempt("rateLimiter", "P1", () =>
    initializers.rateLimiter(context),
  );
  if (rateLimiter) run.opened.push(() => rateLimiter.shutdown?.());
  const promotions = new IndexPromotionWatcher();
  const idempotencyIndex = context.auditTrail
    ? await run.attempt("idempotencyIndex", "P1", () =>
        initializers.idempotencyIndex({
          ...context,
          logger: promotions.logger(context.logger),
        }),
      )
    : await run.attempt("idempotencyIndex", "P1", () => {
        throw new Error("needs the audit trail, which failed");
      });
  if (idempotencyIndex) run.opened.push(() => idempotencyIndex.close());
  return { storeFactory, circuitBreakers, rateLimiter, idempotencyIndex, promotions };
}

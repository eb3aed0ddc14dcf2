import { describeDamage } from "./boot-damage.js";
import type { BootRun } from "./boot-run.js";
import type { CircuitBreakerGroupPort, RateLimiterPort, StoreFactoryPort } from "./ports.js";
import { redactingStore } from "./redacting-store.js";
import {
  RESILIENCE_STATE_STORE,
  type ResilienceState,
  ResilienceStateKeeper,
} from "./resilience-state.js";

/**
 * Restores the breakers and GitHub's blocks as the last run left them,
 * before any step runs, and keeps saving them from then on. A saved state
 * that cannot be read is a warning (and its damage): breakers start closed
 * and the limiter unblocked.
 * @param run - the boot in progress.
 * @param stores - the store factory (watched for fail stops); none, no state.
 * @param breakers - the circuit breakers, if they opened.
 * @param limiter - the rate limiter, if it opened.
 * @returns the keeper, or `undefined` without a store factory.
 */
export async function restoreResilienceState(
  run: BootRun,
  stores: StoreFactoryPort | undefined,
  breakers: CircuitBreakerGroupPort | undefined,
  limiter: RateLimiterPort | undefined,
): Promise<ResilienceStateKeeper | undefined> {
  const { health, redact } = run;
  const resilienceState = stores
    ? new ResilienceStateKeeper({
        store: redactingStore(stores.create<ResilienceState>(RESILIENCE_STATE_STORE), run.redactor),
        breakers,
        limiter,
        logger: run.context.logger,
      })
    : undefined;
  const restored = await resilienceState?.restore();
  if (restored && !restored.restored) {
    health.subsystems.resilienceState = "degraded";
    health.warnings.push(
      redact(
        `resilienceState: the saved breaker and rate-limit state could not be read (${restored.problem}); breakers start closed and the limiter unblocked`,
      ),
    );
    const found = describeDamage("resilienceState", restored.error, "warning", run.paths, redact);
    if (found) health.damage.push(found);
  }
  resilienceState?.watch();
  return resilienceState;
}

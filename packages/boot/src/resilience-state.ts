import type { Logger } from "@beauvoir/core";
import { describeError } from "./errors.js";
import type { CircuitBreakerGroupPort, JsonStorePort, RateLimiterPort } from "./ports.js";

/** The name of the store (under `{dataDir}/stores`) that keeps breakers and blocks. */
export const RESILIENCE_STATE_STORE = "resilience-state";

/** What the store holds. */
export interface ResilienceState {
  version: 1;
  /** Each breaker's snapshot, by key. */
  breakers: Record<string, unknown>;
  /** The rate limiter's `exportBlocks()`. */
  limiterBlocks: unknown;
}

/** The limiter's blocks, when the limiter hands them over to be kept (a shared one keeps its own). */
type KeptBlocks = Required<Pick<RateLimiterPort, "exportBlocks" | "restoreBlocks" | "on">>;

function keptBlocks(limiter: RateLimiterPort | undefined): KeptBlocks | undefined {
  if (!limiter?.exportBlocks || !limiter.restoreBlocks || !limiter.on) return undefined;
  return limiter as KeptBlocks;
}

/** Options of {@link ResilienceStateKeeper}. */
export interface ResilienceStateKeeperOptions {
  store: JsonStorePort<ResilienceState>;
  breakers: CircuitBreakerGroupPort | undefined;
  limiter: RateLimiterPort | undefined;
  logger: Logger;
}

/**
 * Keeps the circuit breakers' states and the blocks GitHub imposed on the
 * rate limiter in a durable store, so a restart while GitHub is refusing
 * requests neither finds the circuit closed nor sends at once. Saved after
 * every change (one write at a time, the latest state winning), restored at
 * boot; token counts are not kept (buckets start full).
 */
export class ResilienceStateKeeper {
  readonly #options: ResilienceStateKeeperOptions;
  readonly #unsubscribe: Array<() => void> = [];
  #dirty = false;
  #saving: Promise<void> | undefined;

  /** @param options - the store, the breakers, the limiter and a logger. */
  constructor(options: ResilienceStateKeeperOptions) {
    this.#options = options;
  }

  /**
   * Puts the saved state back. A missing or unreadable state leaves the
   * breakers closed and the limiter unblocked (with a warning).
   * @returns `restored: false` with the problem (and the store's error)
   *   when the saved state could not be read; a missing one is `restored: true`.
   */
  async restore(): Promise<{ restored: boolean; problem?: string; error?: unknown }> {
    const { store, breakers, logger } = this.#options;
    const limiter = keptBlocks(this.#options.limiter);
    let saved: ResilienceState | null;
    try {
      saved = await store.get();
    } catch (error) {
      logger.warn("boot: the saved breaker and rate-limit state could not be read", { error });
      return { restored: false, problem: describeError(error), error };
    }
    if (!saved) return { restored: true };
    if (breakers && typeof saved.breakers === "object" && saved.breakers !== null) {
      try {
        breakers.restore(saved.breakers);
      } catch (error) {
        logger.warn("boot: some saved breaker states were not restored", { error });
      }
    }
    if (limiter && saved.limiterBlocks !== undefined && saved.limiterBlocks !== null) {
      try {
        limiter.restoreBlocks(saved.limiterBlocks);
      } catch (error) {
        logger.warn("boot: the saved rate-limit blocks were not restored", { error });
      }
    }
    return { restored: true };
  }

  /** Saves after every change from now on. */
  watch(): void {
    const save = () => this.#schedule();
    if (this.#options.breakers)
      this.#unsubscribe.push(this.#options.breakers.on("stateChange", save));
    const limiter = keptBlocks(this.#options.limiter);
    if (limiter) this.#unsubscribe.push(limiter.on("blocksChange", save));
  }

  /** Stops watching and waits for the last save. */
  async close(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    await this.#saving;
  }

  #schedule(): void {
    this.#dirty = true;
    this.#saving ??= this.#saveWhileDirty().finally(() => {
      this.#saving = undefined;
      // A change between the last write and now would otherwise wait for the next one.
      if (this.#dirty) this.#schedule();
    });
  }

  async #saveWhileDirty(): Promise<void> {
    const { store, breakers, logger } = this.#options;
    const limiter = keptBlocks(this.#options.limiter);
    while (this.#dirty) {
      this.#dirty = false;
      const state: ResilienceState = {
        version: 1,
        breakers: breakers?.snapshot() ?? {},
        limiterBlocks: limiter?.exportBlocks() ?? null,
      };
      try {
        await store.set(state);
      } catch (error) {
        if ((error as { code?: unknown })?.code !== "STORE_CONFLICT") {
          logger.warn("the breaker and rate-limit state could not be saved", { error });
          continue;
        }
        // A store shared by replicas: another one saved first. The latest
        // state wins: read (which moves the expected epoch on), write again.
        try {
          await store.get();
          await store.set(state);
        } catch (retryError) {
          logger.warn("the breaker and rate-limit state could not be saved", {
            error: retryError,
          });
        }
      }
    }
  }
}

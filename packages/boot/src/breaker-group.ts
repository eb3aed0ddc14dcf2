import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitBreakerSnapshot,
} from "@beauvoir/breaker";
import type { CircuitBreakerGroupPort } from "./ports.js";

/** {@link createCircuitBreakerGroup}'s group: its breakers are `CircuitBreaker`s. */
export interface KeyedCircuitBreakers extends CircuitBreakerGroupPort {
  /** The breaker of `key`, made (closed) on first use. */
  get(key: string): CircuitBreaker;
}

/**
 * Circuit breakers by key, each built from the same options, whose states
 * can be saved and restored as one JSON object.
 * @param options - `CircuitBreaker` options applied to every key (its `name` is the key).
 * @returns the group.
 * @example
 * ```ts
 * const breakers = createCircuitBreakerGroup({ failureThreshold: 5 });
 * await breakers.get("add_labels").execute(() => addLabels());
 * ```
 */
export function createCircuitBreakerGroup(
  options: Omit<CircuitBreakerOptions, "name" | "initialState"> = {},
): KeyedCircuitBreakers {
  const breakers = new Map<string, CircuitBreaker>();
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) {
      try {
        listener();
      } catch {
        // A listener's failure is its own business; the breakers go on.
      }
    }
  };
  const build = (key: string, initialState?: CircuitBreakerSnapshot) => {
    const breaker = new CircuitBreaker({
      ...options,
      name: key,
      ...(initialState === undefined ? {} : { initialState }),
    });
    for (const event of ["open", "halfOpen", "close"] as const) breaker.on(event, notify);
    breakers.set(key, breaker);
    return breaker;
  };
  return {
    get: (key) => breakers.get(key) ?? build(key),
    snapshot: () =>
      Object.fromEntries([...breakers].map(([key, breaker]) => [key, breaker.toJSON()])),
    restore: (snapshots) => {
      const refused: string[] = [];
      for (const [key, snapshot] of Object.entries(snapshots)) {
        try {
          build(key, snapshot as CircuitBreakerSnapshot);
        } catch {
          refused.push(key);
        }
      }
      if (refused.length > 0) {
        throw new TypeError(`not a breaker snapshot, left closed: ${refused.join(", ")}`);
      }
    },
    on: (event, listener) => {
      if (event !== "stateChange") throw new TypeError(`unknown event ${String(event)}`);
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

import type { JsonStorePort, RedactorPort, StoreFactoryPort } from "./ports.js";

/**
 * A store whose every state passes the redactor before it is written: the
 * one place where boot's own state files (workflow runs, the breaker and
 * rate-limit state, `last-boot.json`) meet the redactor. What `get()` returns
 * is what was written, so redacted.
 * @param store - the store that writes.
 * @param redactor - applied to each state (`redactAny`, a deep copy).
 * @returns the redacting store.
 */
export function redactingStore<T>(
  store: JsonStorePort<T>,
  redactor: RedactorPort,
): JsonStorePort<T> {
  return {
    get: () => store.get(),
    set: (value: T) => store.set(redactor.redactAny(value) as T),
  };
}

/**
 * A store factory whose stores are {@link redactingStore}s.
 * @param factory - the factory that makes the stores.
 * @param redactor - applied to every state written.
 * @returns the redacting factory (`cleanupQuarantine` passed through).
 */
export function redactingStoreFactory(
  factory: StoreFactoryPort,
  redactor: RedactorPort,
): StoreFactoryPort {
  const redacting: StoreFactoryPort = {
    create: <T extends object>(name: string) => redactingStore(factory.create<T>(name), redactor),
  };
  const cleanup = factory.cleanupQuarantine;
  if (cleanup) redacting.cleanupQuarantine = () => cleanup.call(factory);
  return redacting;
}

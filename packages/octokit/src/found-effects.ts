/**
 * What the reconcile hooks found, by idempotency key, so a request that is
 * answered `reconciled` can hand the caller the comment (or pull request…)
 * the hook saw, without asking GitHub again. Bounded: the oldest go first.
 */
export class FoundEffects {
  readonly #byKey = new Map<string, unknown>();
  readonly #limit: number;

  /** @param limit - how many keys are kept. */
  constructor(limit = 500) {
    this.#limit = limit;
  }

  remember(key: string, found: unknown): void {
    this.#byKey.delete(key);
    this.#byKey.set(key, found);
    if (this.#byKey.size > this.#limit) {
      const oldest = this.#byKey.keys().next().value;
      if (oldest !== undefined) this.#byKey.delete(oldest);
    }
  }

  /** The found effect, if a hook of this process saw it. */
  take(key: string): unknown {
    const found = this.#byKey.get(key);
    this.#byKey.delete(key);
    return found;
  }
}

/** Shared by every hook of the process: boot's (from `beauvoirReconcilers`) and the plugin's. */
export const foundEffects = new FoundEffects();

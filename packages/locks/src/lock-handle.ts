/**
 * Picks the symbol `await using` calls: the runtime's `Symbol.asyncDispose`,
 * or else the registered `Symbol.for("Symbol.asyncDispose")` that TypeScript's
 * and esbuild's downlevel helpers look up on runtimes that lack it.
 * @param symbolConstructor - the `Symbol` to inspect; replaceable for tests.
 * @returns the symbol to define the dispose method under.
 * @example
 * ```ts
 * resolveAsyncDisposeSymbol({ for: Symbol.for }); // Symbol.for("Symbol.asyncDispose")
 * ```
 */
export function resolveAsyncDisposeSymbol(
  symbolConstructor: { asyncDispose?: symbol; for(key: string): symbol } = Symbol,
): typeof Symbol.asyncDispose {
  return (symbolConstructor.asyncDispose ??
    symbolConstructor.for("Symbol.asyncDispose")) as typeof Symbol.asyncDispose;
}

/**
 * The symbol lock handles implement for `await using`: `Symbol.asyncDispose`, or the
 * registered `Symbol.for("Symbol.asyncDispose")` where the runtime lacks it.
 * @example
 * ```ts
 * await lock[asyncDisposeSymbol](); // what `await using` calls at the end of the block
 * ```
 */
export const asyncDisposeSymbol: typeof Symbol.asyncDispose = resolveAsyncDisposeSymbol();

/**
 * A lock held by this process. Releasing twice is harmless; a handle never
 * removes a lock file that holds another acquisition's id.
 *
 * @example
 * ```ts
 * await using lock = await locks.acquire("nightly-sync");
 * await sync(); // released when the block exits, even on throw
 * ```
 */
export interface LockHandle {
  /** The lock's name. */
  readonly name: string;
  /** The id written into the lock file for this acquisition. */
  readonly id: string;
  /**
   * Removes the lock file if it still holds this acquisition's id.
   * @returns true if this call removed it; false if it was already released, removed or taken over.
   */
  release(): Promise<boolean>;
  /** Same as {@link LockHandle.release}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

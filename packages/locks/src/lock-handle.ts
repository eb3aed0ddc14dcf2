/**
 * `Symbol.asyncDispose`, or the registered symbol TypeScript's and esbuild's
 * downlevel helpers look up on runtimes that lack it, so `await using` works
 * on every Node 20.
 */
export const asyncDisposeSymbol: typeof Symbol.asyncDispose =
  (Symbol as { asyncDispose?: typeof Symbol.asyncDispose }).asyncDispose ??
  (Symbol.for("Symbol.asyncDispose") as typeof Symbol.asyncDispose);

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

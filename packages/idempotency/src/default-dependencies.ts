import { join } from "node:path";
import type { Clock, FileSystem, Logger } from "@beauvoir/core";
import { LockManager } from "@beauvoir/locks";
import { ResilientJsonStore } from "@beauvoir/resilient-store";
import type { OwnerLockProvider, SnapshotStore } from "./options.js";
import { type IdempotencySnapshot, isIdempotencySnapshot } from "./snapshot.js";

interface Shared {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly fs: FileSystem;
}

/**
 * The snapshot store used when the caller gives none. A file that is JSON but
 * not a snapshot counts as damaged, so the store serves its backup instead.
 * @param options - the snapshot path, size limit, logger, clock and fs.
 * @returns a resilient JSON store holding the snapshot.
 */
export function createDefaultStore(
  options: Shared & { path: string; maxSizeBytes: number },
): SnapshotStore {
  return new ResilientJsonStore<IdempotencySnapshot>({
    ...options,
    validate: isIdempotencySnapshot,
  });
}

/**
 * The lock manager used when the caller gives none.
 * @param options - the lock directory, logger, clock and fs.
 * @returns a lock manager on that directory.
 */
export function createDefaultLocks(options: Shared & { lockDir: string }): OwnerLockProvider {
  return new LockManager(options);
}

/**
 * The caller's snapshot store, or the default one at `{dir}/snapshot.json`,
 * with the file named in messages.
 * @param options - the directory, the caller's store if any, the size limit and the shared dependencies.
 * @returns the store and its file.
 */
export function snapshotStoreFor(
  options: Shared & { dir: string; store: SnapshotStore | undefined; maxSizeBytes: number },
): { store: SnapshotStore; snapshotFile: string } {
  const { dir, store, ...shared } = options;
  const snapshotFile = store?.path ?? join(dir, "snapshot.json");
  return { store: store ?? createDefaultStore({ ...shared, path: snapshotFile }), snapshotFile };
}

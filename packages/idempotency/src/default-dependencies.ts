import { join } from "node:path";
import type { Clock, FileSystem, Logger } from "@beauvoir/core";
import { LockManager } from "@beauvoir/locks";
import { inspectStore, ResilientJsonStore, type StoreFileReport } from "@beauvoir/resilient-store";
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

/**
 * A read-only stand-in for the default snapshot store: `get()` answers what
 * the store's read fallback would serve (the primary, else the bak, else the
 * newest usable tmp file, each only when it holds a snapshot) from a
 * read-only inspection, so verifying never quarantines or rewrites a file.
 * @param options - the snapshot path, size limit, fs, and where to note a fallback.
 * @returns a store whose `set()` always rejects.
 */
export function inspectedSnapshotStore(options: {
  path: string;
  maxSizeBytes: number;
  fs: FileSystem;
  note: (message: string) => void;
}): SnapshotStore {
  const usable = (report: StoreFileReport): IdempotencySnapshot | undefined =>
    (report.health === "valid" || report.health === "unverified") &&
    isIdempotencySnapshot(report.state)
      ? report.state
      : undefined;
  return {
    path: options.path,
    async get() {
      const inspection = await inspectStore(options);
      const primary = usable(inspection.primary);
      if (primary) return primary;
      const bak = usable(inspection.bak);
      if (bak) {
        options.note(`${options.path} is ${inspection.primary.health}; initialize() reads its bak`);
        return bak;
      }
      const ceiling = Math.max(
        inspection.primary.writeEpoch ?? -1,
        inspection.bak.writeEpoch ?? -1,
      );
      const tmp = inspection.tmps
        .filter((report) => usable(report) && (report.writeEpoch ?? -1) > ceiling)
        .sort((a, b) => (b.writeEpoch ?? 0) - (a.writeEpoch ?? 0))[0];
      if (tmp) {
        options.note(`${options.path} and its bak are unusable; initialize() reads ${tmp.file}`);
        return usable(tmp) ?? null;
      }
      return null;
    },
    async set() {
      throw new TypeError("verifying an index never writes its snapshot");
    },
  };
}

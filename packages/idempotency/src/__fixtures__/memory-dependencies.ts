import type { OwnerLockHandle, OwnerLockProvider, SnapshotStore } from "../options.js";
import type { IdempotencySnapshot } from "../snapshot.js";

/** A snapshot store in memory; `sets` counts writes. */
export class MemorySnapshotStore implements SnapshotStore {
  snapshot: IdempotencySnapshot | null = null;
  sets = 0;
  failNextSet: Error | null = null;

  async get(): Promise<IdempotencySnapshot | null> {
    return this.snapshot === null ? null : structuredClone(this.snapshot);
  }

  async set(snapshot: IdempotencySnapshot): Promise<void> {
    if (this.failNextSet) {
      const error = this.failNextSet;
      this.failNextSet = null;
      throw error;
    }
    this.sets += 1;
    this.snapshot = structuredClone(snapshot);
  }
}

/** Locks in memory: a second acquire of a held name fails like LOCK_HELD. */
export class MemoryLocks implements OwnerLockProvider {
  readonly held = new Set<string>();

  async acquire(name: string): Promise<OwnerLockHandle> {
    if (this.held.has(name))
      throw Object.assign(new Error(`lock ${name} is held`), { code: "LOCK_HELD" });
    this.held.add(name);
    return { release: () => void this.held.delete(name) };
  }
}

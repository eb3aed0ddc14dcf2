import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { isErrnoError } from "@beauvoir/core";

/**
 * Tells whether a process with this pid exists, with `kill(pid, 0)`: ESRCH
 * means dead; success and EPERM (it exists but belongs to another user) mean
 * alive. Any other failure counts as alive, so a lock is never broken on doubt.
 * @param pid - a positive process id.
 * @returns false only when the kernel says no such process exists.
 */
export function isProcessAliveBySignal(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !isErrnoError(error, "ESRCH");
  }
}

let cachedBootId: string | undefined;

/**
 * The kernel's boot id, read once per process; a random id where
 * `/proc/sys/kernel/random/boot_id` cannot be read (not Linux, a sandbox).
 * @param read - reads the file; replaceable for tests.
 * @returns the boot id.
 */
export function systemBootId(
  read: () => string = () => readFileSync("/proc/sys/kernel/random/boot_id", "utf8"),
): string {
  if (cachedBootId !== undefined) return cachedBootId;
  let bootId: string;
  try {
    bootId = read().trim();
  } catch {
    bootId = "";
  }
  cachedBootId = bootId.length > 0 ? bootId : `random-${randomUUID()}`;
  return cachedBootId;
}

/** @internal Forgets the cached boot id (tests only). */
export function forgetSystemBootId(): void {
  cachedBootId = undefined;
}

/** Epoch milliseconds at which this process started. */
export const processStartedAt: number = performance.timeOrigin;

/**
 * Ids of the locks held by any `LockManager` of this process through the
 * filesystem `fs`: a manager never judges such a lock stale, whatever its
 * clock or liveness check says. Kept per filesystem object, so a lock read
 * through another one (a crash image of a simulated disk, say) is judged by
 * the ordinary rules. Kept on `globalThis` under a registered symbol so that
 * two copies of the package (ESM and CJS) loaded into one process share it.
 * @param fs - the filesystem object the managers use.
 * @returns the live set of ids for `fs`.
 */
export function processHeldLockIds(fs: object): Set<string> {
  const key = Symbol.for("beauvoir.locks.heldIdsByFileSystem");
  const holder = globalThis as unknown as Record<symbol, WeakMap<object, Set<string>> | undefined>;
  let byFileSystem = holder[key];
  if (!byFileSystem) {
    byFileSystem = new WeakMap();
    holder[key] = byFileSystem;
  }
  let ids = byFileSystem.get(fs);
  if (!ids) {
    ids = new Set<string>();
    byFileSystem.set(fs, ids);
  }
  return ids;
}

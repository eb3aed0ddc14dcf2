import { join } from "node:path";
import { type FileSystem, isErrnoError } from "@beauvoir/core";
import { LockManager, type LockStatus } from "@beauvoir/locks";
import { LAST_BOOT_FILE } from "../last-boot.js";
import { NotFoundError, RefusedError } from "./cli-io.js";

/** The lock boot takes on a data directory for as long as an instance runs. */
export const INSTANCE_LOCK_NAME = "boot-instance";

/** Where boot keeps everything in a data directory (boot's `resolvePaths`). */
export interface DataDirectory {
  dataDir: string;
  auditDir: string;
  auditFile: string;
  storesDir: string;
  locksDir: string;
  idempotencyDir: string;
  lastBootFile: string;
}

/**
 * The layout of a data directory made by `boot()`, checked to exist: a
 * directory holding at least one of `audit/`, `stores/`, `locks/`,
 * `idempotency/`.
 * @throws {@link NotFoundError} when it is not one (nothing is created).
 */
export async function openDataDirectory(fs: FileSystem, dataDir: string): Promise<DataDirectory> {
  const layout: DataDirectory = {
    dataDir,
    auditDir: join(dataDir, "audit"),
    auditFile: join(dataDir, "audit", "audit.jsonl"),
    storesDir: join(dataDir, "stores"),
    locksDir: join(dataDir, "locks"),
    idempotencyDir: join(dataDir, "idempotency"),
    lastBootFile: join(dataDir, LAST_BOOT_FILE),
  };
  let names: string[];
  try {
    names = await fs.readdir(dataDir);
  } catch (error) {
    if (isErrnoError(error, "ENOENT")) throw new NotFoundError(`${dataDir}: no such directory`);
    if (isErrnoError(error, "ENOTDIR")) {
      throw new NotFoundError(`${dataDir} is a file, not a data directory`);
    }
    throw error;
  }
  if (!["audit", "stores", "locks", "idempotency"].some((name) => names.includes(name))) {
    throw new NotFoundError(
      `${dataDir} is not a Beauvoir data directory (no audit/, stores/, locks/ or idempotency/ in it)`,
    );
  }
  return layout;
}

/** A lock manager on the data directory's locks, for reading (it takes nothing unless asked). */
export function lockManagerOf(fs: FileSystem, layout: DataDirectory): LockManager {
  return new LockManager({ lockDir: layout.locksDir, fs });
}

/**
 * The instance lock as `listLocks()` judges it (read-only: nothing taken,
 * created or removed), or `undefined` when no instance lock is there.
 */
export async function instanceLockOf(
  fs: FileSystem,
  layout: DataDirectory,
): Promise<LockStatus | undefined> {
  const locks = await lockManagerOf(fs, layout).listLocks();
  return locks.find((lock) => lock.name === INSTANCE_LOCK_NAME);
}

/**
 * Runs `work` holding the data directory's instance lock, as a booted
 * instance does, so that no instance starts while the command changes
 * state; a dead holder's lock is recovered like boot recovers it.
 * @throws {@link RefusedError} while a live instance holds the data directory.
 */
export async function withInstanceLock<T>(
  fs: FileSystem,
  layout: DataDirectory,
  work: (locks: LockManager) => Promise<T>,
): Promise<T> {
  const locks = lockManagerOf(fs, layout);
  try {
    await locks.acquire(INSTANCE_LOCK_NAME);
  } catch (error) {
    const code = (error as { code?: unknown })?.code;
    if (code === "LOCK_HELD" || code === "LOCK_CORRUPT") {
      const owner = (error as { owner?: { pid?: number } }).owner;
      throw new RefusedError(
        `a live instance holds ${layout.dataDir}${owner?.pid === undefined ? "" : ` (pid ${owner.pid})`}: stop it first; read-only commands (status, keys list, audit verify…) work while it runs`,
      );
    }
    throw error;
  }
  try {
    return await work(locks);
  } finally {
    await locks.releaseAll();
  }
}

/** Version of the lock file format written by this package (`lockVersion` in each record). */
export const LOCK_FILE_VERSION = 1;

/**
 * The ownership record stored as JSON in `{lockDir}/{name}.lock`, and carried
 * by `LockHeldError` as `owner`.
 * @example
 * ```json
 * { "id": "0c5f…", "pid": 4121, "bootId": "8e1d…", "createdAt": 1764064800000, "lockVersion": 1 }
 * ```
 */
export interface LockOwner {
  /** Random id of this acquisition; release and renewal check it before touching the file. */
  id: string;
  /** Process id of the holder. */
  pid: number;
  /** The holder's `/proc/sys/kernel/random/boot_id` (or a random id); diagnostic only. */
  bootId: string;
  /** When the lock was taken, epoch milliseconds. */
  createdAt: number;
  /** Format version of the record; {@link LOCK_FILE_VERSION} for files this package writes. */
  lockVersion: number;
  /**
   * When a live holder last renewed the lock, epoch milliseconds. The age
   * backstop counts from here when present, so a lock held for longer than
   * `maxAgeMs` by a live process is not taken from it.
   */
  renewedAt?: number;
}

/**
 * Encodes an owner record as the bytes of a lock file.
 * @param owner - the record.
 * @returns UTF-8 JSON.
 */
export function encodeOwner(owner: LockOwner): Buffer {
  return Buffer.from(JSON.stringify(owner), "utf8");
}

const isFiniteNumber = (value: unknown): value is number =>
  typeof value === "number" && Number.isFinite(value);

/**
 * Decodes a lock file. Anything that is not a complete record (an empty file
 * left by a crash between create and write, a torn write, foreign content)
 * yields `undefined`; the caller then applies the grace period.
 * @param bytes - the file's content.
 * @returns a fresh frozen record, or `undefined` when the content is not one.
 */
export function decodeOwner(bytes: Buffer): LockOwner | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const record = parsed as Record<string, unknown>;
  const { id, pid, bootId, createdAt, lockVersion, renewedAt } = record;
  if (typeof id !== "string" || id.length === 0) return undefined;
  // pid 0 and negative pids address process groups in kill(2): never accept them.
  if (typeof pid !== "number" || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  if (typeof bootId !== "string") return undefined;
  if (!isFiniteNumber(createdAt)) return undefined;
  if (typeof lockVersion !== "number" || !Number.isSafeInteger(lockVersion) || lockVersion < 1) {
    return undefined;
  }
  if (renewedAt !== undefined && !isFiniteNumber(renewedAt)) return undefined;
  const owner: LockOwner = { id, pid, bootId, createdAt, lockVersion };
  if (renewedAt !== undefined) owner.renewedAt = renewedAt;
  return Object.freeze(owner);
}

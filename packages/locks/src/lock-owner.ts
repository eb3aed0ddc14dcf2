import { createHash } from "node:crypto";

/**
 * Version of the lock file format written by this package (`lockVersion` in
 * each record). Version 2 records end with a `checksum` of the rest; version
 * 1 records (written by earlier versions of the package) have none and are
 * still read.
 */
export const LOCK_FILE_VERSION = 2;

/**
 * The ownership record stored as JSON in `{lockDir}/{name}.lock`, and carried
 * by `LockHeldError` as `owner`.
 * @example
 * ```json
 * { "id": "0c5f…", "pid": 4121, "bootId": "8e1d…", "createdAt": 1764064800000, "lockVersion": 2, "checksum": "sha256:…" }
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

/** What ends a checksummed record: `,"checksum":"sha256:<64 hex>"}`. */
const CHECKSUM_MARKER = Buffer.from(',"checksum":"sha256:', "latin1");
const RECORD_END = '"}';
const DIGEST_LENGTH = 64;

const sha256 = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

/**
 * Encodes an owner record as the bytes of a lock file: its JSON, ending with
 * a `checksum` field, the SHA-256 of every byte before `,"checksum"`. A
 * damaged byte anywhere (a pid digit, say) then makes the record unreadable
 * instead of naming another process.
 * @param owner - the record.
 * @returns UTF-8 JSON.
 */
export function encodeOwner(owner: LockOwner): Buffer {
  const body = Buffer.from(JSON.stringify(owner).slice(0, -1), "utf8");
  return Buffer.concat([
    body,
    CHECKSUM_MARKER,
    Buffer.from(`${sha256(body)}${RECORD_END}`, "latin1"),
  ]);
}

const isFiniteNumber = (value: unknown): value is number =>
  typeof value === "number" && Number.isFinite(value);

/**
 * Checks the checksum of a record that has one.
 * @returns `"verified"`, `"absent"` (a version 1 record), or `"mismatch"`.
 */
function checkRecord(bytes: Buffer): "verified" | "absent" | "mismatch" {
  const at = bytes.lastIndexOf(CHECKSUM_MARKER);
  if (at < 0) return "absent";
  const digestAt = at + CHECKSUM_MARKER.length;
  const digest = bytes.toString("latin1", digestAt, digestAt + DIGEST_LENGTH);
  const end = bytes.toString("latin1", digestAt + DIGEST_LENGTH);
  return end === RECORD_END && sha256(bytes.subarray(0, at)) === digest ? "verified" : "mismatch";
}

/**
 * Decodes a lock file. Anything that is not a complete, intact record (an
 * empty file left by a crash between create and write, a torn write, a
 * damaged byte, foreign content) yields `undefined`; the caller then applies
 * the grace period.
 * @param bytes - the file's content.
 * @returns a fresh frozen record, or `undefined` when the content is not one.
 */
export function decodeOwner(bytes: Buffer): LockOwner | undefined {
  const checksum = checkRecord(bytes);
  if (checksum === "mismatch") return undefined;
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
  // From version 2 on a record carries its checksum: one without it was damaged.
  if (checksum === "absent" && (lockVersion >= 2 || Object.hasOwn(record, "checksum"))) {
    return undefined;
  }
  if (renewedAt !== undefined && !isFiniteNumber(renewedAt)) return undefined;
  const owner: LockOwner = { id, pid, bootId, createdAt, lockVersion };
  if (renewedAt !== undefined) owner.renewedAt = renewedAt;
  return Object.freeze(owner);
}

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
   * When a live holder last renewed the lock, epoch milliseconds (`createdAt`
   * in a fresh lock). The age backstop counts from here when present, so a
   * lock held for longer than `maxAgeMs` by a live process is not taken from
   * it. Absent from a record whose renewal part was torn or damaged: the file's
   * mtime stands in for it then.
   */
  renewedAt?: number;
}

/** Starts the checksum of a record's identity: `,"checksum":"sha256:<64 hex>"`. */
const CHECKSUM_MARKER = Buffer.from(',"checksum":"sha256:', "latin1");
const DIGEST_LENGTH = 64;
/** What follows the identity's checksum: nothing, or the renewal and its own short checksum. */
const RENEWAL_SUFFIX = /^","renewedAt":(\d{1,16}),"renewal":"([0-9a-f]{16})"\}$/;
const EMPTY_SUFFIX = '"}';

const sha256 = (data: Buffer | string): string => createHash("sha256").update(data).digest("hex");

/** The renewal's checksum: tied to the acquisition's id, so a renewal never passes for another's. */
const renewalDigest = (id: string, renewedAt: number): string =>
  sha256(`${id}:${renewedAt}`).slice(0, 16);

/**
 * Encodes an owner record as the bytes of a lock file, in two checked parts:
 * the identity (`id`, `pid`, `bootId`, `createdAt`, `lockVersion`), followed
 * by `checksum`, the SHA-256 of every byte before `,"checksum"`; then, when
 * the record has one, `renewedAt` with `renewal`, its own short checksum.
 * Renewal rewrites only the second part (the identity's bytes stay the same,
 * and a timestamp keeps its width), so a renewal torn by a power cut, or read
 * half-written, leaves the identity intact; a damaged byte anywhere in the
 * identity makes the record unreadable instead of naming another process.
 * @param owner - the record.
 * @returns UTF-8 JSON.
 */
export function encodeOwner(owner: LockOwner): Buffer {
  const { id, pid, bootId, createdAt, lockVersion, renewedAt } = owner;
  const identity = JSON.stringify({ id, pid, bootId, createdAt, lockVersion }).slice(0, -1);
  const renewal =
    renewedAt === undefined
      ? ""
      : `,"renewedAt":${renewedAt},"renewal":"${renewalDigest(id, renewedAt)}"`;
  return Buffer.from(
    `${identity}${CHECKSUM_MARKER.toString("latin1")}${sha256(identity)}"${renewal}}`,
    "utf8",
  );
}

const isFiniteNumber = (value: unknown): value is number =>
  typeof value === "number" && Number.isFinite(value);

/**
 * @internal A decoded lock file. `renewal` says what became of `renewedAt`:
 * `verified` (or, for a version 1 record, `unchecked`), `absent`, or
 * `damaged` (torn or changed: the record's `renewedAt` is then left out, and
 * the file's mtime is the best sign of the holder's last renewal).
 */
export interface LockRecord {
  readonly owner: LockOwner;
  readonly renewal: "verified" | "unchecked" | "absent" | "damaged";
}

/**
 * @internal Decodes a lock file into its record, checking both checksums.
 * @returns the record, or undefined when the identity is not an intact record.
 */
export function readLockRecord(bytes: Buffer): LockRecord | undefined {
  const at = bytes.indexOf(CHECKSUM_MARKER);
  if (at < 0) return readUncheckedRecord(bytes);
  const identity = bytes.subarray(0, at);
  const digestAt = at + CHECKSUM_MARKER.length;
  if (bytes.toString("latin1", digestAt, digestAt + DIGEST_LENGTH) !== sha256(identity)) {
    return undefined;
  }
  const fields = parseObject(Buffer.concat([identity, Buffer.from("}")]));
  const owner = fields && ownerOf(fields, undefined);
  if (!owner) return undefined;
  const suffix = bytes.toString("latin1", digestAt + DIGEST_LENGTH);
  if (suffix === EMPTY_SUFFIX) return { owner, renewal: "absent" };
  const match = RENEWAL_SUFFIX.exec(suffix);
  const renewedAt = match?.[1] === undefined ? Number.NaN : Number(match[1]);
  if (!Number.isSafeInteger(renewedAt) || match?.[2] !== renewalDigest(owner.id, renewedAt)) {
    return { owner, renewal: "damaged" };
  }
  return { owner: Object.freeze({ ...owner, renewedAt }), renewal: "verified" };
}

/** A record without a checksum: only version 1 (earlier versions of this package) may be one. */
function readUncheckedRecord(bytes: Buffer): LockRecord | undefined {
  const fields = parseObject(bytes);
  if (!fields || Object.hasOwn(fields, "checksum")) return undefined;
  const { renewedAt } = fields;
  if (renewedAt !== undefined && !isFiniteNumber(renewedAt)) return undefined;
  const owner = ownerOf(fields, renewedAt);
  // From version 2 on a record carries its checksum: one without it was damaged.
  if (!owner || owner.lockVersion >= 2) return undefined;
  return { owner, renewal: renewedAt === undefined ? "absent" : "unchecked" };
}

function parseObject(bytes: Buffer): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
  return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}

function ownerOf(
  fields: Record<string, unknown>,
  renewedAt: number | undefined,
): LockOwner | undefined {
  const { id, pid, bootId, createdAt, lockVersion } = fields;
  if (typeof id !== "string" || id.length === 0) return undefined;
  // pid 0 and negative pids address process groups in kill(2): never accept them.
  if (typeof pid !== "number" || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  if (typeof bootId !== "string") return undefined;
  if (!isFiniteNumber(createdAt)) return undefined;
  if (typeof lockVersion !== "number" || !Number.isSafeInteger(lockVersion) || lockVersion < 1) {
    return undefined;
  }
  const owner: LockOwner = { id, pid, bootId, createdAt, lockVersion };
  if (renewedAt !== undefined) owner.renewedAt = renewedAt;
  return Object.freeze(owner);
}

/**
 * Decodes a lock file. Anything that is not a complete, intact record (an
 * empty file left by a crash between create and write, a torn write, a
 * damaged byte, foreign content) yields `undefined`; the caller then applies
 * the grace period. A damaged renewal leaves the record without `renewedAt`.
 * @param bytes - the file's content.
 * @returns a fresh frozen record, or `undefined` when the content is not one.
 */
export function decodeOwner(bytes: Buffer): LockOwner | undefined {
  return readLockRecord(bytes)?.owner;
}

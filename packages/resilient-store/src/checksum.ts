import { createHash } from "node:crypto";

/** The key of the checksum line, reserved like the other metadata keys. */
export const CHECKSUM_KEY = "_checksum";

/**
 * The checksum is the file's first line after `{`:
 * `  "_checksum": "sha256:<64 hex digits>",`. It is the SHA-256 of the file's
 * bytes without that line, which are exactly the bytes the previous version of
 * the store wrote for the same state and epoch.
 */
const LINE_START = `\n  "${CHECKSUM_KEY}": "sha256:`;
const DIGEST_LENGTH = 64;
const LINE_END = `",`;
/** Where the digest starts: after the `{` and the line's start. */
const DIGEST_AT = 1 + LINE_START.length;
/** Where the rest of the file starts, after the whole checksum line. */
const REST_AT = DIGEST_AT + DIGEST_LENGTH + LINE_END.length;
const FILE_START = Buffer.from(`{${LINE_START}`, "latin1");
const HEX_DIGEST = /^[0-9a-f]{64}$/;

/** @internal What the checksum of a store file says. */
export type ChecksumCheck =
  | { readonly status: "verified" }
  /** No checksum line: a file of the previous format, or written by another program. */
  | { readonly status: "absent" }
  | { readonly status: "mismatch"; readonly reason: string };

/**
 * @internal The text of a store file: `legacyText` (the state with its
 * metadata, starting with `{`) with the checksum line inserted after its `{`.
 */
export function withChecksumLine(legacyText: string, digest: string): string {
  return `{${LINE_START}${digest}${LINE_END}${legacyText.slice(1)}`;
}

/** A digest's place holder while the file's bytes are made, before they are hashed. */
const PLACEHOLDER_DIGEST = "0".repeat(DIGEST_LENGTH);

/**
 * @internal The text and bytes of a store file whose content (without the
 * checksum line) is `legacyText`: encoded once, hashed from the bytes, the
 * digest written into its place.
 */
export function checksummedFile(legacyText: string): { text: string; bytes: Buffer } {
  const bytes = Buffer.from(withChecksumLine(legacyText, PLACEHOLDER_DIGEST), "utf8");
  const digest = createHash("sha256")
    .update(bytes.subarray(0, 1))
    .update(bytes.subarray(REST_AT))
    .digest("hex");
  bytes.write(digest, DIGEST_AT, "latin1");
  return { text: withChecksumLine(legacyText, digest), bytes };
}

/**
 * @internal Checks a store file's checksum line against the rest of its bytes.
 * A file without the line counts as `absent` unless its first line looks like
 * a checksum line whose key was damaged (a flipped bit in `_checksum` leaves
 * valid JSON without a `_checksum` key): that is a `mismatch`, never a file of
 * the previous format.
 */
export function checkChecksum(bytes: Buffer): ChecksumCheck {
  if (!bytes.subarray(0, FILE_START.length).equals(FILE_START)) {
    return looksLikeDamagedChecksumLine(bytes)
      ? { status: "mismatch", reason: "the checksum line is damaged" }
      : { status: "absent" };
  }
  const digest = bytes.toString("latin1", DIGEST_AT, DIGEST_AT + DIGEST_LENGTH);
  const end = bytes.toString("latin1", DIGEST_AT + DIGEST_LENGTH, REST_AT);
  if (!HEX_DIGEST.test(digest) || end !== LINE_END) {
    return { status: "mismatch", reason: "the checksum line is damaged" };
  }
  const actual = createHash("sha256")
    .update(bytes.subarray(0, 1))
    .update(bytes.subarray(REST_AT))
    .digest("hex");
  return actual === digest
    ? { status: "verified" }
    : { status: "mismatch", reason: "checksum mismatch: the content changed after it was written" };
}

/**
 * A first line `  "<key>": "sha256:<64 hex>",` whose key has the length of
 * `_checksum` and differs from it in at most two bytes. A state of the
 * previous format whose first key is that close to `_checksum` and holds a
 * SHA-256 digest is not a realistic case; a flipped bit in the key is.
 */
function looksLikeDamagedChecksumLine(bytes: Buffer): boolean {
  const line = bytes.toString("latin1", 0, REST_AT + 1);
  const match = /^\{\n {2}"([^"\n]*)": "sha256:[0-9a-f]{64}",\n$/.exec(line);
  if (!match) return false;
  const key = match[1]!;
  if (key.length !== CHECKSUM_KEY.length) return false;
  let differences = 0;
  for (let index = 0; index < key.length; index++) {
    if (key.charCodeAt(index) !== CHECKSUM_KEY.charCodeAt(index)) differences++;
  }
  return differences <= 2;
}

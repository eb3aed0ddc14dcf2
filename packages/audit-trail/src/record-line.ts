import * as crypto from "node:crypto";
import type { AuditPhase } from "./audit-record.js";

/** The `prevHash` of the first record of every file. */
export const GENESIS = "genesis";

/** `,"hash":"` + 64 hex + `"}`: the bytes after the canonical body of a line without HMAC. */
export const HASH_SUFFIX_LENGTH = 75;
/** `,"hash":"` + 64 hex + `","hmac":"` + 64 hex + `"}`. */
export const HASH_HMAC_SUFFIX_LENGTH = 149;

const HEX64 = /^[0-9a-f]{64}$/;

/** Tells whether `value` is 64 lowercase hex digits (a SHA-256 or HMAC-SHA256 digest). */
export function isDigest(value: unknown): value is string {
  return typeof value === "string" && value.length === 64 && HEX64.test(value);
}

// crypto.hash (Node >= 20.12) skips the Hash object for one-shot digests; it is
// much cheaper per record than createHash when lines are short.
const oneShotHash = (
  crypto as { hash?: (algorithm: string, data: Uint8Array | string, encoding: "hex") => string }
).hash;

/** SHA-256 hex of `data`. */
export function sha256Hex(data: Uint8Array | string): string {
  if (oneShotHash) return oneShotHash("sha256", data, "hex");
  return crypto.createHash("sha256").update(data).digest("hex");
}

/** HMAC-SHA256 hex of `data` under `key`. */
export function hmacHex(key: Uint8Array, data: Uint8Array | string): string {
  return crypto.createHmac("sha256", key).update(data).digest("hex");
}

/** Compares two hex digests without leaking, through timing, where they differ. */
export function digestsEqual(expected: string, actual: string): boolean {
  const left = Buffer.from(expected, "latin1");
  const right = Buffer.from(actual, "latin1");
  return left.length === right.length && crypto.timingSafeEqual(left, right);
}

/** The parts of a record the writer knows before it is chained (all already redacted and serialized). */
export interface RecordContent {
  phase: AuditPhase;
  ts: string;
  action: string;
  target: string;
  /** Canonical JSON of the params object. */
  paramsJson: string;
  dedupeKey?: string;
  intentSeq?: number;
  /** Canonical JSON of the result, when there is one. */
  resultJson?: string;
  error?: string;
  dryRun: boolean;
  /** For `signing_started`: the record carries `signedFromSeq` equal to its own seq. */
  startsSigning?: true;
  /** For `checkpoint`: canonical JSON of its `prunedSegments`. */
  prunedSegmentsJson?: string;
}

/** Where a record sits in the chain. */
export interface ChainPosition {
  seq: number;
  prevHash: string;
  previousSegmentHash?: string | undefined;
}

/** A record ready to append. */
export interface BuiltRecord {
  /** The full line, with its trailing newline. */
  line: string;
  hash: string;
  hmac?: string;
}

/**
 * Builds the canonical body of a record and its line. The members are written
 * in sorted key order by hand (a test checks this against {@link canonicalJson}
 * of the parsed record) because this runs once per record on the write path.
 */
export function buildRecordLine(
  content: RecordContent,
  position: ChainPosition,
  hmacKey: Uint8Array | undefined,
): BuiltRecord {
  let body = `{"action":${JSON.stringify(content.action)}`;
  if (content.dedupeKey !== undefined) body += `,"dedupeKey":${JSON.stringify(content.dedupeKey)}`;
  body += `,"dryRun":${content.dryRun}`;
  if (content.error !== undefined) body += `,"error":${JSON.stringify(content.error)}`;
  if (content.intentSeq !== undefined) body += `,"intentSeq":${content.intentSeq}`;
  body += `,"params":${content.paramsJson},"phase":"${content.phase}","prevHash":"${position.prevHash}"`;
  if (position.previousSegmentHash !== undefined) {
    body += `,"previousSegmentHash":"${position.previousSegmentHash}"`;
  }
  if (content.prunedSegmentsJson !== undefined) {
    body += `,"prunedSegments":${content.prunedSegmentsJson}`;
  }
  if (content.resultJson !== undefined) body += `,"result":${content.resultJson}`;
  body += `,"seq":${position.seq}`;
  if (content.startsSigning) body += `,"signedFromSeq":${position.seq}`;
  body += `,"target":${JSON.stringify(content.target)},"ts":${JSON.stringify(content.ts)}}`;
  const hash = sha256Hex(body);
  const head = body.slice(0, -1);
  if (!hmacKey) return { line: `${head},"hash":"${hash}"}\n`, hash };
  const hmac = hmacHex(hmacKey, body);
  return { line: `${head},"hash":"${hash}","hmac":"${hmac}"}\n`, hash, hmac };
}

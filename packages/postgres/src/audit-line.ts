import { createHash, createHmac } from "node:crypto";
import { canonicalJson } from "@beauvoir/audit-trail";

/** @internal An audit row as the sealer reads it. */
export interface SealableRecord {
  id: string;
  phase: "intent" | "result" | "denied" | "dry_run";
  ts: string;
  action: string;
  target: string;
  params: string;
  dedupe_key: string | null;
  result: string | null;
  error: string | null;
  dry_run: boolean;
  intent_id: string | null;
}

/** @internal A sealed line and its hash. */
export interface SealedLine {
  /** The JSONL line, without its newline. */
  line: string;
  hash: string;
}

/**
 * @internal Builds the line `@beauvoir/audit-trail` would have written for this
 * record at this place in the chain: the canonical JSON of every field but
 * `hash` and `hmac`, then `"hash"` (SHA-256 hex of that canonical text) and,
 * with a key, `"hmac"` (HMAC-SHA256 hex of it) before the closing brace.
 */
export function buildSealedLine(
  record: SealableRecord,
  seq: number,
  prevHash: string,
  intentSeq: number | undefined,
  hmacKey: Uint8Array | undefined,
): SealedLine {
  const fields: Record<string, unknown> = {
    seq,
    prevHash,
    phase: record.phase,
    ts: record.ts,
    action: record.action,
    target: record.target,
    params: JSON.parse(record.params),
    dryRun: record.dry_run,
  };
  if (intentSeq !== undefined) fields.intentSeq = intentSeq;
  if (record.dedupe_key !== null) fields.dedupeKey = record.dedupe_key;
  if (record.result !== null) fields.result = JSON.parse(record.result);
  if (record.error !== null) fields.error = record.error;
  const body = canonicalJson(fields)!;
  const hash = createHash("sha256").update(body).digest("hex");
  let line = `${body.slice(0, -1)},"hash":"${hash}"`;
  if (hmacKey !== undefined) {
    line += `,"hmac":"${createHmac("sha256", hmacKey).update(body).digest("hex")}"`;
  }
  return { line: `${line}}`, hash };
}

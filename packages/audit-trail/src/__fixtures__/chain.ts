import type { AuditPhase } from "../audit-record.js";
import { canonicalJson } from "../canonical-json.js";
import {
  buildRecordLine,
  GENESIS,
  hmacHex,
  type RecordContent,
  sha256Hex,
} from "../record-line.js";

/** What a test record says; everything else is filled in. */
export interface RecordSpec {
  phase?: AuditPhase;
  action?: string;
  target?: string;
  params?: Record<string, unknown>;
  intentSeq?: number;
  result?: unknown;
  error?: string;
  dedupeKey?: string;
}

/** Builds a valid chain of lines through the writer's own line builder. */
export function buildChain(
  specs: RecordSpec[],
  options: { key?: Uint8Array; firstSeq?: number; link?: string } = {},
): { text: string; lines: string[]; hashes: string[] } {
  const lines: string[] = [];
  const hashes: string[] = [];
  let prevHash = GENESIS;
  let seq = (options.firstSeq ?? 1) - 1;
  for (const spec of specs) {
    seq++;
    const content: RecordContent = {
      phase: spec.phase ?? "intent",
      ts: new Date(Date.UTC(2026, 1, 8, 0, 0, seq)).toISOString(),
      action: spec.action ?? "add_issue_comment",
      target: spec.target ?? "acme/app#1",
      paramsJson: canonicalJson(spec.params ?? {})!,
      dryRun: spec.phase === "dry_run",
    };
    if (spec.intentSeq !== undefined) content.intentSeq = spec.intentSeq;
    if (spec.result !== undefined) content.resultJson = canonicalJson(spec.result)!;
    if (spec.error !== undefined) content.error = spec.error;
    if (spec.dedupeKey !== undefined) content.dedupeKey = spec.dedupeKey;
    const built = buildRecordLine(
      content,
      {
        seq,
        prevHash,
        previousSegmentHash: seq === (options.firstSeq ?? 1) ? options.link : undefined,
      },
      options.key,
    );
    lines.push(built.line);
    hashes.push(built.hash);
    prevHash = built.hash;
  }
  return { text: lines.join(""), lines, hashes };
}

/**
 * A line for an arbitrary record object, hashed (and signed) correctly: lets
 * tests forge records that pass the hash check but break another rule.
 */
export function forgeLine(record: Record<string, unknown>, key?: Uint8Array): string {
  const { hash: _hash, hmac: _hmac, ...rest } = record;
  const body = canonicalJson(rest)!;
  const hash = sha256Hex(body);
  const head = body.slice(0, -1);
  if (!key) return `${head},"hash":"${hash}"}\n`;
  return `${head},"hash":"${hash}","hmac":"${hmacHex(key, body)}"}\n`;
}

/** A record object as the writer would produce it, for {@link forgeLine}. */
export function recordObject(
  seq: number,
  prevHash: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    seq,
    prevHash,
    phase: "intent",
    ts: "2026-02-08T00:00:00.000Z",
    action: "add_issue_comment",
    target: "acme/app#1",
    params: {},
    dryRun: false,
    ...extra,
  };
}

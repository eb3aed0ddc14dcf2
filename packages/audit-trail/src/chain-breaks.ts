import type { AuditRecord } from "./audit-record.js";
import { type ChainBreakReason, type FirstRecordExpectation, scanChain } from "./chain-scanner.js";
import type { HistoryBreak } from "./history-scan.js";

/** One break of a history, as {@link verifyAuditFile} lists them with `allBreaks`. */
export interface ChainBreakReport {
  /** The seq the bad record should have had (or has), when it can be told. */
  seq?: number;
  reason: ChainBreakReason;
  detail: string;
  file: string;
  /** 1-based line in `file`. */
  line: number;
}

/** How many breaks are listed at most: a file of garbage would otherwise give one per line. */
export const MAX_LISTED_BREAKS = 100;

/** Breaks in the links between records: the record at the break is itself sound, and the scan goes on from it. */
const LINK_BREAKS: ReadonlySet<ChainBreakReason> = new Set([
  "seq_mismatch",
  "prev_hash_mismatch",
  "segment_link_mismatch",
  "history_head_missing",
]);

/** Stands for an intent whose line was damaged, so that its result is not reported as an orphan too. */
const DAMAGED_INTENT = Object.freeze({}) as AuditRecord;

/**
 * @internal Lists every break of one history, the first one given: after each
 * break the scan goes on from the next line, taking the first record there as
 * it is (the one before it was bad) and checking the chain from it, into the
 * files after. Each damaged place is reported once; what a break hides (the
 * link over a deleted line is one break, not two) is not reported again.
 * @param files - the history's files, oldest first.
 * @param first - the first break, as the history scan found it.
 * @param before - the last record that passed before it, when there is one.
 * @param options - how to read a file, the key.
 * @returns the breaks in history order (at most {@link MAX_LISTED_BREAKS}), and whether the list was cut there.
 */
export async function listChainBreaks(
  files: readonly string[],
  first: HistoryBreak,
  before: { seq: number; hash: string } | undefined,
  options: {
    read: (file: string) => Promise<Buffer | undefined>;
    hmacKey: Uint8Array | undefined;
    requireHmac: boolean | undefined;
  },
): Promise<{ breaks: ChainBreakReport[]; truncated: boolean }> {
  const breaks: ChainBreakReport[] = [reportOf(first, first.file, first.line)];
  let lastKnown = before;
  let openIntents = new Map<number, AuditRecord>();
  let fileIndex = first.fileIndex;
  let buffer = await options.read(files[fileIndex]!);
  /** Where to go on after a break at `offset` of the current buffer. */
  const resumeAfter = (reason: ChainBreakReason, offset: number): number => {
    if (LINK_BREAKS.has(reason)) return offset;
    const seq = seqOfLine(buffer!, offset);
    if (seq !== undefined && !openIntents.has(seq)) openIntents.set(seq, DAMAGED_INTENT);
    return nextLineStart(buffer!, offset);
  };
  let resumeAt = buffer === undefined ? 0 : resumeAfter(first.reason, first.offset);
  let expectation: FirstRecordExpectation = { kind: "resync" };
  while (breaks.length < MAX_LISTED_BREAKS) {
    if (buffer === undefined || resumeAt >= buffer.length) {
      fileIndex++;
      if (fileIndex >= files.length) return { breaks, truncated: false };
      buffer = await options.read(files[fileIndex]!);
      resumeAt = 0;
      expectation = lastKnown
        ? { kind: "continues", seq: lastKnown.seq, hash: lastKnown.hash }
        : { kind: "resync" };
      if (buffer?.length === 0 && fileIndex < files.length - 1) {
        breaks.push({
          reason: "empty_segment",
          detail: "a rotated file holds no record: it was truncated",
          file: files[fileIndex]!,
          line: 1,
          ...(lastKnown ? { seq: lastKnown.seq + 1 } : {}),
        });
      }
      continue;
    }
    // The buffer is modified and restored while lines are hashed: scan a copy of the rest.
    const result = scanChain(Buffer.from(buffer.subarray(resumeAt)), {
      hmacKey: options.hmacKey,
      requireHmac: options.requireHmac ?? false,
      first: expectation,
      openIntents,
    });
    openIntents = result.openIntents;
    if (result.lastSeq !== undefined) lastKnown = { seq: result.lastSeq, hash: result.lastHash! };
    if (!result.break) {
      resumeAt = buffer.length;
      continue;
    }
    const line = linesBefore(buffer, resumeAt) + result.break.line;
    breaks.push(reportOf(result.break, files[fileIndex]!, line));
    resumeAt = resumeAfter(result.break.reason, resumeAt + result.break.offset);
    expectation = { kind: "resync" };
  }
  return { breaks, truncated: true };
}

function reportOf(
  problem: { reason: ChainBreakReason; detail: string; seq?: number },
  file: string,
  line: number,
): ChainBreakReport {
  return {
    reason: problem.reason,
    detail: problem.detail,
    file,
    line,
    ...(problem.seq === undefined ? {} : { seq: problem.seq }),
  };
}

/** The seq a damaged line claims, when it still parses far enough to tell. */
function seqOfLine(buffer: Buffer, offset: number): number | undefined {
  const text = buffer.toString("utf8", offset, nextLineStart(buffer, offset));
  const seq = /"seq":(\d+)/.exec(text)?.[1];
  return seq === undefined ? undefined : Number(seq);
}

function nextLineStart(buffer: Buffer, offset: number): number {
  const end = buffer.indexOf(10, offset);
  return end === -1 ? buffer.length : end + 1;
}

function linesBefore(buffer: Buffer, offset: number): number {
  let lines = 0;
  for (let position = buffer.indexOf(10); position !== -1 && position < offset; ) {
    lines++;
    position = buffer.indexOf(10, position + 1);
  }
  return lines;
}

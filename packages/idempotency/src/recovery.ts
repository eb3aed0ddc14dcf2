import { join } from "node:path";
import type { IdempotencyEntry } from "./entry.js";
import type { IndexProblem } from "./errors.js";
import { type JournalFile, journalName } from "./journal-files.js";
import { applyRecord, type JournalRecord } from "./journal-format.js";
import { type IdempotencySnapshot, type SnapshotPosition, snapshotProblem } from "./snapshot.js";

/** What is known of one journal after recovery. */
export interface JournalSummary {
  readonly path: string;
  readonly generation: number;
  /** Its last `seq` (its last record's, else its header's `afterSeq`; 0 for an empty legacy file). */
  readonly lastSeq: number;
  /** Whether it starts with a header (every journal since format 2 does). */
  readonly hasHeader: boolean;
}

/** The state an index directory holds, and everything wrong with it. */
export interface RecoveredIndex {
  /** Damage found; recovery may go on only when empty. */
  readonly problems: IndexProblem[];
  /** The snapshot as read, when valid. */
  readonly snapshot: IdempotencySnapshot | null;
  /**
   * Every entry: the snapshot's plus every readable record after it, in seq
   * order. With problems, this is the best that can be rebuilt (a repair uses it).
   */
  readonly entries: Map<string, IdempotencyEntry>;
  /** The last `seq` of the history (the snapshot's when no record follows it). */
  readonly lastSeq: number;
  /** Records applied on top of the snapshot. */
  readonly replayed: number;
  /** The journals, oldest first. */
  readonly journals: readonly JournalSummary[];
  /** The newest journal's torn tail, which may be cut: where it starts and how long it is. */
  readonly tornTail:
    | { readonly path: string; readonly offset: number; readonly bytes: number }
    | undefined;
  /** The newest journal ends with a complete record without its newline. */
  readonly missingNewline: boolean;
  /** The oldest snapshot the store may still serve (the backup's position), when known. */
  readonly retainFrom: SnapshotPosition | null;
}

/** The inputs of {@link recoverIndex}. */
export interface RecoveryInput {
  /** The index directory. */
  readonly dir: string;
  /** What the snapshot store returned. */
  readonly stored: unknown;
  /** The snapshot's file (for messages). */
  readonly snapshotFile: string;
  /** The journals, oldest generation first. */
  readonly journals: readonly JournalFile[];
}

/** Walks the journals in order, checking that every seq follows the one before. */
class ChainWalker {
  readonly problems: IndexProblem[] = [];
  /** The seq before the first thing in the chain, once something is seen. */
  start: number | undefined;
  /** The last seq seen. */
  previous: number | undefined;
  replayed = 0;
  /** A bad line since the last good one: a gap right after it is that line's doing. */
  #damaged = false;

  constructor(
    readonly entries: Map<string, IdempotencyEntry>,
    readonly covered: number,
  ) {}

  anchor(path: string, afterSeq: number): void {
    if (this.previous === undefined) this.start = afterSeq;
    else if (afterSeq > this.previous) this.#gap(path, 1, afterSeq);
    else if (afterSeq < this.previous) {
      this.damage(
        path,
        1,
        `the header continues from seq ${afterSeq}, but the journal before ends at seq ${this.previous}`,
      );
      return;
    }
    this.previous = afterSeq;
    this.#damaged = false;
  }

  record(path: string, line: number, record: JournalRecord): void {
    if (this.previous === undefined) this.start = record.seq - 1;
    else if (record.seq <= this.previous) {
      this.damage(path, line, `seq ${record.seq} follows seq ${this.previous}`);
      return;
    } else if (record.seq > this.previous + 1) this.#gap(path, line, record.seq - 1);
    this.previous = record.seq;
    this.#damaged = false;
    if (record.seq > this.covered) {
      applyRecord(this.entries, record);
      this.replayed += 1;
    }
  }

  damage(path: string, line: number | undefined, detail: string): void {
    this.problems.push({ kind: "damaged-line", file: path, line, detail });
    this.#damaged = true;
  }

  #gap(path: string, line: number, lastMissing: number): void {
    // Records the snapshot holds are not lost, whatever happened to their lines.
    if (this.#damaged || lastMissing <= this.covered) return;
    const first = Math.max((this.previous as number) + 1, this.covered + 1);
    this.problems.push({
      kind: "missing-records",
      file: path,
      line,
      detail: `records ${range(first, lastMissing)} are missing`,
    });
  }
}

function range(first: number, last: number): string {
  return first === last ? `seq ${first}` : `seq ${first} to ${last}`;
}

/**
 * Rebuilds an index from its snapshot and journals, and lists every piece of
 * damage a crash cannot explain. A crash can only leave an incomplete last
 * line in the newest journal (a torn tail, which may be cut). Anything else is
 * damage: a bad line elsewhere, a gap in the sequence numbers (records
 * provably missing), a journal the snapshot continues from that is gone or has
 * lost its header, or a snapshot that is not one.
 * @param input - the snapshot as read and the decoded journals.
 * @returns the state and the problems.
 */
export function recoverIndex(input: RecoveryInput): RecoveredIndex {
  const { dir, stored, snapshotFile, journals } = input;
  const problems: IndexProblem[] = [];
  let snapshot: IdempotencySnapshot | null = null;
  if (stored !== null && stored !== undefined) {
    const problem = snapshotProblem(stored);
    if (problem === undefined) snapshot = stored as IdempotencySnapshot;
    else problems.push({ kind: "invalid-snapshot", file: snapshotFile, detail: problem });
  }
  const covered = snapshot?.lastSeq ?? 0;
  const entries = new Map<string, IdempotencyEntry>();
  for (const entry of snapshot?.entries ?? []) entries.set(entry.key, Object.freeze({ ...entry }));
  // Since format 2, the snapshot's journal and every later one were created with a header.
  const headersFrom = snapshot?.format === 2 ? snapshot.generation : Number.POSITIVE_INFINITY;
  const chain = new ChainWalker(entries, covered);
  const summaries: JournalSummary[] = [];
  let tornTail: RecoveredIndex["tornTail"];
  let missingNewline = false;

  journals.forEach((journal, position) => {
    const { path, generation, decoded } = journal;
    const newest = position === journals.length - 1;
    let lastSeq: number | undefined;
    if (decoded.header) {
      if (decoded.header.generation !== generation) {
        chain.damage(path, 1, `the header names generation ${decoded.header.generation}`);
      } else {
        chain.anchor(path, decoded.header.afterSeq);
        lastSeq = decoded.header.afterSeq;
      }
    } else if (generation >= headersFrom) {
      chain.problems.push({
        kind: "missing-journal",
        file: path,
        line: 1,
        detail:
          decoded.length === 0
            ? "the journal is empty: it lost its header and every record"
            : "the journal has no header: its beginning is missing",
      });
    }
    for (const line of decoded.lines) {
      if (line.kind === "bad") chain.damage(path, line.line, line.detail);
      else if (line.kind === "record") {
        chain.record(path, line.line, line.record);
        lastSeq = chain.previous;
      }
    }
    if (decoded.tornTail) {
      if (newest) {
        tornTail = {
          path,
          offset: decoded.tornTail.offset,
          bytes: decoded.length - decoded.tornTail.offset,
        };
      } else {
        chain.damage(
          path,
          decoded.tornTail.line,
          "an incomplete line in a journal that is not the newest",
        );
      }
    }
    if (newest) missingNewline = decoded.missingNewline;
    summaries.push({
      path,
      generation,
      lastSeq: lastSeq ?? 0,
      hasHeader: decoded.header !== undefined,
    });
  });
  problems.push(...chain.problems);

  if (
    snapshot?.format === 2 &&
    !journals.some((journal) => journal.generation === snapshot.generation)
  ) {
    problems.push({
      kind: "missing-journal",
      file: join(dir, journalName(snapshot.generation)),
      detail: `the journal the snapshot continues from (after seq ${snapshot.lastSeq}) is missing`,
    });
  } else if (chain.start !== undefined && chain.start > covered) {
    const first = journals[0] as JournalFile;
    problems.push({
      kind: "missing-records",
      file: first.path,
      line: 1,
      detail: `records ${range(covered + 1, chain.start)} are missing (${
        snapshot ? `the snapshot ends at seq ${covered}` : "there is no snapshot"
      }, the journals start after seq ${chain.start})`,
    });
  }

  return {
    problems,
    snapshot,
    entries,
    lastSeq: Math.max(covered, chain.previous ?? 0),
    replayed: chain.replayed,
    journals: summaries,
    tornTail,
    missingNewline,
    retainFrom: snapshot?.format === 2 ? (snapshot.previous ?? position(snapshot)) : null,
  };
}

function position(snapshot: IdempotencySnapshot): SnapshotPosition {
  return { generation: snapshot.generation, lastSeq: snapshot.lastSeq };
}

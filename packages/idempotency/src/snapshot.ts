import { type IdempotencyEntry, isIdempotencyEntry } from "./entry.js";

/** Which journal a snapshot continues from, and the last `seq` it holds. */
export interface SnapshotPosition {
  /** The journal generation whose records follow the snapshot (`journal.{generation}.jsonl`). */
  readonly generation: number;
  /** Highest journal `seq` whose effect the snapshot contains. */
  readonly lastSeq: number;
}

/**
 * The snapshot compaction writes; what the snapshot store holds. Format 2
 * (this version) also records the snapshot it replaced, which the store keeps
 * as its backup: the journals that backup needs are kept until a newer
 * snapshot has been written twice. Format 1 (0.1) snapshots are still read.
 */
export interface IdempotencySnapshot {
  /** Snapshot layout version. */
  format: 1 | 2;
  /** Journal generation that starts after this snapshot. */
  generation: number;
  /** Highest journal `seq` whose effect the snapshot contains. */
  lastSeq: number;
  /** The snapshot this one replaced (format 2; `null` for the first one). */
  previous?: SnapshotPosition | null;
  /** Every entry at that point. */
  entries: IdempotencyEntry[];
}

function isPosition(value: unknown): value is SnapshotPosition {
  if (typeof value !== "object" || value === null) return false;
  const position = value as Record<string, unknown>;
  return isCount(position.generation) && isCount(position.lastSeq);
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * Says what is wrong with a value read from the snapshot store.
 * @param value - what the store returned (not `null`).
 * @returns `undefined` for a valid snapshot, else a sentence.
 */
export function snapshotProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not an object";
  const snapshot = value as Record<string, unknown>;
  if (snapshot.format !== 1 && snapshot.format !== 2) {
    return `unknown format ${JSON.stringify(snapshot.format)}`;
  }
  if (!isCount(snapshot.generation)) return "generation is not a non-negative integer";
  if (!isCount(snapshot.lastSeq)) return "lastSeq is not a non-negative integer";
  if (
    snapshot.format === 2 &&
    snapshot.previous !== null &&
    (!isPosition(snapshot.previous) ||
      snapshot.previous.lastSeq > snapshot.lastSeq ||
      snapshot.previous.generation > snapshot.generation)
  ) {
    return "previous does not name an older snapshot";
  }
  if (!Array.isArray(snapshot.entries)) return "entries is not an array";
  const index = snapshot.entries.findIndex((entry) => !isIdempotencyEntry(entry));
  if (index !== -1) return `entry ${index} is not an idempotency entry (key, status, intentSeq…)`;
  return undefined;
}

/**
 * A validator for the snapshot store: `ResilientJsonStore` then treats a file
 * that is JSON but not a snapshot as damaged, and serves its backup instead.
 * @param value - a state read from or written to the store.
 * @returns true for a valid snapshot.
 */
export function isIdempotencySnapshot(value: unknown): value is IdempotencySnapshot {
  return snapshotProblem(value) === undefined;
}

import { RateLimitSnapshotError } from "./errors.js";

/** Which GitHub limit was hit: the hourly quota or a burst ("secondary") limit. */
export type RateLimitKind = "primary" | "secondary";

/** One GitHub-imposed block in a {@link RateLimitBlocksSnapshot}. */
export interface RateLimitBlock {
  /** `primary`: the quota is used up; `secondary`: a burst limit. */
  readonly kind: RateLimitKind;
  /** When the block ends, epoch milliseconds. */
  readonly until: number;
}

/**
 * Secondary limits without `retry-after` in a row: the next one in the same
 * streak waits twice as long as the last.
 */
export interface SecondaryStreak {
  /** How many came in a row (1 after the first). */
  readonly count: number;
  /** Epoch milliseconds after which the next one starts a new streak. */
  readonly until: number;
}

/**
 * The blocks GitHub imposed, as plain JSON, from `exportBlocks()`, for
 * `restoreBlocks()` in the next process. Token counts are not in it: they
 * start full after a restart.
 */
export interface RateLimitBlocksSnapshot {
  /** Format version. */
  readonly version: 1;
  /** When the snapshot was taken, epoch milliseconds. */
  readonly savedAt: number;
  /** Blocks still running when it was taken, at most one per kind, primary first. */
  readonly blocks: readonly RateLimitBlock[];
  /** The running streak of secondary limits without `retry-after`, or null. */
  readonly secondaryStreak: SecondaryStreak | null;
}

/**
 * @internal Checks a snapshot read back from storage, whole, before anything
 * is applied.
 * @throws {@link RateLimitSnapshotError} naming the first bad field.
 */
export function parseBlocksSnapshot(value: unknown): RateLimitBlocksSnapshot {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RateLimitSnapshotError("snapshot", "must be an object from exportBlocks()");
  }
  const snapshot = value as Record<string, unknown>;
  if (snapshot.version !== 1) {
    throw new RateLimitSnapshotError(
      "version",
      `must be 1, got ${JSON.stringify(snapshot.version)}`,
    );
  }
  const savedAt = epochMs(snapshot.savedAt, "savedAt");
  if (!Array.isArray(snapshot.blocks)) {
    throw new RateLimitSnapshotError("blocks", "must be an array");
  }
  const blocks = snapshot.blocks.map((entry: unknown, index): RateLimitBlock => {
    const field = `blocks[${index}]`;
    if (typeof entry !== "object" || entry === null) {
      throw new RateLimitSnapshotError(field, "must be an object");
    }
    const { kind, until } = entry as Record<string, unknown>;
    if (kind !== "primary" && kind !== "secondary") {
      throw new RateLimitSnapshotError(
        `${field}.kind`,
        `must be "primary" or "secondary", got ${JSON.stringify(kind)}`,
      );
    }
    return { kind, until: epochMs(until, `${field}.until`) };
  });
  return { version: 1, savedAt, blocks, secondaryStreak: streak(snapshot.secondaryStreak) };
}

function streak(value: unknown): SecondaryStreak | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "object") {
    throw new RateLimitSnapshotError("secondaryStreak", "must be an object or null");
  }
  const { count, until } = value as Record<string, unknown>;
  if (typeof count !== "number" || !Number.isInteger(count) || count < 1 || count > 1_000) {
    throw new RateLimitSnapshotError(
      "secondaryStreak.count",
      `must be a whole number from 1 to 1000, got ${JSON.stringify(count)}`,
    );
  }
  return { count, until: epochMs(until, "secondaryStreak.until") };
}

function epochMs(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RateLimitSnapshotError(
      field,
      `must be epoch milliseconds, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

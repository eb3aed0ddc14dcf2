import type {
  RateLimitBlock,
  RateLimitBlocksSnapshot,
  RateLimitKind,
  SecondaryStreak,
} from "./blocks-snapshot.js";

/** Doublings past this are far beyond any `maxBlockMs`. */
const MAX_DOUBLINGS = 40;

/**
 * @internal The blocks GitHub imposed, one end time per kind, and the streak
 * of secondary limits that came without a `retry-after`. Every change only
 * lengthens a block: GitHub never asks to send sooner than it said.
 */
export class GitHubBlocks {
  readonly #secondaryBaseMs: number;
  readonly #maxBlockMs: number;
  #primaryUntil = 0;
  #secondaryUntil = 0;
  /**
   * End of the longest block, epoch ms; 0 when there never was one. A plain
   * field, kept up to date by every change, since every request reads it.
   */
  until = 0;
  #streakCount = 0;
  #streakUntil = 0;

  /**
   * @param secondaryBaseMs - the first wait of a streak (GitHub: one minute).
   * @param maxBlockMs - the longest any block may last from when it is set.
   */
  constructor(secondaryBaseMs: number, maxBlockMs: number) {
    this.#secondaryBaseMs = secondaryBaseMs;
    this.#maxBlockMs = maxBlockMs;
  }

  /**
   * Blocks `kind` until `until` (capped at `maxBlockMs` from `now`).
   * @returns whether the block got longer.
   */
  extend(kind: RateLimitKind, until: number, now: number): boolean {
    const capped = Math.min(until, now + this.#maxBlockMs);
    if (kind === "primary") {
      if (capped <= this.#primaryUntil || capped <= now) return false;
      this.#primaryUntil = capped;
      if (capped > this.until) this.until = capped;
      return true;
    }
    if (capped <= this.#secondaryUntil || capped <= now) return false;
    this.#secondaryUntil = capped;
    if (capped > this.until) this.until = capped;
    return true;
  }

  /**
   * The wait for a secondary limit that gave no time, following GitHub: "wait
   * for at least one minute … if your request continues to fail due to a
   * secondary rate limit, wait for an exponentially increasing amount of time".
   * A limit that comes before the last block ended plus as long again is a
   * repeat and waits twice as long; a later one starts over.
   * @returns the wait in milliseconds, counted in the streak.
   */
  nextSecondaryWait(now: number): number {
    const repeat = this.#streakCount > 0 && now < this.#streakUntil;
    this.#streakCount = repeat ? this.#streakCount + 1 : 1;
    const doublings = Math.min(this.#streakCount - 1, MAX_DOUBLINGS);
    const wait = Math.min(this.#maxBlockMs, this.#secondaryBaseMs * 2 ** doublings);
    this.#streakUntil = now + 2 * wait;
    return wait;
  }

  /**
   * Ends the streak: a request went through. An answer that comes while the
   * secondary block still runs was sent before it and proves nothing.
   * @returns whether a streak ended.
   */
  endStreak(now: number): boolean {
    if (this.#streakCount === 0 || now < this.#secondaryUntil) return false;
    this.#streakCount = 0;
    this.#streakUntil = 0;
    return true;
  }

  /** @returns the blocks and streak still running at `now`, as plain JSON. */
  toSnapshot(now: number): RateLimitBlocksSnapshot {
    const blocks: RateLimitBlock[] = [];
    if (this.#primaryUntil > now) blocks.push({ kind: "primary", until: this.#primaryUntil });
    if (this.#secondaryUntil > now) blocks.push({ kind: "secondary", until: this.#secondaryUntil });
    const secondaryStreak: SecondaryStreak | null =
      this.#streakCount > 0 && this.#streakUntil > now
        ? { count: this.#streakCount, until: this.#streakUntil }
        : null;
    return { version: 1, savedAt: now, blocks, secondaryStreak };
  }

  /**
   * Adds a parsed snapshot's blocks and streak that are still running at
   * `now`; never shortens anything.
   * @returns whether anything changed.
   */
  restore(snapshot: RateLimitBlocksSnapshot, now: number): boolean {
    let changed = false;
    for (const block of snapshot.blocks) {
      if (this.extend(block.kind, block.until, now)) changed = true;
    }
    const streak = snapshot.secondaryStreak;
    if (streak !== null && streak.until > now) {
      const until = Math.min(streak.until, now + 2 * this.#maxBlockMs);
      if (streak.count > this.#streakCount || until > this.#streakUntil) {
        this.#streakCount = Math.max(this.#streakCount, streak.count);
        this.#streakUntil = Math.max(this.#streakUntil, until);
        changed = true;
      }
    }
    return changed;
  }
}

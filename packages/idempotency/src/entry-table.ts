import type { IdempotencyEntry } from "./entry.js";
import { applyRecord, type JournalDraft } from "./journal-format.js";
import type { JournalWriter } from "./journal-writer.js";

/** Callbacks of {@link EntryTable.write}, run before the keys stop being busy. */
export interface WriteHooks {
  /** The record is durable. */
  readonly onSuccess?: () => void;
  /** The record was not written; the keys are back as they are on disk. */
  readonly onFailure?: () => void;
}

/**
 * The index's entries in memory, and the rule that keeps them in step with
 * the journal: a transition is visible at once (so concurrent callers see
 * it), and put back as the disk has it if its write fails. Transitions on one
 * key are serialized: the next one waits for the one in flight.
 */
export class EntryTable {
  /** What callers see: durable entries plus transitions waiting for their fsync. */
  readonly entries = new Map<string, IdempotencyEntry>();
  /** Only what is on disk; snapshots are taken from here. */
  readonly durable = new Map<string, IdempotencyEntry>();
  /** Keys marked pending by this process and not yet settled. */
  readonly live = new Set<string>();
  /** Pending keys of a previous owner that `reconcilePending()` handed out for compensation. */
  readonly released = new Set<string>();
  /** Durable records since the last snapshot. */
  recordsSinceSnapshot = 0;
  /** The in-flight transition of each key. */
  readonly #busy = new Map<string, Promise<unknown>>();

  /**
   * Loads what recovery found on disk.
   * @param entries - the durable entries.
   * @param recordsSinceSnapshot - records replayed on top of the snapshot.
   */
  load(entries: ReadonlyMap<string, IdempotencyEntry>, recordsSinceSnapshot: number): void {
    for (const [key, entry] of entries) {
      this.durable.set(key, entry);
      this.entries.set(key, entry);
    }
    this.recordsSinceSnapshot = recordsSinceSnapshot;
  }

  /**
   * @param key - a key.
   * @returns whether a transition on it is in flight.
   */
  isBusy(key: string): boolean {
    return this.#busy.has(key);
  }

  /**
   * Waits until no transition on `key` is in flight.
   * @param key - the key.
   */
  async settled(key: string): Promise<void> {
    for (let busy = this.#busy.get(key); busy; busy = this.#busy.get(key)) {
      await busy.catch(() => {});
    }
  }

  /**
   * Applies `draft` in memory, appends it, and on failure puts `keys` back as
   * they are on disk.
   * @param writer - the journal writer.
   * @param draft - the transition.
   * @param keys - the keys it changes.
   * @param hooks - run before the keys stop being busy, so the next
   *   transition on a key sees their effect.
   * @returns once the record is durable.
   * @throws what the writer threw (the transition is rolled back).
   */
  async write(
    writer: JournalWriter,
    draft: JournalDraft,
    keys: readonly string[],
    hooks: WriteHooks = {},
  ): Promise<void> {
    applyRecord(this.entries, draft);
    const written = writer.append(draft, () => {
      applyRecord(this.durable, draft);
      this.recordsSinceSnapshot += 1;
    });
    for (const key of keys) this.#busy.set(key, written);
    try {
      await written;
      hooks.onSuccess?.();
    } catch (error) {
      for (const key of keys) {
        const durable = this.durable.get(key);
        if (durable) this.entries.set(key, durable);
        else this.entries.delete(key);
      }
      hooks.onFailure?.();
      throw error;
    } finally {
      for (const key of keys) if (this.#busy.get(key) === written) this.#busy.delete(key);
    }
  }
}

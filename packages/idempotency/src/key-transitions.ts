import type { Logger } from "@beauvoir/core";
import { isCompensationStrategy } from "./compensation.js";
import type { CompensationStrategy, IdempotencyEntry } from "./entry.js";
import type { EntryTable } from "./entry-table.js";
import {
  DuplicateExecutionError,
  InvalidTransitionError,
  KeyContainsSecretError,
} from "./errors.js";
import { actionOfKey } from "./idempotency-key.js";
import type { JournalDraft } from "./journal-format.js";
import type { JournalWriter } from "./journal-writer.js";
import { KeyWaiters } from "./key-waiters.js";
import type { AuditResultLookup, MarkPendingOptions, MarkPendingResult } from "./options.js";
import { describeFailure, redactResult, redactText } from "./redaction.js";
import type { ResolvedOptions } from "./resolve-options.js";
import { checkSettlement, type Settlement, withStatus } from "./settlement.js";

/** What {@link KeyTransitions} needs from the index that owns it. */
export interface TransitionHost {
  readonly options: ResolvedOptions;
  readonly table: EntryTable;
  /** The open journal writer; throws `INDEX_NOT_OPEN` when there is none. */
  writer(): JournalWriter;
  /** The strategy of an action. */
  strategyOf(action: string): CompensationStrategy;
  /** Called after every durable record (compaction may be due). */
  afterWrite(writer: JournalWriter): void;
}

/**
 * The state machine of a key: claim (`pending`), settle (`completed`,
 * `failed`), operator decisions (`settle`, `reset`), TTL eviction and
 * reconciliation after a crash. Every value written passes through the
 * redactor; every transition goes through the {@link EntryTable}, one at a
 * time per key.
 */
export class KeyTransitions {
  readonly #host: TransitionHost;
  readonly waiters: KeyWaiters;

  /** @param host - the owning index. */
  constructor(host: TransitionHost) {
    this.#host = host;
    this.waiters = new KeyWaiters(host.options.clock);
  }

  get #logger(): Logger {
    return this.#host.options.logger;
  }

  /**
   * Refuses a key that would be written differently from what the caller holds.
   * @param key - the caller's key.
   */
  assertWritableKey(key: unknown): asserts key is string {
    if (typeof key !== "string" || key.length === 0) {
      throw new TypeError("key must be a non-empty string");
    }
    const redacted = redactText(this.#host.options.redactor, key);
    if (redacted !== key) throw new KeyContainsSecretError(redacted);
  }

  /** See `IdempotencyIndex.markPending`. */
  async claim(
    key: string,
    intentSeq: number,
    strategyOrOptions: CompensationStrategy | string | MarkPendingOptions | undefined,
  ): Promise<MarkPendingResult> {
    this.assertWritableKey(key);
    if (!Number.isSafeInteger(intentSeq) || intentSeq < 0) {
      throw new TypeError(`intentSeq must be a non-negative integer (got ${intentSeq})`);
    }
    const options: MarkPendingOptions =
      typeof strategyOrOptions === "string"
        ? isCompensationStrategy(strategyOrOptions)
          ? { strategy: strategyOrOptions }
          : { action: strategyOrOptions }
        : (strategyOrOptions ?? {});
    if (options.strategy !== undefined && !isCompensationStrategy(options.strategy)) {
      throw new TypeError(`strategy must be "safe_retry", "check_then_retry" or "skip"`);
    }
    const { clock, waitTimeoutMs, onPendingConflict, redactor } = this.#host.options;
    const action = options.action ?? actionOfKey(key);
    const strategy = options.strategy ?? this.#host.strategyOf(action);
    const storedAction = redactText(redactor, action);
    const waitUntil = clock.now() + waitTimeoutMs;
    const table = this.#host.table;
    for (;;) {
      await table.settled(key);
      const writer = this.#host.writer();
      const current = table.entries.get(key);
      if (current && current.status !== "pending") {
        return { claimed: false, reason: current.status, entry: current };
      }
      if (current && !options.takeover && !table.released.has(key)) {
        if (onPendingConflict === "skip")
          return { claimed: false, reason: "pending", entry: current };
        if (onPendingConflict === "fail") throw new DuplicateExecutionError(key, current);
        await this.waiters.wait(key, waitUntil, waitTimeoutMs, options.signal);
        continue;
      }
      const now = clock.now();
      const entry: IdempotencyEntry = Object.freeze({
        key,
        status: "pending",
        intentSeq,
        strategy,
        action: storedAction,
        createdAt: current?.createdAt ?? now,
        updatedAt: now,
      });
      const wasLive = table.live.has(key);
      const wasReleased = table.released.delete(key);
      table.live.add(key);
      await table.write(writer, { type: "put", entry }, [key], {
        onFailure: () => {
          if (!wasLive) table.live.delete(key);
          if (wasReleased) table.released.add(key);
        },
      });
      this.#host.afterWrite(writer);
      if (current) {
        this.#logger.info("idempotency: pending key re-claimed", {
          key,
          intentSeq,
          previousIntentSeq: current.intentSeq,
        });
      }
      return { claimed: true, entry };
    }
  }

  /** See `IdempotencyIndex.markCompleted`. */
  complete(key: string, result: unknown): Promise<void> {
    const stored = redactResult(this.#host.options.redactor, result);
    return this.#settlePending(key, "completed", { result: stored });
  }

  /** See `IdempotencyIndex.markFailed`. */
  fail(key: string, error: unknown): Promise<void> {
    const text = redactText(this.#host.options.redactor, describeFailure(error));
    return this.#settlePending(key, "failed", { error: text });
  }

  async #settlePending(
    key: string,
    to: "completed" | "failed",
    detail: { result?: unknown; error?: string },
  ): Promise<void> {
    const table = this.#host.table;
    await table.settled(key);
    const writer = this.#host.writer();
    const current = table.entries.get(key);
    if (current?.status !== "pending") {
      throw new InvalidTransitionError(key, current?.status ?? null, to);
    }
    const entry = withStatus({ ...current, updatedAt: this.#host.options.clock.now() }, to, detail);
    await this.#writeFinal(writer, { type: "put", entry }, key);
  }

  /** See `IdempotencyIndex.settle`. */
  async settle(key: string, settlement: Settlement): Promise<IdempotencyEntry> {
    this.assertWritableKey(key);
    const checked = checkSettlement(settlement);
    const { redactor, clock } = this.#host.options;
    const detail = {
      result: redactResult(redactor, checked.result),
      error: checked.error === undefined ? undefined : redactText(redactor, checked.error),
    };
    const table = this.#host.table;
    await table.settled(key);
    const writer = this.#host.writer();
    const current = table.entries.get(key);
    const now = clock.now();
    const action = checked.action ?? current?.action ?? actionOfKey(key);
    const strategy =
      checked.strategy ??
      (checked.action === undefined && current ? current.strategy : this.#host.strategyOf(action));
    const entry = withStatus(
      {
        key,
        status: checked.status,
        intentSeq: checked.intentSeq ?? current?.intentSeq ?? 0,
        strategy,
        action: redactText(redactor, action),
        createdAt: current?.createdAt ?? now,
        updatedAt: now,
      },
      checked.status,
      detail,
    );
    await this.#writeFinal(writer, { type: "put", entry }, key);
    this.#logger.info("idempotency: key settled", { key, status: entry.status });
    return entry;
  }

  /** See `IdempotencyIndex.reset`. */
  async reset(key: string): Promise<IdempotencyEntry | null> {
    this.assertWritableKey(key);
    const table = this.#host.table;
    await table.settled(key);
    const writer = this.#host.writer();
    const current = table.entries.get(key);
    if (!current) return null;
    await this.#writeFinal(writer, { type: "reset", key }, key);
    this.#logger.info("idempotency: key reset", { key, status: current.status });
    return current;
  }

  /** Writes a record that ends the key's current claim: it is no longer in flight here. */
  async #writeFinal(writer: JournalWriter, draft: JournalDraft, key: string): Promise<void> {
    const table = this.#host.table;
    await table.write(writer, draft, [key], {
      onSuccess: () => {
        table.live.delete(key);
        table.released.delete(key);
        this.waiters.notify(key);
      },
    });
    this.#host.afterWrite(writer);
  }

  /** See `IdempotencyIndex.evict`. */
  async evict(): Promise<number> {
    const writer = this.#host.writer();
    const { clock, ttlMs } = this.#host.options;
    const table = this.#host.table;
    const cutoff = clock.now() - ttlMs;
    const keys: string[] = [];
    for (const entry of table.entries.values()) {
      if (entry.status !== "pending" && entry.updatedAt <= cutoff && !table.isBusy(entry.key)) {
        keys.push(entry.key);
      }
    }
    if (keys.length === 0) return 0;
    await table.write(writer, { type: "evict", keys }, keys);
    this.#host.afterWrite(writer);
    this.#logger.info("idempotency: evicted expired entries", { count: keys.length });
    return keys.length;
  }

  /** See `IdempotencyIndex.reconcilePending`. */
  async reconcile(): Promise<IdempotencyEntry[]> {
    const table = this.#host.table;
    const orphans = [...table.entries.values()].filter(
      (entry) => entry.status === "pending" && !table.live.has(entry.key),
    );
    const needing: IdempotencyEntry[] = [];
    for (const orphan of orphans) {
      const lookup = await this.#lookUpResult(orphan);
      await table.settled(orphan.key);
      const current = table.entries.get(orphan.key);
      if (current?.status !== "pending" || table.live.has(orphan.key)) continue;
      if (lookup && lookup.hasResult !== false) {
        const failed = typeof lookup.error === "string";
        if (failed) await this.fail(orphan.key, lookup.error);
        else await this.complete(orphan.key, lookup.result);
        this.#logger.info(
          `idempotency: pending entry promoted to ${failed ? "failed" : "completed"} from the audit trail`,
          { key: orphan.key },
        );
        continue;
      }
      table.released.add(orphan.key);
      this.waiters.notify(orphan.key);
      needing.push(current);
    }
    return needing;
  }

  async #lookUpResult(orphan: IdempotencyEntry): Promise<AuditResultLookup | null | undefined> {
    const query = this.#host.options.auditQuery;
    if (!query) return null;
    try {
      return typeof query === "function"
        ? await query(orphan.intentSeq)
        : await query.findResultByIntentSeq(orphan.intentSeq);
    } catch (error) {
      this.#logger.warn("idempotency: audit lookup failed; the entry needs compensation", {
        key: orphan.key,
        error,
      });
      return null;
    }
  }
}

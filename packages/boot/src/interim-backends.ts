// What the executor's ports ask of the audit trail and the index that
// today's @beauvoir/audit-trail and @beauvoir/idempotency do not have yet.
// The next versions have these methods themselves; these classes then go.
import { AuditTrail } from "@beauvoir/audit-trail";
import {
  IDEMPOTENCY_INDEX_DEFAULTS,
  IdempotencyIndex,
  type IdempotencyIndexOptions,
} from "@beauvoir/idempotency";
import type { AuditResultByKey, IdempotencyEntryView, IdempotencySettlement } from "./ports.js";

/** The audit trail boot builds: no lookup by key yet, so the index stays the only source. */
export class BootAuditTrail extends AuditTrail {
  /** @returns null: this version keeps no dedupeKey index. */
  async findResultByDedupeKey(_dedupeKey: string): Promise<AuditResultByKey | null> {
    return null;
  }
}

/** The index boot builds, with `settle`, `reset` and `ttlMs` as far as this version allows. */
export class BootIdempotencyIndex extends IdempotencyIndex {
  readonly #ttlMs: number;

  /** @param options - as `new IdempotencyIndex(options)`. */
  constructor(options: IdempotencyIndexOptions) {
    super(options);
    this.#ttlMs = options.ttlMs ?? IDEMPOTENCY_INDEX_DEFAULTS.ttlMs;
  }

  /** How long completed and failed entries are kept. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** A terminal entry, from pending or unknown (this version cannot rewrite a settled one). */
  async settle(key: string, settlement: IdempotencySettlement): Promise<void> {
    const current = await this.check(key);
    if (!current) {
      await this.markPending(key, settlement.intentSeq ?? 0, {
        ...(settlement.action === undefined ? {} : { action: settlement.action }),
        ...(settlement.strategy === undefined ? {} : { strategy: settlement.strategy }),
      });
    } else if (current.status !== "pending") {
      throw new Error(`this @beauvoir/idempotency cannot settle a ${current.status} key again`);
    }
    if (settlement.status === "completed") await this.markCompleted(key, settlement.result);
    else await this.markFailed(key, settlement.error ?? "unknown error");
  }

  /** This version cannot remove a key. */
  async reset(key: string): Promise<IdempotencyEntryView | null> {
    throw new Error(`this @beauvoir/idempotency cannot reset ${key}: it has no reset()`);
  }
}

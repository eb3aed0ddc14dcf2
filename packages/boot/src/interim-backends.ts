// What the executor's ports ask of the index that the @beauvoir/idempotency
// on main does not have yet. Its next version has these methods itself; this
// file then goes.
import {
  type AuditQuery,
  IDEMPOTENCY_INDEX_DEFAULTS,
  IdempotencyIndex,
  type IdempotencyIndexOptions,
  type MarkPendingOptions,
  type MarkPendingResult,
} from "@beauvoir/idempotency";
import type { IdempotencyEntryView, IdempotencySettlement } from "./ports.js";
import { recordedVerdict } from "./recorded-verdict.js";

/**
 * The index boot builds, with `settle`, `reset` and `ttlMs` as far as this
 * version allows: `reset` of a pending key releases it in memory (the next
 * claim takes it over), and after a restart the audit trail's runnable codes
 * (`RETRYING`, `NOT_SENT`, …) keep such a key from being settled as failed.
 */
export class BootIdempotencyIndex extends IdempotencyIndex {
  readonly #ttlMs: number;
  readonly #released = new Set<string>();

  /** @param options - as `new IdempotencyIndex(options)`. */
  constructor(options: IdempotencyIndexOptions) {
    super({
      ...options,
      ...(options.auditQuery ? { auditQuery: hidingRunnableResults(options.auditQuery) } : {}),
    });
    this.#ttlMs = options.ttlMs ?? IDEMPOTENCY_INDEX_DEFAULTS.ttlMs;
  }

  /** How long completed and failed entries are kept. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** A released key is unknown until claimed again. */
  override async check(key: string) {
    return this.#released.has(key) ? null : super.check(key);
  }

  /** A released key is taken over by the next claim. */
  override async markPending(
    key: string,
    intentSeq: number,
    options?: MarkPendingOptions | string,
  ): Promise<MarkPendingResult> {
    const takeover = this.#released.delete(key);
    const given = typeof options === "string" ? { action: options } : (options ?? {});
    return super.markPending(key, intentSeq, takeover ? { ...given, takeover: true } : given);
  }

  /** A terminal entry, from pending or unknown (this version cannot rewrite a settled one). */
  async settle(key: string, settlement: IdempotencySettlement): Promise<void> {
    const current = await this.check(key);
    if (!current || this.#released.has(key)) {
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

  /** Releases a pending key; this version cannot remove a settled one. */
  async reset(key: string): Promise<IdempotencyEntryView | null> {
    const current = await super.check(key);
    if (!current) return null;
    if (current.status !== "pending") {
      throw new Error(`this @beauvoir/idempotency cannot reset a ${current.status} key`);
    }
    this.#released.add(key);
    return current;
  }
}

/** The index settles a pending key from its audit result; a runnable one is left to the executor. */
function hidingRunnableResults(query: AuditQuery): AuditQuery {
  const lookup = (intentSeq: number) =>
    typeof query === "function" ? query(intentSeq) : query.findResultByIntentSeq(intentSeq);
  return async (intentSeq: number) => {
    const found = await lookup(intentSeq);
    return found && typeof found.error === "string" && recordedVerdict(found) === "runnable"
      ? null
      : found;
  };
}

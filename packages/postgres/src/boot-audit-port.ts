import type {
  AuditIntentInput,
  AuditPendingIntent,
  AuditResultByKey,
  AuditTrailPort,
} from "@beauvoir/boot";
import type { PostgresAuditTrail } from "./audit-trail.js";

/**
 * `@beauvoir/boot`'s audit trail on PostgreSQL: the shared history's writing
 * side. Record ids stand where the file trail has seqs (the sealer assigns
 * seqs later); the open intents boot closes are only those written outside a
 * step by replicas whose lease ended (a step's intent is closed with its key).
 */
export class PostgresAuditPort implements AuditTrailPort {
  readonly #audit: PostgresAuditTrail;
  readonly #verify: () => Promise<{ valid: boolean; records: number }>;

  /**
   * @internal Made by the backend's `open()`.
   * @param audit - the history's writer.
   * @param verify - seals, exports and verifies the history.
   */
  constructor(
    audit: PostgresAuditTrail,
    verify: () => Promise<{ valid: boolean; records: number }>,
  ) {
    this.#audit = audit;
    this.#verify = verify;
  }

  recordIntent(input: AuditIntentInput): Promise<number> {
    return this.#audit.recordIntent(input);
  }

  recordResult(intentSeq: number, result: unknown, error?: string): Promise<number> {
    return this.#audit.recordResult(intentSeq, result, error);
  }

  recordDenied(input: {
    action: string;
    target: string;
    params: Record<string, unknown>;
    reason?: string;
  }): Promise<number> {
    return this.#audit.recordDenied(input);
  }

  recordDryRun(input: {
    action: string;
    target: string;
    params: Record<string, unknown>;
  }): Promise<number> {
    return this.#audit.recordDryRun(input);
  }

  async getPendingIntents(): Promise<AuditPendingIntent[]> {
    return (await this.#audit.getAbandonedIntents()).map((intent) => ({
      seq: intent.id,
      action: intent.action,
      target: intent.target,
      params: intent.params,
      dedupeKey: intent.dedupeKey,
    }));
  }

  async findResultByIntentSeq(
    intentSeq: number,
  ): Promise<{ result?: unknown; error?: string | undefined } | null> {
    const found = await this.#audit.findResultByIntent(intentSeq);
    if (found === null) return null;
    return {
      ...(found.result === undefined ? {} : { result: found.result }),
      ...(found.error === undefined ? {} : { error: found.error }),
    };
  }

  async findResultByDedupeKey(dedupeKey: string): Promise<AuditResultByKey | null> {
    const found = await this.#audit.findResultByDedupeKey(dedupeKey);
    if (found === null) return null;
    return {
      intentSeq: found.intentId,
      ts: found.ts,
      ...(found.result === undefined ? {} : { result: found.result }),
      ...(found.error === undefined ? {} : { error: found.error }),
    };
  }

  /** Seals what is written, exports the history and checks it as `verifyAuditFile` does. */
  verifyChain(): Promise<{ valid: boolean; records: number }> {
    return this.#verify();
  }

  /** The backend's `stop()` ends the history's writing; nothing to do here. */
  async close(): Promise<void> {}
}

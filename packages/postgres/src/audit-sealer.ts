import { delay } from "@beauvoir/core";
import { buildSealedLine, type SealableRecord } from "./audit-line.js";
import { positive } from "./connection-options.js";
import { LeaseLostError, LockHeldError, StaleFenceError } from "./errors.js";
import type { PostgresLockHandle } from "./lock-handle.js";
import type { PostgresLockManager } from "./lock-manager.js";
import type { Queryable } from "./queryable.js";
import type { StatementRunner } from "./statement-runner.js";

/** Options of the {@link AuditSealer}. */
export interface AuditSealerOptions {
  /** Records sealed per transaction. @default 1_000 */
  batchSize?: number;
  /** Pause between polls when nothing is waiting to be sealed. @default 50 */
  idleIntervalMs?: number;
  /** Lease of the sealer lock; a replica that dies as sealer is replaced after it. @default 10_000 */
  leaseTtlMs?: number;
  /** HMAC-SHA256 key every sealed record is signed with (a string is used as UTF-8). */
  hmacKey?: Uint8Array;
}

/**
 * Defaults of {@link AuditSealerOptions}.
 * @example
 * ```ts
 * createPostgresBackend({ pool, sealer: { batchSize: AUDIT_SEALER_DEFAULTS.batchSize * 2 } });
 * ```
 */
export const AUDIT_SEALER_DEFAULTS = Object.freeze({
  batchSize: 1_000,
  idleIntervalMs: 50,
  leaseTtlMs: 10_000,
});

/** The name of the lock whose holder seals. */
export const AUDIT_SEALER_LOCK = "beauvoir:audit-sealer";

interface HeadRow {
  seq: string;
  last_hash: string;
  sealer_fence: string;
}

interface UnsealedRow extends SealableRecord {
  intent_seq: string | null;
}

/**
 * Gives unsealed audit records their place in the one chain: `seq`,
 * `prevHash`, `hash` (and `hmac`) and the exact JSONL line, in batches, each
 * batch in one transaction that locks the chain's head row. Only the holder of
 * the sealer lock seals, and the head row remembers the highest sealer fence it
 * has seen, so a sealer that lost its lease while paused cannot fork the chain.
 * Writers never wait for it.
 */
export class AuditSealer {
  readonly #runner: StatementRunner;
  readonly #schema: string;
  readonly #locks: PostgresLockManager;
  readonly #batchSize: number;
  readonly #idleMs: number;
  readonly #leaseTtlMs: number;
  readonly #hmacKey: Uint8Array | undefined;
  #loop: Promise<void> | undefined;
  #stopping: AbortController | undefined;
  #lock: PostgresLockHandle | undefined;

  /**
   * @internal Made by the backend (or its factory), which passes these in.
   * @param runner - how statements are sent.
   * @param schema - the quoted schema.
   * @param locks - where the sealer lock is taken.
   * @param options - batch size, poll interval, lease, key.
   */
  constructor(
    runner: StatementRunner,
    schema: string,
    locks: PostgresLockManager,
    options: AuditSealerOptions = {},
  ) {
    this.#runner = runner;
    this.#schema = schema;
    this.#locks = locks;
    const batchSize = options.batchSize ?? AUDIT_SEALER_DEFAULTS.batchSize;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`sealer.batchSize must be a positive integer, got ${batchSize}`);
    }
    this.#batchSize = batchSize;
    this.#idleMs = positive(
      options.idleIntervalMs ?? AUDIT_SEALER_DEFAULTS.idleIntervalMs,
      "sealer.idleIntervalMs",
    );
    this.#leaseTtlMs = positive(
      options.leaseTtlMs ?? AUDIT_SEALER_DEFAULTS.leaseTtlMs,
      "sealer.leaseTtlMs",
    );
    this.#hmacKey = options.hmacKey;
  }

  /** Starts competing for the sealer lock and sealing while holding it. Calling it again does nothing. */
  start(): void {
    if (this.#loop !== undefined) return;
    this.#stopping = new AbortController();
    this.#loop = this.#run(this.#stopping.signal);
  }

  /** Stops sealing and releases the sealer lock. */
  async stop(): Promise<void> {
    this.#stopping?.abort();
    await this.#loop;
    this.#loop = undefined;
    await this.#lock?.release({ maxAttempts: 2 }).catch(() => false);
    this.#lock = undefined;
  }

  /**
   * Makes sure every record written before this call is sealed: seals them
   * itself when it holds, or can take, the sealer lock; otherwise waits for
   * the replica that holds it to seal them.
   * @param waitMs - how long to wait for that. @default the sealer lock's lease
   * @returns how many records this call sealed itself.
   * @throws {@link LockHeldError} when another sealer holds the lock and has not
   *   sealed them within `waitMs`.
   */
  async sealPending(waitMs = this.#leaseTtlMs): Promise<number> {
    const { clock } = this.#runner.settings;
    const giveUpAt = clock.now() + waitMs;
    const { rows } = await this.#runner.run<{ last: string | null }>(
      "audit.sealPending",
      `SELECT max(id)::text AS last FROM ${this.#schema}.audit_records`,
      [],
    );
    const last = rows[0]?.last ?? null;
    for (;;) {
      const held = this.#lock?.held ? this.#lock : undefined;
      let lock = held;
      let heldBy: LockHeldError | undefined;
      if (lock === undefined) {
        try {
          lock = await this.#locks.acquire(AUDIT_SEALER_LOCK, { ttlMs: this.#leaseTtlMs });
        } catch (error) {
          if (!LockHeldError.isInstance(error)) throw error;
          heldBy = error;
        }
      }
      if (lock !== undefined) {
        try {
          let total = 0;
          for (;;) {
            const sealed = await this.sealBatch(lock);
            total += sealed;
            if (sealed < this.#batchSize) return total;
          }
        } finally {
          if (held === undefined) await lock.release();
        }
      }
      if (last === null || (await this.#sealedThrough(last))) return 0;
      if (clock.now() >= giveUpAt) throw heldBy!;
      await delay(this.#idleMs, { clock });
    }
  }

  async #sealedThrough(id: string): Promise<boolean> {
    const { rows } = await this.#runner.run<{ done: boolean }>(
      "audit.sealPending",
      `SELECT NOT EXISTS (SELECT 1 FROM ${this.#schema}.audit_records WHERE seq IS NULL AND id <= $1) AS done`,
      [id],
    );
    return rows[0]?.done ?? false;
  }

  /**
   * Seals one batch (the oldest unsealed records by id) in one transaction.
   * Safe to repeat after an unknown outcome: it rereads the head.
   * @param lock - the held sealer lock.
   * @returns how many records were sealed.
   * @throws {@link StaleFenceError} when a sealer with a higher fence has sealed since.
   */
  sealBatch(lock: PostgresLockHandle): Promise<number> {
    return this.#runner.transaction(
      "audit.seal",
      (transaction) => this.#sealIn(transaction, lock.fence),
      { signal: lock.signal },
    );
  }

  async #sealIn(transaction: Queryable, fence: number): Promise<number> {
    const s = this.#schema;
    const head = (
      await transaction.query<HeadRow>({
        text: `SELECT seq::text, last_hash, sealer_fence::text FROM ${s}.audit_head FOR UPDATE`,
      })
    ).rows[0]!;
    const highest = Number(head.sealer_fence);
    if (highest > fence) throw new StaleFenceError("audit_head", fence, highest);
    const { rows } = await transaction.query<UnsealedRow>({
      text: `SELECT r.id::text, r.phase, r.ts, r.action, r.target, r.params, r.dedupe_key, r.result,
                    r.error, r.dry_run, r.intent_id::text, i.seq::text AS intent_seq
               FROM ${s}.audit_records r LEFT JOIN ${s}.audit_records i ON i.id = r.intent_id
              WHERE r.seq IS NULL ORDER BY r.id LIMIT $1`,
      values: [this.#batchSize],
    });
    let seq = Number(head.seq);
    let prevHash = head.last_hash;
    const sealedSeqs = new Map<string, number>();
    const ids: string[] = [];
    const seqs: number[] = [];
    const hashes: string[] = [];
    const lines: string[] = [];
    for (const row of rows) {
      let intentSeq: number | undefined;
      if (row.intent_id !== null) {
        intentSeq =
          row.intent_seq === null ? sealedSeqs.get(row.intent_id) : Number(row.intent_seq);
        // A result goes after its intent. Its intent committed before it was
        // written, so it is sealed or earlier in this batch; stop here if not.
        if (intentSeq === undefined) break;
      }
      seq++;
      const sealed = buildSealedLine(row, seq, prevHash, intentSeq, this.#hmacKey);
      sealedSeqs.set(row.id, seq);
      ids.push(row.id);
      seqs.push(seq);
      hashes.push(sealed.hash);
      lines.push(sealed.line);
      prevHash = sealed.hash;
    }
    if (ids.length === 0) return 0;
    await transaction.query({
      text: `UPDATE ${s}.audit_records r SET seq = u.seq, hash = u.hash, line = u.line
               FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS u (id, seq, hash, line)
              WHERE r.id = u.id AND r.seq IS NULL`,
      values: [ids, seqs, hashes, lines],
    });
    await transaction.query({
      text: `UPDATE ${s}.audit_head SET seq = $1, last_hash = $2, sealer_fence = $3, updated_at = now()`,
      values: [seq, prevHash, fence],
    });
    return ids.length;
  }

  async #run(stopping: AbortSignal): Promise<void> {
    const { logger, clock } = this.#runner.settings;
    while (!stopping.aborted) {
      try {
        if (!this.#lock?.held) {
          this.#lock = undefined;
          this.#lock = await this.#locks.acquire(AUDIT_SEALER_LOCK, { ttlMs: this.#leaseTtlMs });
        }
        const sealed = await this.sealBatch(this.#lock);
        if (sealed < this.#batchSize) {
          await delay(this.#idleMs, { signal: stopping, clock, unref: true });
        }
      } catch (error) {
        // A replica without a lease never seals again; a live one takes over.
        if (stopping.aborted || LeaseLostError.isInstance(error)) break;
        if (!LockHeldError.isInstance(error)) {
          logger.warn("Audit sealing failed; trying again", { error });
        }
        if (StaleFenceError.isInstance(error)) {
          await this.#lock?.release().catch(() => false);
          this.#lock = undefined;
        }
        await delay(LockHeldError.isInstance(error) ? this.#leaseTtlMs / 4 : this.#idleMs * 4, {
          signal: stopping,
          clock,
          unref: true,
        }).catch(() => {});
      }
    }
  }
}

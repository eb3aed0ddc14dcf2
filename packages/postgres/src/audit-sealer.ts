import type { KeyObject } from "node:crypto";
import { delay } from "@beauvoir/core";
import { buildSealedLine, type SealableRecord } from "./audit-line.js";
import { signCheckpoint } from "./checkpoint.js";
import { positive } from "./connection-options.js";
import { LeaseLostError, LockHeldError, StaleFenceError } from "./errors.js";
import type { PostgresLockHandle } from "./lock-handle.js";
import type { PostgresLockManager } from "./lock-manager.js";
import { MerkleFrontier } from "./merkle-tree.js";
import type { Queryable } from "./queryable.js";
import type { StatementRunner } from "./statement-runner.js";

/** Options of the {@link AuditSealer}. */
export interface AuditSealerOptions {
  /** Records sealed per transaction. @default 1_000 */
  batchSize?: number | undefined;
  /** Pause between polls when nothing is waiting to be sealed. @default 50 */
  idleIntervalMs?: number | undefined;
  /** Lease of the sealer lock; a replica that dies as sealer is replaced after it. @default 10_000 */
  leaseTtlMs?: number | undefined;
  /** HMAC-SHA256 key every sealed record is signed with (a string is used as UTF-8). */
  hmacKey?: Uint8Array | undefined;
  /** Signed Merkle checkpoints of the sealed history; see {@link AuditCheckpointOptions}. */
  checkpoints?: AuditCheckpointOptions | undefined;
}

/**
 * Signed checkpoints: every `every` sealed records, the sealer signs the RFC
 * 6962 Merkle root of the whole history so far as a C2SP checkpoint note,
 * stores it (`audit_checkpoints`) and hands it to `onCheckpoint`, whose job is
 * to keep a copy outside the database. Give every replica the same options.
 */
export interface AuditCheckpointOptions {
  /** The Ed25519 private key the sealer signs with. */
  privateKey: KeyObject;
  /** The log's name in the checkpoint, e.g. `example.com/bot/audit`. */
  origin: string;
  /** The signer's name in the signature line. @default origin */
  keyName?: string | undefined;
  /** Sealed records between two checkpoints. @default 1_000 */
  every?: number | undefined;
  /**
   * Receives each checkpoint once it is committed (at least once per sealing
   * replica; one that fails is handed out again after the next batch).
   */
  onCheckpoint?: ((checkpoint: SignedCheckpoint) => void | Promise<void>) | undefined;
}

/** A checkpoint as stored and handed out. */
export interface SignedCheckpoint {
  /** Records covered: seq 1 to `treeSize`. */
  treeSize: number;
  /** The Merkle root, lowercase hex. */
  rootHash: string;
  /** The signed note (C2SP checkpoint text, blank line, signature line). */
  note: string;
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
  tree_frontier: string;
  checkpoint_size: string;
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
  readonly #checkpoints: (AuditCheckpointOptions & { every: number }) | undefined;
  /** The last checkpoint handed to `onCheckpoint`. */
  #delivered: number | undefined;
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
    const checkpoints = options.checkpoints;
    if (checkpoints !== undefined) {
      const every = checkpoints.every ?? 1_000;
      if (!Number.isInteger(every) || every < 1) {
        throw new RangeError(`checkpoints.every must be a positive integer, got ${every}`);
      }
      if (checkpoints.privateKey?.asymmetricKeyType !== "ed25519") {
        throw new TypeError("checkpoints.privateKey must be an Ed25519 private KeyObject");
      }
      if (
        checkpoints.onCheckpoint !== undefined &&
        typeof checkpoints.onCheckpoint !== "function"
      ) {
        throw new TypeError("checkpoints.onCheckpoint must be a function");
      }
      // Fails now, not in the first batch, on a bad origin or key name.
      signCheckpoint(
        { origin: checkpoints.origin, treeSize: 0, rootHash: new MerkleFrontier().root() },
        checkpoints.privateKey,
        checkpoints.keyName,
      );
      this.#checkpoints = { ...checkpoints, every };
    }
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

  async #anyUnsealed(signal: AbortSignal): Promise<boolean> {
    const { rows } = await this.#runner.run<{ pending: boolean }>(
      "audit.seal",
      `SELECT EXISTS (SELECT 1 FROM ${this.#schema}.audit_records WHERE seq IS NULL) AS pending`,
      [],
      { signal },
    );
    return rows[0]?.pending === true;
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
   * @param signal - stops resending (the batch may still have committed: it is rechecked next time).
   * @returns how many records were sealed.
   * @throws {@link StaleFenceError} when a sealer with a higher fence has sealed since.
   */
  async sealBatch(lock: PostgresLockHandle, signal?: AbortSignal): Promise<number> {
    const delivering = this.#checkpoints?.onCheckpoint !== undefined;
    if (delivering && this.#delivered === undefined) {
      this.#delivered = (await this.checkpoints()).at(-1)?.treeSize ?? 0;
    }
    const options = {
      signal: signal === undefined ? lock.signal : AbortSignal.any([lock.signal, signal]),
    };
    // Locking the head row gives the transaction an id, so its commit is a
    // synchronous WAL flush: an idle sealer polling every idleIntervalMs would
    // flush that often for nothing, competing with the steps' commits.
    const sealed = (await this.#anyUnsealed(options.signal))
      ? await this.#runner.transaction(
          "audit.seal",
          (transaction) => this.#sealIn(transaction, lock.fence),
          options,
        )
      : 0;
    if (delivering) await this.#deliver();
    return sealed;
  }

  /**
   * The stored checkpoints, oldest first.
   * @param afterSize - only those covering more records than this. @default 0
   */
  async checkpoints(afterSize = 0): Promise<SignedCheckpoint[]> {
    const { rows } = await this.#runner.run<{ tree_size: string; root_hash: string; note: string }>(
      "audit.checkpoints",
      `SELECT c.tree_size::text AS tree_size, c.root_hash, c.note FROM ${this.#schema}.audit_checkpoints c
        WHERE c.tree_size > $1 ORDER BY c.tree_size`,
      [afterSize],
    );
    return rows.map((row) => ({
      treeSize: Number(row.tree_size),
      rootHash: row.root_hash,
      note: row.note,
    }));
  }

  async #deliver(): Promise<void> {
    const { onCheckpoint } = this.#checkpoints!;
    for (const checkpoint of await this.checkpoints(this.#delivered)) {
      try {
        await onCheckpoint!(checkpoint);
      } catch (error) {
        this.#runner.settings.logger.warn(
          "onCheckpoint failed; the checkpoint is handed out again later",
          {
            treeSize: checkpoint.treeSize,
            error,
          },
        );
        return;
      }
      this.#delivered = checkpoint.treeSize;
    }
  }

  async #sealIn(transaction: Queryable, fence: number): Promise<number> {
    const s = this.#schema;
    const head = (
      await transaction.query<HeadRow>({
        text: `SELECT seq::text, last_hash, sealer_fence::text, tree_frontier, checkpoint_size::text
                 FROM ${s}.audit_head FOR UPDATE`,
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
    const frontier = MerkleFrontier.fromJSON(seq, JSON.parse(head.tree_frontier) as string[]);
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
      frontier.append(Buffer.from(sealed.line, "utf8"));
      prevHash = sealed.hash;
    }
    if (ids.length === 0) return 0;
    await transaction.query({
      text: `UPDATE ${s}.audit_records r SET seq = u.seq, hash = u.hash, line = u.line
               FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS u (id, seq, hash, line)
              WHERE r.id = u.id AND r.seq IS NULL`,
      values: [ids, seqs, hashes, lines],
    });
    let checkpointSize = Number(head.checkpoint_size);
    const checkpoints = this.#checkpoints;
    if (checkpoints !== undefined && seq - checkpointSize >= checkpoints.every) {
      const rootHash = frontier.root();
      const note = signCheckpoint(
        { origin: checkpoints.origin, treeSize: seq, rootHash },
        checkpoints.privateKey,
        checkpoints.keyName,
      );
      await transaction.query({
        text: `INSERT INTO ${s}.audit_checkpoints (tree_size, root_hash, note, created_at)
               VALUES ($1, $2, $3, now())`,
        values: [seq, rootHash.toString("hex"), note],
      });
      checkpointSize = seq;
    }
    await transaction.query({
      text: `UPDATE ${s}.audit_head SET seq = $1, last_hash = $2, sealer_fence = $3,
               tree_frontier = $4, checkpoint_size = $5, updated_at = now()`,
      values: [seq, prevHash, fence, JSON.stringify(frontier.toJSON()), checkpointSize],
    });
    return ids.length;
  }

  async #run(stopping: AbortSignal): Promise<void> {
    const { logger, clock } = this.#runner.settings;
    while (!stopping.aborted) {
      try {
        if (!this.#lock?.held) {
          this.#lock = undefined;
          this.#lock = await this.#locks.acquire(AUDIT_SEALER_LOCK, {
            ttlMs: this.#leaseTtlMs,
            signal: stopping,
          });
        }
        const sealed = await this.sealBatch(this.#lock, stopping);
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

import { randomUUID } from "node:crypto";
import { delay } from "@beauvoir/core";
import { positive } from "./connection-options.js";
import { LeaseLostError, LockHeldError } from "./errors.js";
import type { InstanceLease } from "./instance-lease.js";
import { PostgresLockHandle } from "./lock-handle.js";
import type { StatementRunner } from "./statement-runner.js";

/** Options of {@link PostgresLockManager}. */
export interface PostgresLockManagerOptions {
  /** Default lease of a lock, on the database clock. @default 30_000 */
  ttlMs?: number | undefined;
  /** Between two tries while waiting for a held lock. @default 100 */
  pollIntervalMs?: number | undefined;
}

/** Per-call options of {@link PostgresLockManager.acquire}. */
export interface AcquireOptions {
  /** The lease of this grant. @default the manager's ttlMs */
  ttlMs?: number | undefined;
  /** How long to wait for a held lock; `0` tries once. @default 0 */
  waitMs?: number | undefined;
  /** Stops waiting; rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * Renew the lease in the background every third of the ttl while held.
   * Without it, call {@link PostgresLockHandle.renew} yourself.
   * @default true
   */
  autoRenew?: boolean | undefined;
}

/**
 * Defaults of {@link PostgresLockManagerOptions}.
 * @example
 * ```ts
 * backend.locks.acquire("nightly", { ttlMs: LOCK_MANAGER_DEFAULTS.ttlMs / 3 });
 * ```
 */
export const LOCK_MANAGER_DEFAULTS = Object.freeze({ ttlMs: 30_000, pollIntervalMs: 100 });

interface GrantRow {
  outcome: "granted" | "held";
  fence: string;
  expires_at: Date;
  instance_id: string;
  live: boolean;
}

/**
 * Named locks shared by every replica, leased on the database clock and carrying
 * a fencing token. Each grant takes a new value from one sequence, so fences
 * strictly increase across grants of a lock, and a grant happens only when the
 * previous holder's lease has ended at the database's `now()`: at most one
 * unexpired holder exists at any database instant. A holder that was paused
 * past its lease is fenced out: whatever it writes with its (lower) fence to a
 * fenced resource is refused. These are not session advisory locks, which
 * vanish with a connection and carry no token.
 */
export class PostgresLockManager {
  readonly #runner: StatementRunner;
  readonly #schema: string;
  readonly #instance: InstanceLease;
  readonly #ttlMs: number;
  readonly #pollMs: number;
  readonly #held = new Set<PostgresLockHandle>();

  /**
   * @internal Made by the backend (or its factory), which passes these in.
   * @param runner - how statements are sent.
   * @param schema - the quoted schema.
   * @param instance - the lease every grant belongs to.
   * @param options - default ttl, poll interval.
   */
  constructor(
    runner: StatementRunner,
    schema: string,
    instance: InstanceLease,
    options: PostgresLockManagerOptions = {},
  ) {
    this.#runner = runner;
    this.#schema = schema;
    this.#instance = instance;
    this.#ttlMs = positive(options.ttlMs ?? LOCK_MANAGER_DEFAULTS.ttlMs, "locks.ttlMs");
    this.#pollMs = positive(
      options.pollIntervalMs ?? LOCK_MANAGER_DEFAULTS.pollIntervalMs,
      "locks.pollIntervalMs",
    );
  }

  /**
   * Takes the lock `name`, waiting up to `waitMs` for its holder's lease to end.
   * @param name - any non-empty string.
   * @param options - ttl, wait, signal, autoRenew.
   * @returns the held lock: `fence`, `expiresAt`, `signal` (aborted when it is lost), `renew()`, `release()`.
   * @throws {@link LockHeldError} when it is still held after `waitMs`.
   * @throws {@link LeaseLostError} when this instance has no live lease.
   * @throws {@link DatabaseUnavailableError}; the signal's reason on abort.
   * @example
   * ```ts
   * await using lock = await backend.locks.acquire("nightly-sync", { waitMs: 5_000 });
   * await store.set(state, { fence: lock.fence });
   * ```
   */
  async acquire(name: string, options: AcquireOptions = {}): Promise<PostgresLockHandle> {
    if (typeof name !== "string" || name.length === 0) {
      throw new TypeError("lock name must be a non-empty string");
    }
    const ttlMs = positive(options.ttlMs ?? this.#ttlMs, "ttlMs");
    const waitMs = options.waitMs ?? 0;
    if (typeof waitMs !== "number" || Number.isNaN(waitMs) || waitMs < 0) {
      throw new RangeError(`waitMs must be a non-negative number, got ${String(waitMs)}`);
    }
    const { clock } = this.#runner.settings;
    const giveUpAt = clock.now() + waitMs;
    const holderId = randomUUID();
    // Waiting ends with the instance's lease too: a replica without one takes nothing.
    const signal = withLease(this.#instance, options.signal);
    for (;;) {
      options.signal?.throwIfAborted();
      this.#instance.assertLive();
      const sentAt = this.#runner.settings.monotonicNow();
      const row = await this.#tryGrant(name, holderId, ttlMs, signal).catch((error: unknown) => {
        this.#instance.assertLive();
        throw error;
      });
      if (row.outcome === "granted") {
        const handle = new PostgresLockHandle({
          runner: this.#runner,
          schema: this.#schema,
          instance: this.#instance,
          name,
          holderId,
          fence: Number(row.fence),
          expiresAt: row.expires_at,
          ttlMs,
          sentAt,
          autoRenew: options.autoRenew ?? true,
          onEnd: (ended) => this.#held.delete(ended),
        });
        this.#held.add(handle);
        return handle;
      }
      if (!row.live) throw new LeaseLostError(this.#instance.id, "expired");
      const now = clock.now();
      if (now >= giveUpAt) throw new LockHeldError(name, row.instance_id, row.expires_at);
      await delay(Math.min(this.#pollMs, giveUpAt - now), { signal, clock });
    }
  }

  /**
   * Releases every lock this manager still holds; one that cannot be released
   * runs out by itself.
   * @param options - `maxAttempts` per release.
   * @returns how many were released.
   */
  async releaseAll(options: { maxAttempts?: number } = {}): Promise<number> {
    const released = await Promise.all(
      [...this.#held].map((handle) => handle.release(options).catch(() => false)),
    );
    return released.filter(Boolean).length;
  }

  /**
   * Deletes lock rows whose lease ended more than `olderThanMs` ago. Expired
   * locks need no recovery to be taken (a grant replaces them); this only keeps
   * the table small. Fences stay increasing: they come from a sequence.
   * @param olderThanMs - age past expiry. @default 3_600_000
   * @returns how many rows were deleted.
   */
  async recoverStaleLocks(olderThanMs = 3_600_000): Promise<{ recovered: number }> {
    const { rowCount } = await this.#runner.run(
      "lock.prune",
      `DELETE FROM ${this.#schema}.locks WHERE expires_at < now() - $1 * interval '1 millisecond'`,
      [Math.ceil(positive(olderThanMs, "olderThanMs"))],
    );
    return { recovered: rowCount ?? 0 };
  }

  /** The locks this manager holds now. */
  get held(): readonly PostgresLockHandle[] {
    return [...this.#held];
  }

  async #tryGrant(
    name: string,
    holderId: string,
    ttlMs: number,
    signal: AbortSignal | undefined,
  ): Promise<GrantRow> {
    const s = this.#schema;
    for (;;) {
      // The grant condition compares with the database's now() only. A resend
      // after a lost reply finds its own grant by holder id.
      const { rows } = await this.#runner.run<GrantRow>(
        "lock.acquire",
        `WITH me AS (
           SELECT id FROM ${s}.instances
           WHERE id = $2 AND stopped_at IS NULL AND lease_expires_at > now()
         ),
         granted AS (
           INSERT INTO ${s}.locks AS l (name, holder_id, instance_id, fence, acquired_at, expires_at)
           SELECT $1, $3, me.id, nextval('${s}.fence_seq'), now(), now() + $4 * interval '1 millisecond'
           FROM me
           ON CONFLICT (name) DO UPDATE
             SET holder_id = EXCLUDED.holder_id, instance_id = EXCLUDED.instance_id,
                 fence = EXCLUDED.fence, acquired_at = EXCLUDED.acquired_at,
                 expires_at = EXCLUDED.expires_at
             WHERE l.expires_at <= now() AND l.fence < EXCLUDED.fence
           RETURNING fence, expires_at
         )
         SELECT 'granted' AS outcome, fence::text AS fence, expires_at, $2::uuid AS instance_id, true AS live
           FROM granted
         UNION ALL
         SELECT CASE WHEN l.holder_id = $3 THEN 'granted' ELSE 'held' END, l.fence::text, l.expires_at,
                l.instance_id, EXISTS (SELECT 1 FROM me)
           FROM ${s}.locks l
          WHERE l.name = $1 AND NOT EXISTS (SELECT 1 FROM granted)
         UNION ALL
         SELECT 'held', NULL, NULL, NULL, false
          WHERE NOT EXISTS (SELECT 1 FROM me) AND NOT EXISTS (SELECT 1 FROM granted)`,
        [name, this.#instance.id, holderId, Math.ceil(ttlMs)],
        { signal },
      );
      const row = rows.find((candidate) => candidate.outcome === "granted") ?? rows[0];
      if (row !== undefined) return row;
      // No grant and no row in this statement's snapshot: either the instance
      // is not live, or a concurrent grant committed after the snapshot. Ask again.
      this.#instance.assertLive();
      await delay(Math.min(this.#pollMs, 20), { signal, clock: this.#runner.settings.clock });
    }
  }
}

/** @internal The caller's signal combined with the instance's (aborted when its lease is lost). */
export function withLease(instance: InstanceLease, signal: AbortSignal | undefined): AbortSignal {
  return signal === undefined ? instance.signal : AbortSignal.any([signal, instance.signal]);
}

import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { hostname } from "node:os";
import type { TimerHandle } from "@beauvoir/core";
import { positive } from "./connection-options.js";
import { LeaseLostError, type LeaseLostReason } from "./errors.js";
import type { PoolClientLike } from "./queryable.js";
import type { StatementRunner } from "./statement-runner.js";

/** Options of an {@link InstanceLease}. */
export interface InstanceLeaseOptions {
  /** How long a renewal keeps the lease, on the database clock. @default 30_000 */
  ttlMs?: number | undefined;
  /** Time between renewals. @default ttlMs / 3 */
  heartbeatIntervalMs?: number | undefined;
  /**
   * The instance gives its lease up locally this long before the database
   * could consider it expired (measured from when the last confirmed renewal
   * was sent), so its steps stop before another replica may take over.
   * @default min(ttlMs / 4, 2_000)
   */
  safetyMarginMs?: number | undefined;
  /** A label for operators, e.g. a pod name. @default `${hostname()}:${process.pid}` */
  name?: string | undefined;
  /** The instance's id. @default a random UUID */
  instanceId?: string | undefined;
}

/**
 * Defaults of {@link InstanceLeaseOptions}.
 * @example
 * ```ts
 * createPostgresBackend({ pool, instance: { ttlMs: INSTANCE_LEASE_DEFAULTS.ttlMs * 2 } });
 * ```
 */
export const INSTANCE_LEASE_DEFAULTS = Object.freeze({ ttlMs: 30_000 });

type LeaseState = "new" | "live" | "lost";

/**
 * A replica's registration in the `instances` table, kept alive by a heartbeat
 * on its own connection. The lease is computed on the database clock only
 * (`now() + ttl` in SQL); locally the instance only measures how long ago it
 * sent its last confirmed renewal, so replicas whose clocks disagree behave the
 * same. When no renewal is confirmed before the local deadline (or the
 * database says the lease is gone), {@link InstanceLease.signal} aborts with
 * {@link LeaseLostError}: in-flight steps hang off it, and nothing more is claimed.
 */
export class InstanceLease {
  /** The instance's id (a UUID), the owner of the keys and locks it claims. */
  readonly id: string;
  /** The operator label. */
  readonly name: string;
  /** The lease duration. */
  readonly ttlMs: number;
  readonly #runner: StatementRunner;
  readonly #schema: string;
  readonly #intervalMs: number;
  readonly #marginMs: number;
  readonly #controller = new AbortController();
  #state: LeaseState = "new";
  #deadline = 0;
  #expiresAt: Date | null = null;
  #connection: PoolClientLike | undefined;
  #dropConnection: ((error?: Error) => void) | undefined;
  #beatTimer: TimerHandle | undefined;
  #deadlineTimer: TimerHandle | undefined;
  #beating: Promise<void> | undefined;

  /**
   * @internal Made by the backend (or its factory), which passes these in.
   * @param runner - how statements are sent.
   * @param schema - the quoted schema name.
   * @param options - ttl, heartbeat, margin, name, id.
   * @throws RangeError naming an invalid option.
   */
  constructor(runner: StatementRunner, schema: string, options: InstanceLeaseOptions = {}) {
    this.#runner = runner;
    this.#schema = schema;
    this.ttlMs = positive(options.ttlMs ?? INSTANCE_LEASE_DEFAULTS.ttlMs, "instance.ttlMs");
    this.#intervalMs = positive(
      options.heartbeatIntervalMs ?? this.ttlMs / 3,
      "instance.heartbeatIntervalMs",
    );
    this.#marginMs = positive(
      options.safetyMarginMs ?? Math.min(this.ttlMs / 4, 2_000),
      "instance.safetyMarginMs",
    );
    if (this.#intervalMs + this.#marginMs >= this.ttlMs) {
      throw new RangeError(
        "instance.heartbeatIntervalMs + instance.safetyMarginMs must be less than instance.ttlMs",
      );
    }
    // Every in-flight statement of the replica listens to it.
    setMaxListeners(0, this.#controller.signal);
    this.id = options.instanceId ?? randomUUID();
    this.name = options.name ?? `${hostname()}:${process.pid}`;
  }

  /** Aborted, with {@link LeaseLostError} as its reason, once the lease is lost or given up. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Whether the instance holds its lease (locally: before its deadline). */
  get live(): boolean {
    return this.#state === "live" && this.#runner.settings.monotonicNow() < this.#deadline;
  }

  /** When the lease ends on the database clock, as of the last confirmed renewal; `null` before start. */
  get expiresAt(): Date | null {
    return this.#expiresAt;
  }

  /**
   * Throws unless the lease is held.
   * @throws {@link LeaseLostError}
   */
  assertLive(): void {
    if (this.#state === "new") throw new LeaseLostError(this.id, "not_registered");
    if (this.#state === "lost") throw this.#controller.signal.reason as LeaseLostError;
    if (!this.live) {
      this.#lose("renewal_failed");
      throw this.#controller.signal.reason as LeaseLostError;
    }
  }

  /**
   * Registers the instance and starts the heartbeat.
   * @throws {@link DatabaseUnavailableError} when the database cannot be reached.
   * @throws {@link LeaseLostError} when called twice, or after a stop.
   */
  async register(): Promise<void> {
    if (this.#state !== "new") throw new LeaseLostError(this.id, "stopped");
    const sentAt = this.#runner.settings.monotonicNow();
    const inserted = await this.#runner.run<{ lease_expires_at: Date }>(
      "instance.register",
      `INSERT INTO ${this.#schema}.instances
         (id, name, host, pid, started_at, heartbeat_at, lease_expires_at)
       VALUES ($1, $2, $3, $4, now(), now(), now() + $5 * interval '1 millisecond')
       ON CONFLICT (id) DO NOTHING
       RETURNING lease_expires_at`,
      [this.id, this.name, hostname(), process.pid, Math.ceil(this.ttlMs)],
    );
    const row = inserted.rows[0];
    this.#state = "live";
    if (row === undefined) {
      // A resend after a lost reply, or a reused id: renew what is there.
      this.#deadline = sentAt + this.ttlMs - this.#marginMs;
      await this.renew();
      this.assertLive();
    } else {
      this.#confirmed(sentAt, row.lease_expires_at);
    }
    this.#scheduleBeat();
  }

  /**
   * Renews the lease now, on the heartbeat's own connection (the heartbeat
   * calls it; tests and operators may too). A failure is logged and retried by
   * the heartbeat; it loses the lease only at the local deadline, or when the
   * database says the lease is gone.
   */
  renew(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => {
      this.#beating = undefined;
    });
    return this.#beating;
  }

  /**
   * Stops the heartbeat and ends the lease in the database at once, so live
   * replicas may take over what this instance still has pending. The signal
   * aborts with reason `stopped`. Calling it again does nothing.
   */
  async stop(): Promise<void> {
    if (this.#state === "new") {
      this.#lose("stopped");
      return;
    }
    const wasLive = this.#state === "live";
    this.#lose("stopped");
    await this.#beating?.catch(() => {});
    if (!wasLive) return;
    try {
      await this.#runner.run(
        "instance.stop",
        `UPDATE ${this.#schema}.instances
           SET stopped_at = COALESCE(stopped_at, now()), lease_expires_at = LEAST(lease_expires_at, now())
         WHERE id = $1`,
        [this.id],
        { maxAttempts: 2 },
      );
    } catch (error) {
      // The lease then simply runs out; takeover waits for it.
      this.#runner.settings.logger.warn("Could not mark the instance stopped", {
        instanceId: this.id,
        error,
      });
    }
  }

  async #beat(): Promise<void> {
    if (this.#state !== "live") return;
    const { logger, queryTimeoutMs, monotonicNow } = this.#runner.settings;
    const sentAt = monotonicNow();
    const timeoutMs = Math.min(queryTimeoutMs, this.#deadline - sentAt);
    if (timeoutMs <= 0) {
      this.#lose("renewal_failed");
      return;
    }
    try {
      const connection = await this.#heartbeatConnection(timeoutMs);
      const { rows } = await this.#runner.send<{ lease_expires_at: Date }>(
        `UPDATE ${this.#schema}.instances
           SET heartbeat_at = now(), lease_expires_at = now() + $2 * interval '1 millisecond'
         WHERE id = $1 AND stopped_at IS NULL AND lease_expires_at > now()
         RETURNING lease_expires_at`,
        [this.id, Math.ceil(this.ttlMs)],
        { timeoutMs },
        connection,
      );
      const row = rows[0];
      if (row === undefined) this.#lose("expired");
      else if (this.#state === "live") this.#confirmed(sentAt, row.lease_expires_at);
    } catch (error) {
      this.#dropConnection?.(error instanceof Error ? error : new Error(String(error)));
      if (this.#state !== "live") return;
      logger.warn("Instance heartbeat failed; retrying until the local deadline", {
        instanceId: this.id,
        msLeft: this.#deadline - monotonicNow(),
        error,
      });
      this.#scheduleBeat(Math.min(this.#intervalMs, Math.max(50, this.ttlMs / 20)));
    }
  }

  /** The heartbeat's own connection, so renewals never queue behind the pool's steps. */
  async #heartbeatConnection(timeoutMs: number): Promise<PoolClientLike> {
    if (this.#connection !== undefined) return this.#connection;
    const connection = await this.#runner.checkout({ timeoutMs });
    if (this.#state !== "live") {
      // Lost or stopped while waiting for it: hand it straight back, or pool.end() would wait forever.
      connection.release();
      throw this.#controller.signal.reason;
    }
    let dropped = false;
    const drop = (error?: Error) => {
      if (dropped) return;
      dropped = true;
      connection.removeListener?.("error", drop);
      if (this.#connection === connection) {
        this.#connection = undefined;
        this.#dropConnection = undefined;
      }
      connection.release(error ?? true);
    };
    connection.on?.("error", drop);
    this.#connection = connection;
    this.#dropConnection = drop;
    return connection;
  }

  #confirmed(sentAt: number, expiresAt: Date): void {
    this.#deadline = sentAt + this.ttlMs - this.#marginMs;
    this.#expiresAt = expiresAt;
    this.#armDeadline();
    this.#scheduleBeat();
  }

  #armDeadline(): void {
    const { clock, monotonicNow } = this.#runner.settings;
    if (this.#deadlineTimer !== undefined) clock.clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = clock.setTimeout(
      () => {
        // Timers and the monotonic clock may disagree by a millisecond: check, re-arm.
        if (monotonicNow() >= this.#deadline) this.#lose("renewal_failed");
        else this.#armDeadline();
      },
      Math.max(1, this.#deadline - monotonicNow()),
    );
    this.#deadlineTimer.unref?.();
  }

  #scheduleBeat(delayMs = this.#intervalMs): void {
    if (this.#state !== "live") return;
    const { clock } = this.#runner.settings;
    if (this.#beatTimer !== undefined) clock.clearTimeout(this.#beatTimer);
    this.#beatTimer = clock.setTimeout(() => {
      this.#beatTimer = undefined;
      void this.renew();
    }, delayMs);
    this.#beatTimer.unref?.();
  }

  #lose(reason: LeaseLostReason): void {
    if (this.#state === "lost") return;
    this.#state = "lost";
    const { clock, logger } = this.#runner.settings;
    if (this.#beatTimer !== undefined) clock.clearTimeout(this.#beatTimer);
    if (this.#deadlineTimer !== undefined) clock.clearTimeout(this.#deadlineTimer);
    this.#dropConnection?.();
    if (reason !== "stopped") {
      logger.error("Instance lease lost; in-flight steps are aborted and nothing more is claimed", {
        instanceId: this.id,
        reason,
      });
    }
    this.#controller.abort(new LeaseLostError(this.id, reason));
  }
}

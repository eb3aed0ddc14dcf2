import { setMaxListeners } from "node:events";
import type { TimerHandle } from "@beauvoir/core";
import { LockLostError } from "./errors.js";
import type { InstanceLease } from "./instance-lease.js";
import type { StatementRunner } from "./statement-runner.js";

/** @internal What a handle is made from. */
export interface LockGrant {
  runner: StatementRunner;
  schema: string;
  instance: InstanceLease;
  name: string;
  holderId: string;
  fence: number;
  expiresAt: Date;
  ttlMs: number;
  /** Local time the granting statement was first sent. */
  sentAt: number;
  autoRenew: boolean;
  onEnd(handle: PostgresLockHandle): void;
}

/**
 * A lock held by this replica. Its `fence` is the token to pass with every
 * write the lock protects; its `signal` aborts (with {@link LockLostError})
 * when the lease could not be renewed before its local deadline, when the
 * instance's own lease is lost, or on release.
 *
 * The local deadline is measured from when the last confirmed grant or renewal
 * was sent, minus a margin of a tenth of the ttl, so it comes before the
 * database can let anyone else take the lock.
 */
export class PostgresLockHandle {
  /** The lock's name. */
  readonly name: string;
  /** This grant's fencing token: higher than every earlier grant's of this lock. */
  readonly fence: number;
  /** This grant's own id (the `holder_id` column). */
  readonly holderId: string;
  readonly #grant: LockGrant;
  readonly #controller = new AbortController();
  #expiresAt: Date;
  #deadline: number;
  #renewTimer: TimerHandle | undefined;
  #deadlineTimer: TimerHandle | undefined;
  #ended = false;
  readonly #onInstanceLost: () => void;

  /** @internal Made by the backend. @param grant - the granted row and where it came from. */
  constructor(grant: LockGrant) {
    setMaxListeners(0, this.#controller.signal);
    this.#grant = grant;
    this.name = grant.name;
    this.fence = grant.fence;
    this.holderId = grant.holderId;
    this.#expiresAt = grant.expiresAt;
    this.#deadline = 0;
    this.#onInstanceLost = () => this.#lose(grant.instance.signal.reason);
    grant.instance.signal.addEventListener("abort", this.#onInstanceLost, { once: true });
    this.#confirmed(grant.sentAt, grant.expiresAt);
    if (grant.instance.signal.aborted) this.#onInstanceLost();
  }

  /** When the lease ends on the database clock, as of the last confirmed renewal. */
  get expiresAt(): Date {
    return this.#expiresAt;
  }

  /** Aborted once the lock is lost or released. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Whether the lock is still held (locally: before its deadline, not released). */
  get held(): boolean {
    return !this.#ended && this.#grant.runner.settings.monotonicNow() < this.#deadline;
  }

  /**
   * Extends the lease by the ttl from the database's now.
   * @throws {@link LockLostError} when the lease already ended (someone else may hold it).
   * @throws {@link DatabaseUnavailableError} when the renewal could not be confirmed.
   */
  async renew(): Promise<void> {
    if (this.#ended) throw this.#lostError();
    const { runner, schema, name, holderId, ttlMs } = this.#grant;
    const sentAt = runner.settings.monotonicNow();
    const timeoutMs = Math.min(runner.settings.queryTimeoutMs, this.#deadline - sentAt);
    if (timeoutMs <= 0) {
      this.#lose();
      throw this.#lostError();
    }
    const { rows } = await runner.run<{ expires_at: Date }>(
      "lock.renew",
      `UPDATE ${schema}.locks SET expires_at = now() + $4 * interval '1 millisecond'
        WHERE name = $1 AND holder_id = $2 AND fence = $3 AND expires_at > now()
        RETURNING expires_at`,
      [name, holderId, this.fence, Math.ceil(ttlMs)],
      { timeoutMs, signal: this.signal },
    );
    const row = rows[0];
    if (row === undefined) {
      this.#lose();
      throw this.#lostError();
    }
    if (!this.#ended) this.#confirmed(sentAt, row.expires_at);
  }

  /**
   * Ends the lease now (the row's `expires_at` becomes the database's now), if
   * this grant still holds it. Releasing twice is harmless.
   * @param options - `maxAttempts`: sends at most (default: the runner's retry
   *   policy); a lease that is not released runs out by itself.
   * @returns true when this call ended a lease this grant held.
   */
  async release(options: { maxAttempts?: number } = {}): Promise<boolean> {
    const wasHeld = !this.#ended;
    this.#end(new LockLostError(this.name, this.fence));
    if (!wasHeld) return false;
    const { runner, schema, name, holderId } = this.#grant;
    const { rows } = await runner.run<{ held: boolean }>(
      "lock.release",
      `UPDATE ${schema}.locks SET expires_at = LEAST(expires_at, now())
        WHERE name = $1 AND holder_id = $2 AND fence = $3
        RETURNING true AS held`,
      [name, holderId, this.fence],
      options,
    );
    return rows.length > 0;
  }

  /** Same as {@link PostgresLockHandle.release}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  #confirmed(sentAt: number, expiresAt: Date): void {
    const { runner, ttlMs, autoRenew } = this.#grant;
    const { clock } = runner.settings;
    this.#expiresAt = expiresAt;
    this.#deadline = sentAt + ttlMs - ttlMs / 10;
    this.#armDeadline();
    if (!autoRenew) return;
    if (this.#renewTimer !== undefined) clock.clearTimeout(this.#renewTimer);
    this.#renewTimer = clock.setTimeout(() => {
      this.renew().catch((error: unknown) => {
        if (this.#ended) return;
        runner.settings.logger.warn("Lock renewal failed; retrying until the local deadline", {
          lock: this.name,
          fence: this.fence,
          error,
        });
        this.#retryRenewSoon();
      });
    }, ttlMs / 3);
    this.#renewTimer.unref?.();
  }

  #armDeadline(): void {
    const { clock, monotonicNow } = this.#grant.runner.settings;
    if (this.#deadlineTimer !== undefined) clock.clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = clock.setTimeout(
      () => {
        if (monotonicNow() >= this.#deadline) this.#lose();
        else this.#armDeadline();
      },
      Math.max(1, this.#deadline - monotonicNow()),
    );
    this.#deadlineTimer.unref?.();
  }

  #retryRenewSoon(): void {
    const { runner, ttlMs } = this.#grant;
    const { clock } = runner.settings;
    this.#renewTimer = clock.setTimeout(
      () => {
        this.renew().catch(() => {
          if (!this.#ended) this.#retryRenewSoon();
        });
      },
      Math.max(20, ttlMs / 20),
    );
    this.#renewTimer.unref?.();
  }

  #lostError(): LockLostError {
    const reason = this.#controller.signal.reason;
    return LockLostError.isInstance(reason) ? reason : new LockLostError(this.name, this.fence);
  }

  #lose(cause?: unknown): void {
    if (this.#ended) return;
    this.#grant.runner.settings.logger.warn("Lock lost: its lease could not be renewed in time", {
      lock: this.name,
      fence: this.fence,
    });
    this.#end(new LockLostError(this.name, this.fence, cause));
  }

  #end(reason: LockLostError): void {
    if (this.#ended) return;
    this.#ended = true;
    const { clock } = this.#grant.runner.settings;
    if (this.#renewTimer !== undefined) clock.clearTimeout(this.#renewTimer);
    if (this.#deadlineTimer !== undefined) clock.clearTimeout(this.#deadlineTimer);
    this.#grant.instance.signal.removeEventListener("abort", this.#onInstanceLost);
    this.#grant.onEnd(this);
    this.#controller.abort(reason);
  }
}

import { type Clock, type Defined, delay, type Logger } from "@beauvoir/core";
import { DatabaseUnavailableError } from "./errors.js";
import type { PoolClientLike, PoolLike, Queryable, QueryResultLike } from "./queryable.js";
import { isTransientFailure, QueryTimeoutError } from "./transient-failure.js";

/** How statements are resent after a transient failure. */
export interface RetryOptions {
  /** Sends of one statement, the first included. @default 12 */
  maxAttempts?: number | undefined;
  /** First wait between sends; doubles each time, jittered ±50 %. @default 25 */
  baseDelayMs?: number | undefined;
  /** Longest wait between sends. @default 1_000 */
  maxDelayMs?: number | undefined;
  /** No new send starts this long after the first one. @default 30_000 */
  budgetMs?: number | undefined;
}

/** @internal Resolved settings of a {@link StatementRunner}. */
export interface StatementRunnerSettings {
  queryTimeoutMs: number;
  retry: Defined<RetryOptions>;
  clock: Clock;
  /** Monotonic milliseconds, for local deadlines (a wall clock may be stepped back). */
  monotonicNow: () => number;
  logger: Logger;
  random: () => number;
}

/** Per-call options of the runner. */
export interface SendOptions {
  /** Stops waiting (the statement may still commit: resend it to learn its outcome). */
  signal?: AbortSignal | undefined;
  /** Client-side limit on this send; the runner's `queryTimeoutMs` when absent. */
  timeoutMs?: number | undefined;
  /** Sends at most this many times (for best-effort statements on the way out). */
  maxAttempts?: number | undefined;
}

/**
 * @internal Sends the package's statements with a client-side timeout on every
 * wait (checkout, reply) and resends idempotent ones after transient failures,
 * so a lost reply is resolved by the statement's own read-back instead of a guess.
 */
export class StatementRunner {
  readonly pool: PoolLike;
  readonly settings: StatementRunnerSettings;

  constructor(pool: PoolLike, settings: StatementRunnerSettings) {
    this.pool = pool;
    this.settings = settings;
  }

  /**
   * Sends one statement once, bounded by the timeout.
   * @throws whatever the database answered, {@link QueryTimeoutError}, or the signal's reason.
   */
  send<Row>(
    text: string,
    values: unknown[],
    options: SendOptions = {},
    target: Queryable = this.pool,
  ): Promise<QueryResultLike<Row>> {
    const timeoutMs = Math.max(1, Math.ceil(options.timeoutMs ?? this.settings.queryTimeoutMs));
    const pending = target.query<Row>({ text, values, query_timeout: timeoutMs });
    return this.#bounded(pending, timeoutMs, options.signal);
  }

  /**
   * Sends an idempotent statement until it is answered: transient failures
   * (lost connection, lost reply, restart, timeouts) are followed by a resend
   * with the same values, within the retry budget.
   * @param operation - name for errors and logs, e.g. `lock.acquire`.
   * @throws {@link DatabaseUnavailableError} when the budget runs out; other errors as answered.
   */
  async run<Row>(
    operation: string,
    text: string,
    values: unknown[],
    options: SendOptions = {},
  ): Promise<QueryResultLike<Row>> {
    return this.#withRetries(operation, options, () => this.send<Row>(text, values, options));
  }

  /**
   * Runs `body` inside `BEGIN … COMMIT` on one checked-out connection, and the
   * whole transaction again after a transient failure (so `body` must be safe
   * to run twice: it rereads what it needs).
   * @throws {@link DatabaseUnavailableError} when the budget runs out.
   */
  async transaction<T>(
    operation: string,
    body: (transaction: Queryable) => Promise<T>,
    options: SendOptions = {},
  ): Promise<T> {
    return this.#withRetries(operation, options, () => this.#transactionOnce(body, options));
  }

  /**
   * Checks a connection out of the pool, bounded by the timeout. A connection
   * that arrives after the timeout is returned at once.
   */
  async checkout(options: SendOptions = {}): Promise<PoolClientLike> {
    const timeoutMs = options.timeoutMs ?? this.settings.queryTimeoutMs;
    const pending = this.pool.connect();
    try {
      return await this.#bounded(pending, timeoutMs, options.signal);
    } catch (error) {
      pending.then(
        (late) => late.release(),
        () => {},
      );
      throw error;
    }
  }

  async #transactionOnce<T>(
    body: (transaction: Queryable) => Promise<T>,
    options: SendOptions,
  ): Promise<T> {
    const client = await this.checkout(options);
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken = error;
    };
    client.on?.("error", onError);
    const transaction: Queryable = {
      query: <Row>(config: { text: string; values?: unknown[] }) =>
        this.send<Row>(config.text, config.values ?? [], options, client),
    };
    try {
      await this.send("BEGIN", [], options, client);
      const result = await body(transaction);
      await this.send("COMMIT", [], options, client);
      return result;
    } catch (error) {
      broken ??= error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.removeListener?.("error", onError);
      // A connection that saw any failure is closed rather than reused: it may
      // still be inside the transaction, or its reply stream may be out of step.
      client.release(broken);
    }
  }

  async #withRetries<T>(
    operation: string,
    options: SendOptions,
    attempt: () => Promise<T>,
  ): Promise<T> {
    const { baseDelayMs, maxDelayMs, budgetMs } = this.settings.retry;
    const maxAttempts = options.maxAttempts ?? this.settings.retry.maxAttempts;
    const { signal } = options;
    const { clock } = this.settings;
    const startedAt = clock.now();
    for (let attempts = 1; ; attempts++) {
      try {
        return await attempt();
      } catch (error) {
        if (signal?.aborted || !isTransientFailure(error)) throw error;
        const wait = Math.round(
          Math.min(maxDelayMs, baseDelayMs * 2 ** (attempts - 1)) * (0.5 + this.settings.random()),
        );
        if (attempts >= maxAttempts || clock.now() + wait - startedAt > budgetMs) {
          throw new DatabaseUnavailableError(operation, attempts, error);
        }
        this.settings.logger.warn("PostgreSQL statement failed; sending it again", {
          operation,
          attempts,
          waitMs: wait,
          error,
        });
        await delay(wait, { signal, clock });
      }
    }
  }

  #bounded<T>(pending: Promise<T>, timeoutMs: number, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted) {
      pending.catch(() => {});
      return Promise.reject(signal.reason);
    }
    const { clock } = this.settings;
    return new Promise<T>((resolve, reject) => {
      const finish = () => {
        clock.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        finish();
        reject(signal?.reason);
      };
      const timer = clock.setTimeout(() => {
        finish();
        reject(new QueryTimeoutError(timeoutMs));
      }, timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      pending.then(
        (value) => {
          finish();
          resolve(value);
        },
        (error: unknown) => {
          finish();
          reject(error);
        },
      );
    });
  }
}

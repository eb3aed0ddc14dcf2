import { randomUUID } from "node:crypto";
import type {
  AtomicClaim,
  AtomicClaimInput,
  AtomicSettleInput,
  AtomicSettleOutcome,
  AtomicStepPort,
  CompensationStrategy,
  IdempotencyClaim,
  IdempotencyEntryView,
  IdempotencyIndexPort,
  IdempotencySettlement,
} from "@beauvoir/boot";
import { delay } from "@beauvoir/core";
import type { PostgresAuditTrail } from "./audit-trail.js";
import { DatabaseUnavailableError } from "./errors.js";
import type { IdempotencyKeyEntry, PostgresIdempotencyIndex } from "./idempotency-index.js";
import type { InstanceLease } from "./instance-lease.js";

/** Pending keys handled per takeover round. */
const TAKEOVER_BATCH = 1_000;

/**
 * `@beauvoir/boot`'s idempotency index on PostgreSQL: the executor's durable
 * step as two statements ({@link AtomicStepPort}: claim + intent, result +
 * settlement + workflow advance), takeover of what replicas whose lease ended
 * left pending, and the operator's decisions, each in one statement. A
 * statement whose outcome is unknown after the runner's retries
 * (`DATABASE_UNAVAILABLE`) is resent with the same ids for as long as this
 * replica holds its lease: the caller gets the real outcome, or
 * `LEASE_LOST` once another replica may own the key.
 */
export class PostgresIndexPort implements IdempotencyIndexPort {
  readonly #index: PostgresIdempotencyIndex;
  readonly #audit: PostgresAuditTrail;
  readonly #instance: InstanceLease;
  readonly atomicSteps: AtomicStepPort;

  /**
   * @internal Made by the backend's `open()`.
   * @param index - the key table.
   * @param audit - the audit history, for the intents of keys in doubt.
   * @param instance - this replica's lease.
   */
  constructor(index: PostgresIdempotencyIndex, audit: PostgresAuditTrail, instance: InstanceLease) {
    this.#index = index;
    this.#audit = audit;
    this.#instance = instance;
    this.atomicSteps = {
      claim: (input) => this.#claim(input),
      settle: (input) => this.#settle(input),
      takeOver: (key) => this.#takeOver(key),
      decide: (key, decision, options) => this.#decide(key, decision, options),
    };
  }

  get ttlMs(): number {
    return this.#index.ttlMs;
  }

  generateKey(action: string, scope: string, resource: string, params: unknown): string {
    return this.#index.generateKey(action, scope, resource, params);
  }

  getStrategy(action: string): CompensationStrategy {
    return this.#index.getStrategy(action);
  }

  /** The key as the executor sees it: a released key, or a settled one past its TTL, is unknown (runnable). */
  async check(key: string): Promise<IdempotencyEntryView | null> {
    const view = this.#view(await this.#untilKnown(() => this.#index.check(key)));
    if (view?.status !== "pending" || view.intentSeq === undefined) return view;
    // A pending key is about to be reconciled: its reconcile hook needs the
    // step's identity, which only its intent record holds.
    const [intent] = await this.#audit.findIntents([view.intentSeq]);
    return intent === undefined ? view : { ...view, intent: { ...intent, seq: intent.id } };
  }

  /**
   * Not used on this backend: a key is claimed with its intent, in one
   * statement (`atomicSteps.claim`).
   * @throws TypeError always.
   */
  async markPending(): Promise<IdempotencyClaim> {
    throw new TypeError(
      "the PostgreSQL index claims a key and records its intent in one statement: use atomicSteps.claim",
    );
  }

  /** Completes the pending key this replica holds, closing its intent with `result`. */
  async markCompleted(key: string, result?: unknown): Promise<void> {
    await this.#settleHeld(key, { status: "completed", result });
  }

  /** Fails the pending key this replica holds, closing its intent with `error`. */
  async markFailed(key: string, error: string): Promise<void> {
    await this.#settleHeld(key, { status: "failed", error: String(error) });
  }

  /** Settles the pending key this replica holds, closing its intent. */
  async settle(key: string, settlement: IdempotencySettlement): Promise<void> {
    await this.#settleHeld(key, {
      status: settlement.status,
      result: settlement.result,
      error: settlement.error,
    });
  }

  /** An operator's reset: any status → runnable, recorded in the audit history. */
  async reset(key: string): Promise<IdempotencyEntryView | null> {
    return this.#decide(key, "reset", {});
  }

  /**
   * Takes over the pending keys of replicas whose lease ended (in bulk, a new
   * attempt id and fence each) and answers with them and with the pending
   * keys this replica already holds: the executor applies each one's strategy.
   */
  async reconcilePending(): Promise<IdempotencyEntryView[]> {
    if (!this.#instance.live) return [];
    const takeoverId = randomUUID();
    const taken = await this.#untilKnown(() =>
      this.#index.takeOver({ limit: TAKEOVER_BATCH, takeoverId }),
    );
    const held = await this.#untilKnown(() =>
      this.#index.listPending({ ownerId: this.#instance.id, limit: TAKEOVER_BATCH }),
    );
    const intents = new Map(
      (await this.#audit.findIntents(held.map((entry) => entry.intentId))).map((intent) => [
        intent.id,
        intent,
      ]),
    );
    const views = new Map<string, IdempotencyEntryView>();
    for (const entry of held) {
      const intent = intents.get(entry.intentId);
      views.set(entry.key, {
        ...this.#pendingView(entry),
        ...(intent === undefined ? {} : { intent: { ...intent, seq: intent.id } }),
      });
    }
    for (const { entry, target, params } of taken) {
      views.set(entry.key, {
        ...this.#pendingView(entry),
        intent: { seq: entry.intentId, action: entry.action, target, params, dedupeKey: entry.key },
      });
    }
    return [...views.values()];
  }

  /** The backend closes the pool's work; nothing to do here. */
  async close(): Promise<void> {}

  async #claim(input: AtomicClaimInput): Promise<AtomicClaim> {
    const attemptId = randomUUID();
    const outcome = await this.#untilKnown(() =>
      this.#index.claim({
        key: input.key,
        action: input.action,
        strategy: input.strategy,
        target: input.target,
        params: input.params,
        attemptId,
        ...(input.supersede === undefined ? {} : { supersede: input.supersede }),
        ...(input.signal === undefined ? {} : { signal: input.signal }),
      }),
    );
    if (outcome.status === "claimed") {
      return {
        claimed: true,
        intentSeq: outcome.intentId,
        attemptId: outcome.attemptId,
        fence: outcome.fence,
      };
    }
    return { claimed: false, entry: this.#view(outcome.entry) };
  }

  async #settle(input: AtomicSettleInput): Promise<AtomicSettleOutcome> {
    const workflow = input.workflow;
    const outcome = await this.#untilKnown(() =>
      this.#index.settle({
        key: input.key,
        attemptId: input.attemptId,
        status: input.status,
        ...(input.result === undefined ? {} : { result: input.result }),
        ...(input.error === undefined ? {} : { error: input.error }),
        ...(workflow === undefined
          ? {}
          : {
              workflow: {
                runId: workflow.runId,
                fence: workflow.ownership.fence,
                state: workflow.state,
              },
            }),
      }),
    );
    if (outcome.status === "settled") {
      return { settled: true, workflowAdvanced: outcome.workflowAdvanced };
    }
    return { settled: false, entry: this.#view(outcome.entry) };
  }

  async #takeOver(key: string): Promise<IdempotencyEntryView | null> {
    const takeoverId = randomUUID();
    const taken = await this.#untilKnown(() =>
      this.#index.takeOver({ keys: [key], limit: 1, takeoverId }),
    );
    const first = taken[0];
    if (first === undefined) return null;
    return {
      ...this.#pendingView(first.entry),
      intent: {
        seq: first.entry.intentId,
        action: first.entry.action,
        target: first.target,
        params: first.params,
        dedupeKey: key,
      },
    };
  }

  async #decide(
    key: string,
    decision: "done" | "not_done" | "reset",
    options: { reason?: string | undefined; result?: unknown },
  ): Promise<IdempotencyEntryView | null> {
    const before = await this.#untilKnown(() => this.#index.check(key));
    const reason = options.reason === undefined ? {} : { reason: options.reason };
    if (decision === "reset") {
      await this.#untilKnown(() => this.#index.resetKey(key, reason));
    } else if (decision === "not_done") {
      await this.#untilKnown(() =>
        this.#index.resolveKey(key, "not_done", { ...reason, anyStatus: true }),
      );
    } else if (before === null) {
      // Done, for a key never claimed: claim it for the decision, then complete it.
      await this.#completeUnknown(key, options);
    } else {
      await this.#untilKnown(() =>
        this.#index.resolveKey(key, "done", {
          ...reason,
          result: options.result,
          anyStatus: true,
        }),
      );
    }
    return this.#view(before);
  }

  async #completeUnknown(
    key: string,
    options: { reason?: string | undefined; result?: unknown },
  ): Promise<void> {
    const attemptId = randomUUID();
    const claim = await this.#untilKnown(() =>
      this.#index.claim({
        key,
        attemptId,
        target: key,
        params: {
          operator: {
            command: "resolveKey",
            verdict: "done",
            ...(options.reason === undefined ? {} : { reason: options.reason }),
          },
        },
      }),
    );
    if (claim.status !== "claimed") return;
    await this.#untilKnown(() =>
      this.#index.settle({ key, attemptId, status: "completed", result: options.result }),
    );
  }

  async #settleHeld(
    key: string,
    outcome: {
      status: "completed" | "failed" | "released";
      result?: unknown;
      error?: string | undefined;
    },
  ): Promise<void> {
    const entry = await this.#untilKnown(() => this.#index.check(key));
    if (entry?.status !== "pending" || entry.ownerId !== this.#instance.id) {
      throw new TypeError(`key ${key} is not pending under this replica: nothing to settle`);
    }
    await this.#settle({
      key,
      attemptId: entry.attemptId,
      status: outcome.status,
      result: outcome.result,
      error: outcome.error,
    });
  }

  /** A released key, or a settled one past its TTL, is runnable: the executor sees it as not there. */
  #view(entry: IdempotencyKeyEntry | null): IdempotencyEntryView | null {
    if (entry === null || entry.status === "released" || entry.expired) return null;
    if (entry.status === "pending") return this.#pendingView(entry);
    const view: IdempotencyEntryView = {
      key: entry.key,
      status: entry.status,
      action: entry.action,
      strategy: entry.strategy,
      intentSeq: entry.intentId,
    };
    if (entry.result !== undefined) view.result = entry.result;
    if (entry.error !== undefined) view.error = entry.error;
    return view;
  }

  #pendingView(entry: IdempotencyKeyEntry): IdempotencyEntryView {
    return {
      key: entry.key,
      status: "pending",
      action: entry.action,
      strategy: entry.strategy,
      intentSeq: entry.intentId,
      attemptId: entry.attemptId,
      fence: entry.fence,
      ownedHere: entry.ownerId === this.#instance.id,
      ownerLive: entry.ownerLive,
    };
  }

  /** Resends an operation whose outcome is unknown, with the same ids, while the lease holds. */
  async #untilKnown<T>(operation: () => Promise<T>): Promise<T> {
    for (let round = 0; ; round++) {
      try {
        return await operation();
      } catch (error) {
        if (!DatabaseUnavailableError.isInstance(error) || !this.#instance.live) throw error;
        this.#instance.signal.throwIfAborted();
        await delay(Math.min(1_000, 50 * 2 ** Math.min(round, 5)), {
          signal: this.#instance.signal,
        });
      }
    }
  }
}

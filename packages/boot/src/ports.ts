import type { DeniedEntry, DryRunEntry, IntentEntry } from "@beauvoir/audit-trail";
import type { FailureClass } from "@beauvoir/breaker";

/**
 * The narrow views of the other Beauvoir packages that boot, the step executor
 * and the workflow engine use. The executor depends on these ports only: the
 * file-backed classes satisfy them, another backend (e.g. PostgreSQL) can
 * supply its own, and tests inject fakes to provoke failures and crashes at
 * exact points.
 */

/** Compensation strategy of an action after a crash (see `@beauvoir/idempotency`). */
export type CompensationStrategy = "safe_retry" | "check_then_retry" | "skip";

/** What an intent record is made of: the audit trail's own entry. */
export type AuditIntentInput = IntentEntry;

/** A result record found by {@link AuditTrailPort.findResultByDedupeKey}. */
export interface AuditResultByKey {
  /** The intent the result closes. */
  intentSeq: number;
  /** When the result was recorded, ISO-8601. */
  ts: string;
  /** The recorded (redacted) return value. */
  result?: unknown;
  /** The recorded failure. */
  error?: string | undefined;
}

/** An intent that has no result yet. */
export interface AuditPendingIntent {
  /**
   * The intent's id in the audit trail: its `seq` in the file trail; the
   * record id in a backend whose sealer assigns seqs later (PostgreSQL).
   */
  seq: number;
  action: string;
  target?: string | undefined;
  params?: Record<string, unknown> | undefined;
  dedupeKey?: string | undefined;
}

/** What the executor needs from the audit trail. */
export interface AuditTrailPort {
  /**
   * Appends an intent record; resolves once it is durable.
   * @returns its id: the `seq` in the file trail; a record id in a backend
   *   whose sealer assigns seqs later (PostgreSQL). Pass it back to `recordResult`.
   */
  recordIntent(input: AuditIntentInput): Promise<number>;
  /** Appends the result (or error) of an intent; resolves once it is on disk. */
  recordResult(intentSeq: number, result: unknown, error?: string): Promise<number>;
  /** Records a call that the action policy refused; resolves once it is on disk. */
  recordDenied(input: DeniedEntry): Promise<number>;
  /** Records a call that was only simulated (dry run). */
  recordDryRun(input: DryRunEntry): Promise<number>;
  /**
   * Intents that have no result yet and that no running step owns (a backend
   * shared by replicas leaves out those of replicas whose lease is live).
   * Synchronous in the file trail, a query in a database backend.
   */
  getPendingIntents():
    | ReadonlyArray<AuditPendingIntent>
    | Promise<ReadonlyArray<AuditPendingIntent>>;
  /** The result record of an intent, if any. */
  findResultByIntentSeq(
    intentSeq: number,
  ):
    | Promise<{ result?: unknown; error?: string | undefined } | null>
    | { result?: unknown; error?: string | undefined }
    | null
    | undefined;
  /**
   * The most recent result record whose intent carried `dedupeKey`, over the
   * whole history, or `null`. The executor's second source of truth when the
   * index does not know a key.
   */
  findResultByDedupeKey(dedupeKey: string): Promise<AuditResultByKey | null>;
  /** Re-walks the hash chain. */
  verifyChain(): Promise<{ valid: boolean }> | { valid: boolean };
  /** Flushes and closes the file. */
  close(): Promise<void>;
}

/** One entry of the idempotency index. */
export interface IdempotencyEntryView {
  key: string;
  status: "pending" | "completed" | "failed";
  intentSeq?: number | undefined;
  strategy?: CompensationStrategy | undefined;
  action?: string | undefined;
  result?: unknown;
  error?: string | undefined;
  /**
   * Backends shared by replicas: the attempt that holds a pending key (from
   * a claim or a takeover); only it may settle the key.
   */
  attemptId?: string | undefined;
  /** Backends shared by replicas: the fencing token of that attempt. */
  fence?: number | bigint | undefined;
  /**
   * Backends shared by replicas: whether this replica holds the pending key.
   * The file backend (one process) leaves it out, which counts as true.
   */
  ownedHere?: boolean | undefined;
  /** Backends shared by replicas: whether the owner of a pending key still holds a live lease. */
  ownerLive?: boolean | undefined;
  /** The open intent of a pending key, when the index knows it (for its reconcile hook). */
  intent?: AuditPendingIntent | undefined;
}

/** What {@link IdempotencyIndexPort.markPending} answers. */
export interface IdempotencyClaim {
  claimed: boolean;
  reason?: string | undefined;
  entry?: IdempotencyEntryView | undefined;
  /**
   * Set by backends that fence attempts (one id per claim); handed to the
   * side effect as {@link SideEffectContext.attemptId}. The file index leaves it out.
   */
  attemptId?: string | undefined;
  /** Set by backends that fence attempts; handed to the side effect as its `fence`. */
  fence?: number | bigint | undefined;
}

/** What the executor writes with {@link IdempotencyIndexPort.settle}. */
export interface IdempotencySettlement {
  status: "completed" | "failed";
  action?: string;
  strategy?: CompensationStrategy;
  intentSeq?: number;
  result?: unknown;
  error?: string;
}

/** What the executor needs from the idempotency index. */
export interface IdempotencyIndexPort {
  /** The key of a side effect (scope, resource and params hashed; never rebuilt elsewhere). */
  generateKey(action: string, scope: string, resource: string, params: unknown): string;
  check(key: string): Promise<IdempotencyEntryView | null>;
  markPending(
    key: string,
    intentSeq: number,
    options?: { strategy?: CompensationStrategy; action?: string; takeover?: boolean },
  ): Promise<IdempotencyClaim>;
  markCompleted(key: string, result?: unknown): Promise<unknown>;
  markFailed(key: string, error: string): Promise<unknown>;
  /** Writes a terminal entry whatever the key's state (one durable transition). */
  settle(key: string, settlement: IdempotencySettlement): Promise<unknown>;
  /** Durably removes the key's entry, so the step may run again. @returns the removed entry. */
  reset(key: string): Promise<IdempotencyEntryView | null>;
  /** How long a completed or failed entry is kept, in milliseconds. */
  readonly ttlMs: number;
  /** Pending entries the audit trail could not settle; each needs compensation. */
  reconcilePending(): Promise<IdempotencyEntryView[]>;
  getStrategy(action: string): CompensationStrategy;
  close(): Promise<void>;
  /**
   * Present on backends that write each pair of a step's records in one
   * transaction (PostgreSQL): the executor then claims and records the intent
   * in one call, settles and records the result in another, instead of the
   * file backend's audit-trail-then-index pairs, and never asks the audit
   * trail about a key the index does not know (both live in one database).
   */
  readonly atomicSteps?: AtomicStepPort | undefined;
}

/** What {@link AtomicStepPort.claim} takes. */
export interface AtomicClaimInput {
  key: string;
  action: string;
  strategy: CompensationStrategy;
  /** The intent's target. */
  target: string;
  /** The intent's params (redacted by the backend). */
  params: Record<string, unknown>;
  /**
   * Re-runs a pending key this replica holds (after a takeover, or an attempt
   * in doubt): the held attempt's intent is closed with `error` and the new
   * attempt's intent recorded, in the same transaction.
   */
  supersede?: { attemptId: string; error: string } | undefined;
  /** Stops waiting; the claim may still have committed (the backend resolves it before answering). */
  signal?: AbortSignal | undefined;
}

/** What {@link AtomicStepPort.claim} answers. */
export type AtomicClaim =
  /** The key is this attempt's: run the side effect. */
  | { claimed: true; intentSeq: number; attemptId: string; fence: number | bigint }
  /** Not claimed: `entry` says what holds it (completed, failed, or pending elsewhere). */
  | { claimed: false; entry: IdempotencyEntryView | null };

/** A workflow run advanced in the same transaction as a step's settlement. */
export interface WorkflowAdvance {
  runId: string;
  /** The ownership the engine holds; the run is only written while it still holds it. */
  ownership: WorkflowRunOwnership;
  /** The run's state after the step. */
  state: WorkflowRunRecord;
}

/** What {@link AtomicStepPort.settle} takes. */
export interface AtomicSettleInput {
  key: string;
  /** The attempt that ran; a key it no longer holds is left as it is. */
  attemptId: string;
  /**
   * `completed`: it happened; `failed`: terminal; `released`: the key may be
   * claimed again (the attempt certainly did nothing, or a re-run is wanted).
   */
  status: "completed" | "failed" | "released";
  result?: unknown;
  error?: string | undefined;
  /** The workflow run to advance with it. */
  workflow?: WorkflowAdvance | undefined;
}

/** What {@link AtomicStepPort.settle} answers. */
export type AtomicSettleOutcome =
  | { settled: true; workflowAdvanced: boolean }
  /** The attempt no longer holds the key (taken over, or reset): nothing was written. */
  | { settled: false; entry: IdempotencyEntryView | null };

/**
 * A durable step as two transactions (claim + intent; result + settlement +
 * workflow advance), fenced by the attempt: what a database backend shared by
 * replicas offers. Lost replies are the backend's to resolve: each call
 * answers with what committed, or throws when it could not learn it.
 */
export interface AtomicStepPort {
  claim(input: AtomicClaimInput): Promise<AtomicClaim>;
  settle(input: AtomicSettleInput): Promise<AtomicSettleOutcome>;
  /**
   * Takes a pending key whose owner's lease ended for this replica (a new
   * attempt id and fence; the intent stays open).
   * @returns the key's entry now held here, or `null` when it is not (any
   *   more) pending under a dead owner.
   */
  takeOver(key: string): Promise<IdempotencyEntryView | null>;
  /**
   * An operator's decision, whatever the key's state, in one transaction
   * that fences out the running attempt: `done` completes the key with
   * `result`; `not_done` and `reset` make it runnable. Recorded in the audit history.
   * @returns the entry as it was before, or `null` for an unknown key.
   */
  decide(
    key: string,
    decision: "done" | "not_done" | "reset",
    options: { reason?: string | undefined; result?: unknown },
  ): Promise<IdempotencyEntryView | null>;
}

/** What the executor needs from one circuit breaker. */
export interface CircuitBreakerPort {
  execute<T>(
    operation: (signal: AbortSignal) => Promise<T>,
    options?: {
      signal?: AbortSignal;
      timeoutMs?: number;
      classify?: (error: unknown) => FailureClass;
    },
  ): Promise<T>;
  getState(): "CLOSED" | "OPEN" | "HALF_OPEN";
  getStats?(): { retryAt: number | null };
}

/**
 * Circuit breakers by key (the executor uses one per action, or per step
 * `breakerKey`), with their state as JSON so it survives a restart.
 */
export interface CircuitBreakerGroupPort {
  /** The breaker of `key`, made (closed) on first use. */
  get(key: string): CircuitBreakerPort;
  /** Every breaker's state, by key, as JSON. */
  snapshot(): Record<string, unknown>;
  /** Puts breakers back into the states of a {@link CircuitBreakerGroupPort.snapshot}. */
  restore(snapshots: Record<string, unknown>): void;
  /** Calls `listener` after any breaker of the group changed state. @returns an unsubscribe function. */
  on(event: "stateChange", listener: () => void): () => void;
}

/** What the executor needs from the rate limiter. */
export interface RateLimiterPort {
  /**
   * Waits for a token of `workflowId` (and out of any block), then takes it.
   * Rejects with `RATE_LIMITED` when the wait would exceed `maxWaitMs`, or
   * with the signal's reason.
   */
  consume(
    workflowId: string,
    options?: { signal?: AbortSignal; maxWaitMs?: number },
  ): Promise<void>;
  /**
   * Reads a rate-limit answer (an Octokit error, a fetch `Response`, or
   * anything with `status` and `headers`; a body text under `body`) and
   * blocks requests as it asks.
   */
  recordRateLimitFailure(value: unknown, workflowId?: string): unknown;
  /**
   * Reads `x-ratelimit-*` headers of a successful answer, to slow down before
   * a refusal. Optional: a limiter without it only learns from refusals.
   */
  observeResponse?(value: unknown): unknown;
  /**
   * The blocks the API imposed, as JSON, to survive a restart. A limiter whose
   * blocks are durable by themselves (shared in a database) leaves out
   * `restoreBlocks` and `on`, and boot does not keep them for it.
   */
  exportBlocks?(): unknown;
  /** Puts back blocks from {@link RateLimiterPort.exportBlocks}; blocks already over are ignored. */
  restoreBlocks?(snapshot: unknown): void;
  /** Calls `listener` whenever the blocks `exportBlocks()` returns change. @returns an unsubscribe function. */
  on?(event: "blocksChange", listener: () => void): () => void;
  shutdown?(): void;
}

/** The redactor as boot and the executor use it. */
export interface RedactorPort {
  redactAny(value: unknown): unknown;
}

/** What the executor needs from the action policy (a `ToolValidator`). */
export interface ActionPolicyPort {
  validateParams(
    action: string,
    params: Readonly<Record<string, unknown>>,
  ): ReadonlyArray<{ param: string | undefined; constraint: string; message: string }>;
}

/** A handle on a held lock. */
export interface LockHandlePort {
  release(): Promise<unknown> | unknown;
}

/** What boot needs from the lock manager. */
export interface LockManagerPort {
  acquire(
    name: string,
    options?: { waitMs?: number; signal?: AbortSignal },
  ): Promise<LockHandlePort>;
  recoverStaleLocks(): Promise<{ recovered: unknown; live?: unknown }>;
  releaseAll(): Promise<unknown> | unknown;
}

/** A durable JSON document (see `@beauvoir/resilient-store`). */
export interface JsonStorePort<T> {
  get(): Promise<T | null>;
  /** Writes it durably (the file store); a store shared by replicas may refuse a stale write (`STORE_CONFLICT`). */
  set(value: T): Promise<unknown>;
}

/** Which replica may write a workflow run, and with what fence. */
export interface WorkflowRunOwnership {
  runId: string;
  /** Grows with every takeover; `0` where runs are never shared (the file backend). */
  fence: number;
}

/** The durable state of a workflow run, as a {@link WorkflowRunStorePort} keeps it. */
export interface WorkflowRunRecord {
  runId: string;
  workflow: string;
  status: "running" | "completed" | "failed";
  nextStep: number;
}

/**
 * Where the workflow engine keeps its runs. The file backend's keeps each run
 * in a store document and the unfinished ones in a list; a backend shared by
 * replicas gives each run an owner (taken over, like keys, when its lease
 * ends) and writes it only under the owner's fence.
 */
export interface WorkflowRunStorePort<State extends WorkflowRunRecord = WorkflowRunRecord> {
  /** Stores a new run, owned here, unless one with its id exists. @returns the stored run. */
  create(state: State): Promise<State>;
  get(runId: string): Promise<State | null>;
  /** Ids of runs still running, oldest first. */
  listUnfinished(): Promise<string[]>;
  /**
   * Takes the run for this replica (taking it over when its owner's lease
   * ended). @returns the ownership, or `null` when a live replica owns it.
   */
  acquire(runId: string): Promise<WorkflowRunOwnership | null>;
  /** Writes the run while `ownership` still holds it. @returns false when it was taken over. */
  save(state: State, ownership: WorkflowRunOwnership): Promise<boolean>;
  /** Drops a finished run from the unfinished ones, where they are a list that can lag behind a crash. */
  forgetFinished?(runId: string): Promise<void>;
}

/** What the workflow engine needs from the store factory. */
export interface StoreFactoryPort {
  create<T extends object>(name: string): JsonStorePort<T>;
  cleanupQuarantine?(): Promise<unknown>;
}

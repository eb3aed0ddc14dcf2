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

/** What an intent record is made of. */
export interface AuditIntentInput {
  action: string;
  target: string;
  params: Record<string, unknown>;
  dedupeKey?: string;
}

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
  seq: number;
  action: string;
  target?: string | undefined;
  params?: Record<string, unknown> | undefined;
  dedupeKey?: string | undefined;
}

/** What the executor needs from the audit trail. */
export interface AuditTrailPort {
  /** Appends an intent record; resolves once it is on disk. @returns its `seq`. */
  recordIntent(input: AuditIntentInput): Promise<number>;
  /** Appends the result (or error) of an intent; resolves once it is on disk. */
  recordResult(intentSeq: number, result: unknown, error?: string): Promise<number>;
  /** Records a call that the action policy refused; resolves once it is on disk. */
  recordDenied(input: {
    action: string;
    target: string;
    params: Record<string, unknown>;
    reason?: string;
  }): Promise<number>;
  /** Records a call that was only simulated (dry run). */
  recordDryRun(input: {
    action: string;
    target: string;
    params: Record<string, unknown>;
  }): Promise<number>;
  /** Intents that have no result yet. */
  getPendingIntents(): ReadonlyArray<AuditPendingIntent>;
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
  /** Reads `x-ratelimit-*` headers of a successful answer, to slow down before a refusal. */
  observeResponse(value: unknown): unknown;
  /** The blocks the API imposed, as JSON, to survive a restart. */
  exportBlocks(): unknown;
  /** Puts back blocks from {@link RateLimiterPort.exportBlocks}; blocks already over are ignored. */
  restoreBlocks(snapshot: unknown): void;
  /** Calls `listener` whenever the blocks `exportBlocks()` returns change. @returns an unsubscribe function. */
  on(event: "blocksChange", listener: () => void): () => void;
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
  set(value: T): Promise<void>;
}

/** What the workflow engine needs from the store factory. */
export interface StoreFactoryPort {
  create<T extends object>(name: string): JsonStorePort<T>;
  cleanupQuarantine?(): Promise<unknown>;
}

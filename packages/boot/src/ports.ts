import type { FailureClass } from "@beauvoir/breaker";

/**
 * The narrow views of the other Beauvoir packages that boot, the step executor
 * and the workflow engine use. The real classes satisfy them; tests inject
 * fakes to provoke P0/P1 failures and crashes at exact points.
 */

/** Compensation strategy of an action after a crash (see `@beauvoir/idempotency`). */
export type CompensationStrategy = "safe_retry" | "check_then_retry" | "skip";

/** What the executor needs from the audit trail. */
export interface AuditTrailPort {
  /** Appends an intent record; resolves once it is on disk. @returns its `seq`. */
  recordIntent(input: {
    action: string;
    target: string;
    params: Record<string, unknown>;
    dedupeKey?: string;
  }): Promise<number>;
  /** Appends the result (or error) of an intent; resolves once it is on disk. */
  recordResult(intentSeq: number, result: unknown, error?: string): Promise<number>;
  /** Intents that have no result yet. */
  getPendingIntents(): ReadonlyArray<{
    seq: number;
    action: string;
    dedupeKey?: string | undefined;
  }>;
  /** The result record of an intent, if any. */
  findResultByIntentSeq(
    intentSeq: number,
  ):
    | Promise<{ result?: unknown; error?: string | undefined } | null>
    | { result?: unknown; error?: string | undefined }
    | null
    | undefined;
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
  result?: unknown;
  error?: string | undefined;
}

/** What the executor needs from the idempotency index. */
export interface IdempotencyIndexPort {
  generateKey(action: string, scope: string, resource: string, params: unknown): string;
  check(key: string): Promise<IdempotencyEntryView | null>;
  markPending(
    key: string,
    intentSeq: number,
    options?: { strategy?: CompensationStrategy; action?: string; takeover?: boolean },
  ): Promise<{ claimed: boolean; reason?: string; entry?: IdempotencyEntryView }>;
  markCompleted(key: string, result?: unknown): Promise<unknown>;
  markFailed(key: string, error: string): Promise<unknown>;
  /** Pending entries the audit trail could not settle; each needs compensation. */
  reconcilePending(): Promise<IdempotencyEntryView[]>;
  getStrategy(action: string): CompensationStrategy;
  close(): Promise<void>;
}

/** What the executor needs from the circuit breaker. */
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

/** What the executor needs from the rate limiter. */
export interface RateLimiterPort {
  tryConsume(workflowId: string): {
    allowed: boolean;
    retryAfterMs?: number | undefined;
    bucket?: "global" | "workflow" | null | undefined;
  };
  shutdown?(): void;
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

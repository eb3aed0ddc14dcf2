/**
 * What a backend's test file hands each contract suite: small structural
 * views of its services (this package depends on no backend), plus the
 * capabilities in which backends legitimately differ. A suite asserts the
 * behaviour each capability promises, either way: a difference is never a
 * skipped test.
 */

import type { DeniedEntry, DryRunEntry, IntentEntry } from "@beauvoir/audit-trail";

/** A durable JSON document. */
export interface StoreHandle<T> {
  get(): Promise<T | null>;
  set(value: T): Promise<unknown>;
}

/** The store contract's subject. */
export interface StoreSubject {
  capabilities: {
    /**
     * `true`: a write based on a stale read is refused with `STORE_CONFLICT`
     * (stores shared by replicas). `false`: the last write wins (one process
     * owns the files).
     */
    compareAndSet: boolean;
  };
  /** A handle on document `name`; two handles on one name are two writers (replicas, or processes in turn). */
  open<T extends object>(name: string): StoreHandle<T>;
}

/** A held lock. */
export interface LockHandle {
  release(): Promise<unknown> | unknown;
  /** The grant's fencing token, on backends that have them. */
  fence?: number | undefined;
}

/** One holder's lock manager. */
export interface LockManagerHandle {
  acquire(
    name: string,
    options?: { waitMs?: number; ttlMs?: number; autoRenew?: boolean },
  ): Promise<LockHandle>;
  releaseAll(): Promise<unknown> | unknown;
}

/** The locks contract's subject. */
export interface LocksSubject {
  capabilities: {
    /** Grants carry a strictly increasing `fence` (and `false`: they carry none). */
    fences: boolean;
    /** A lock whose holder stops renewing it is granted to another after `ttlMs` (and `false`: only after release or the holder's death). */
    leases: boolean;
  };
  /** A lock manager of another holder (a replica, or a process) on the same locks. */
  open(): Promise<LockManagerHandle>;
}

/** How a step's claim went. */
export type ContractClaim =
  | { claimed: true; attemptId?: string | undefined; fence?: number | undefined }
  | { claimed: false; status: "pending" | "completed" | "failed" };

/** What a settled key says. */
export interface ContractEntry {
  status: "pending" | "completed" | "failed";
  result?: unknown;
  error?: string | undefined;
}

/** The idempotency contract's subject: the index as a durable step writes it (intent and claim, result and settlement). */
export interface IdempotencySubject {
  capabilities: {
    /** Each claim gets an attempt id and a fence (and `false`: none). */
    attemptIds: boolean;
  };
  generateKey(action: string, scope: string, resource: string, params: unknown): string;
  /** Records the intent and claims the key. */
  claim(
    key: string,
    step: { action: string; target: string; params: Record<string, unknown> },
  ): Promise<ContractClaim>;
  /** Records the attempt's result and settles the key (`released`: runnable again). */
  settle(
    key: string,
    claim: ContractClaim & { claimed: true },
    outcome:
      | { status: "completed"; result?: unknown }
      | { status: "failed"; error: string }
      | { status: "released"; error: string },
  ): Promise<void>;
  /** The key, or `null` when it is unknown or runnable. */
  check(key: string): Promise<ContractEntry | null>;
  /** An operator's reset: runnable again, whatever it was. */
  reset(key: string): Promise<void>;
  /** How long a settled key deduplicates. */
  readonly ttlMs: number;
  /**
   * Lets expired keys go: the file index drops them on `evict()`; the
   * database expires them by its clock as they are read (nothing to do).
   */
  evictExpired(): Promise<void>;
}

/** An audit record as the exported JSONL history holds it. */
export interface ExportedRecord {
  seq: number;
  ts: string;
  phase: "intent" | "result" | "denied" | "dry_run";
  action: string;
  target: string;
  params: Record<string, unknown>;
  intentSeq?: number;
  result?: unknown;
  error?: string;
  dedupeKey?: string;
  prevHash: string;
  hash: string;
}

/** The audit contract's subject. */
export interface AuditSubject {
  capabilities: {
    /**
     * `true`: `recordIntent` answers the record's seq (the file trail).
     * `false`: a record id; seqs come from a sealer, in id order (PostgreSQL).
     */
    seqAtWrite: boolean;
  };
  recordIntent(input: IntentEntry): Promise<number>;
  recordResult(intentId: number, result: unknown, error?: string): Promise<number>;
  recordDenied(input: DeniedEntry): Promise<number>;
  recordDryRun(input: DryRunEntry): Promise<number>;
  findResultByDedupeKey(
    dedupeKey: string,
  ): Promise<{ intentSeq: number; ts: string; result?: unknown; error?: string } | null>;
  findResultByIntentSeq(
    intentId: number,
  ): Promise<{ result?: unknown; error?: string | undefined } | null>;
  /** Writes everything recorded so far as one JSONL history file. @returns its path. */
  exportHistory(): Promise<string>;
  /** The HMAC key the history is signed with, if any. */
  hmacKey?: string | undefined;
}

/** What a limiter answers. */
export type ContractConsumeResult =
  | { allowed: true }
  | { allowed: false; retryAfterMs: number; bucket: "global" | "workflow" };

/** One holder's rate limiter. */
export interface LimiterHandle {
  tryConsume(workflowId: string): Promise<ContractConsumeResult> | ContractConsumeResult;
  consume(
    workflowId: string,
    options?: { maxWaitMs?: number; signal?: AbortSignal },
  ): Promise<void>;
  recordRateLimitFailure(value: unknown, workflowId?: string): unknown;
}

/** A bucket: tokens it holds, tokens per hour it gets back. */
export interface BucketOptions {
  capacity: number;
  refillPerHour: number;
}

/** The limiter contract's subject. */
export interface LimiterSubject {
  capabilities: {
    /** Limiters opened on the same scope share their buckets and blocks (and `false`: each has its own). */
    shared: boolean;
  };
  /** A limiter on one scope; opened again with the same `scope`: another replica's (or process's). */
  open(options: {
    scope: string;
    global: BucketOptions;
    perWorkflow: BucketOptions;
  }): Promise<LimiterHandle>;
}

/** A side effect's context, as the executor hands it. */
export interface ContractSideEffectContext {
  signal: AbortSignal;
  idempotencyKey: string;
  attempt: number;
  intentSeq: number | undefined;
  attemptId?: string | undefined;
  fence?: number | bigint | undefined;
}

/** A step, as the contract submits it. */
export interface ContractStep {
  action: string;
  scope: string;
  resource: string;
  params: Record<string, unknown>;
  run: (context: ContractSideEffectContext) => Promise<unknown>;
  retry?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number };
}

/** What the executor answers. */
export interface ContractOutcome {
  status: string;
  idempotencyKey: string;
  result: unknown;
}

/** The executor, as the contract drives it. */
export interface ContractExecutor {
  execute(step: ContractStep): Promise<ContractOutcome>;
  resetKey(key: string, options?: { reason?: string }): Promise<unknown>;
  resolveKey(
    key: string,
    verdict: "done" | "not_done",
    options?: { reason?: string },
  ): Promise<unknown>;
}

/** A reconcile hook. */
export type ContractReconcileHook = (context: {
  key: string;
  action: string;
  scope: string;
  resource: string;
  params: Record<string, unknown>;
  target: string;
  signal: AbortSignal;
}) => Promise<"done" | "not_done">;

/** One process (or replica) running the executor on the backend's storage. */
export interface ExecutorInstance {
  executor: ContractExecutor;
  /** What boot's reconciliation (step 5) did. */
  reconciliation:
    | { promoted: string[]; rerun: string[]; failed: string[]; awaitingHook: string[] }
    | undefined;
  /**
   * Stops as a killed process would: nothing drained, nothing closed; with
   * leases, the lease ends (as it would after its TTL).
   */
  crash(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The executor contract's subject. */
export interface ExecutorSubject {
  capabilities: {
    /** `run()` gets the claim's `attemptId` and `fence` (and `false`: neither). */
    attemptIds: boolean;
  };
  /** Boots an executor on the shared storage, after the previous one was shut down or crashed. */
  start(options?: {
    reconcilers?: Record<string, ContractReconcileHook>;
  }): Promise<ExecutorInstance>;
  /** Every record written so far, as one exported JSONL history. @returns its path. */
  exportHistory(): Promise<string>;
}

import { createHash } from "node:crypto";
import { RateLimitedError } from "@beauvoir/rate-limiter";
import type {
  AuditTrailPort,
  CompensationStrategy,
  IdempotencyEntryView,
  IdempotencyIndexPort,
  RateLimiterPort,
} from "../src/ports.js";

export interface FakeRecord {
  seq: number;
  phase: "intent" | "result" | "denied" | "dry_run";
  ts: string;
  action?: string;
  target?: string;
  params?: Record<string, unknown>;
  dedupeKey?: string | undefined;
  intentSeq?: number;
  result?: unknown;
  error?: string | undefined;
}

/** An in-memory audit trail with the same pairing rules as the real one. */
export class MemoryAuditTrail implements AuditTrailPort {
  records: FakeRecord[] = [];
  failNext: { phase: FakeRecord["phase"]; error: Error } | undefined;
  closed = false;
  /** The records' clock. */
  now: () => number = () => Date.now();

  async recordIntent(input: {
    action: string;
    target: string;
    params: Record<string, unknown>;
    dedupeKey?: string;
  }) {
    return this.#append({
      phase: "intent",
      action: input.action,
      target: input.target,
      params: structuredClone(input.params),
      dedupeKey: input.dedupeKey,
    });
  }

  async recordResult(intentSeq: number, result: unknown, error?: string) {
    const intent = this.records.find(
      (record) => record.phase === "intent" && record.seq === intentSeq,
    );
    if (!intent) throw new Error(`no intent ${intentSeq}`);
    if (this.findResultByIntentSeq(intentSeq))
      throw new Error(`intent ${intentSeq} already has a result`);
    return this.#append({
      phase: "result",
      intentSeq,
      action: intent.action,
      target: intent.target,
      dedupeKey: intent.dedupeKey,
      ...(result === undefined ? {} : { result: structuredClone(result) }),
      ...(error === undefined ? {} : { error }),
    });
  }

  async recordDenied(input: {
    action: string;
    target: string;
    params: Record<string, unknown>;
    reason?: string;
  }) {
    return this.#append({
      phase: "denied",
      action: input.action,
      target: input.target,
      params: structuredClone(input.params),
      error: input.reason,
    });
  }

  async recordDryRun(input: { action: string; target: string; params: Record<string, unknown> }) {
    return this.#append({
      phase: "dry_run",
      action: input.action,
      target: input.target,
      params: structuredClone(input.params),
    });
  }

  async findResultByDedupeKey(dedupeKey: string) {
    const found = [...this.records]
      .reverse()
      .find((record) => record.phase === "result" && record.dedupeKey === dedupeKey);
    if (!found) return null;
    return {
      intentSeq: found.intentSeq as number,
      ts: found.ts,
      ...(Object.hasOwn(found, "result") ? { result: found.result } : {}),
      ...(found.error === undefined ? {} : { error: found.error }),
    };
  }

  /** Records of one phase. */
  phase(phase: FakeRecord["phase"]): FakeRecord[] {
    return this.records.filter((record) => record.phase === phase);
  }

  #append(record: Omit<FakeRecord, "seq" | "ts">): number {
    this.#maybeFail(record.phase);
    const seq = this.records.length + 1;
    this.records.push({ seq, ts: new Date(this.now()).toISOString(), ...record });
    return seq;
  }

  getPendingIntents() {
    const answered = new Set(
      this.records.filter((record) => record.phase === "result").map((r) => r.intentSeq),
    );
    return this.records
      .filter((record) => record.phase === "intent" && !answered.has(record.seq))
      .map((record) => ({
        seq: record.seq,
        action: record.action ?? "",
        target: record.target,
        params: record.params,
        dedupeKey: record.dedupeKey,
      }));
  }

  findResultByIntentSeq(intentSeq: number) {
    const record = this.records.find(
      (candidate) => candidate.phase === "result" && candidate.intentSeq === intentSeq,
    );
    return record ? { result: record.result, error: record.error } : null;
  }

  verifyChain() {
    return { valid: true };
  }

  async close() {
    this.closed = true;
  }

  #maybeFail(phase: FakeRecord["phase"]) {
    if (this.failNext?.phase === phase) {
      const { error } = this.failNext;
      this.failNext = undefined;
      throw error;
    }
  }
}

const DEFAULT_STRATEGIES: Record<string, CompensationStrategy> = {
  create_branch: "safe_retry",
  add_issue_comment: "check_then_retry",
  create_pull_request: "check_then_retry",
  add_labels: "safe_retry",
};

/** An in-memory idempotency index following the plan's transitions. */
export class MemoryIdempotencyIndex implements IdempotencyIndexPort {
  entries = new Map<string, IdempotencyEntryView>();
  closed = false;
  readonly audit: MemoryAuditTrail | undefined;
  readonly strategies: Record<string, CompensationStrategy>;

  constructor(
    audit?: MemoryAuditTrail,
    strategies: Record<string, CompensationStrategy> = DEFAULT_STRATEGIES,
  ) {
    this.audit = audit;
    this.strategies = strategies;
  }

  generateKey(action: string, scope: string, resource: string, params: unknown) {
    const hash = createHash("sha256").update(JSON.stringify(params)).digest("hex").slice(0, 16);
    return `${action}:${scope}/${resource}:${hash}`;
  }

  async check(key: string) {
    const entry = this.entries.get(key);
    return entry ? { ...entry } : null;
  }

  takeovers = 0;
  /** Every transition, in order: `pending`, `completed`, `failed`, `settle:…`, `reset`. */
  readonly journal: string[] = [];
  ttlMs = 7 * 24 * 60 * 60 * 1000;
  failNextReset: Error | undefined;

  async markPending(
    key: string,
    intentSeq: number,
    options: { strategy?: CompensationStrategy; action?: string; takeover?: boolean } = {},
  ): Promise<{ claimed: boolean; reason?: string; entry?: IdempotencyEntryView }> {
    const existing = this.entries.get(key);
    if (existing && existing.status !== "pending") {
      return { claimed: false, reason: existing.status, entry: { ...existing } };
    }
    if (existing && !options.takeover) throw new Error(`${key} is already pending`);
    if (existing) this.takeovers++;
    const action = options.action ?? key.split(":")[0] ?? "";
    const strategy = options.strategy ?? this.getStrategy(action);
    const entry = { key, status: "pending" as const, intentSeq, strategy, action };
    this.entries.set(key, entry);
    this.journal.push(`pending:${key}`);
    return { claimed: true, entry };
  }

  async markCompleted(key: string, result?: unknown) {
    // The real index stores JSON: a value JSON cannot hold is refused.
    if (result !== undefined) JSON.stringify(result);
    this.#transition(key, {
      status: "completed",
      ...(result === undefined ? {} : { result: structuredClone(result) }),
    });
    this.journal.push(`completed:${key}`);
  }

  async markFailed(key: string, error: string) {
    this.#transition(key, { status: "failed", error });
    this.journal.push(`failed:${key}`);
  }

  async settle(
    key: string,
    settlement: {
      status: "completed" | "failed";
      action?: string;
      strategy?: CompensationStrategy;
      intentSeq?: number;
      result?: unknown;
      error?: string;
    },
  ) {
    const previous = this.entries.get(key);
    const entry: IdempotencyEntryView = {
      key,
      status: settlement.status,
      intentSeq: settlement.intentSeq ?? previous?.intentSeq,
      strategy: settlement.strategy ?? previous?.strategy,
      action: settlement.action ?? previous?.action,
      ...(settlement.result === undefined ? {} : { result: structuredClone(settlement.result) }),
      ...(settlement.error === undefined ? {} : { error: settlement.error }),
    };
    this.entries.set(key, entry);
    this.journal.push(`settle:${settlement.status}:${key}`);
    return entry;
  }

  async reset(key: string) {
    if (this.failNextReset) {
      const error = this.failNextReset;
      this.failNextReset = undefined;
      throw error;
    }
    const previous = this.entries.get(key) ?? null;
    this.entries.delete(key);
    this.journal.push(`reset:${key}`);
    return previous;
  }

  async reconcilePending() {
    const needing: IdempotencyEntryView[] = [];
    for (const entry of this.entries.values()) {
      if (entry.status !== "pending") continue;
      const found =
        entry.intentSeq === undefined ? null : this.audit?.findResultByIntentSeq(entry.intentSeq);
      if (found && found.error !== undefined)
        this.#transition(entry.key, { status: "failed", error: found.error });
      else if (found) this.#transition(entry.key, { status: "completed", result: found.result });
      else needing.push({ ...entry });
    }
    return needing;
  }

  getStrategy(action: string): CompensationStrategy {
    return this.strategies[action] ?? "skip";
  }

  async close() {
    this.closed = true;
  }

  #transition(key: string, change: Partial<IdempotencyEntryView>) {
    const entry = this.entries.get(key);
    if (entry?.status !== "pending") throw new Error(`no pending entry for ${key}`);
    this.entries.set(key, { ...entry, ...change });
  }
}

/** A rate limiter that allows `budget` calls, then refuses with RATE_LIMITED; it records what it is told. */
export class CountingRateLimiter implements RateLimiterPort {
  budget: number;
  consumed: string[] = [];
  waits: Array<{ workflowId: string; maxWaitMs: number | undefined }> = [];
  failures: unknown[] = [];
  observed: unknown[] = [];
  blocks: unknown = { version: 1, blocks: [] };
  restored: unknown[] = [];
  stopped = false;
  readonly #listeners = new Set<() => void>();

  constructor(budget = Number.POSITIVE_INFINITY) {
    this.budget = budget;
  }

  async consume(workflowId: string, options: { signal?: AbortSignal; maxWaitMs?: number } = {}) {
    options.signal?.throwIfAborted();
    this.waits.push({ workflowId, maxWaitMs: options.maxWaitMs });
    if (this.consumed.length >= this.budget) {
      throw new RateLimitedError(1234, "workflow", workflowId);
    }
    this.consumed.push(workflowId);
  }

  recordRateLimitFailure(value: unknown) {
    this.failures.push(value);
    return null;
  }

  observeResponse(value: unknown) {
    this.observed.push(value);
    return null;
  }

  exportBlocks() {
    return this.blocks;
  }

  restoreBlocks(snapshot: unknown) {
    this.restored.push(snapshot);
  }

  on(_event: "blocksChange", listener: () => void) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells the listeners the blocks changed. */
  changed(blocks: unknown) {
    this.blocks = blocks;
    for (const listener of this.#listeners) listener();
  }

  shutdown() {
    this.stopped = true;
  }
}

/** An in-memory store factory; `failNextSet` makes the next write of any store fail. */
export class MemoryStoreFactory {
  readonly documents = new Map<string, unknown>();
  writes = 0;
  failNextSet: Error | undefined;

  create<T extends object>(name: string) {
    return {
      get: async (): Promise<T | null> => {
        const value = this.documents.get(name);
        return value === undefined ? null : (structuredClone(value) as T);
      },
      set: async (value: T): Promise<void> => {
        if (this.failNextSet) {
          const error = this.failNextSet;
          this.failNextSet = undefined;
          throw error;
        }
        this.writes++;
        this.documents.set(name, structuredClone(value));
      },
    };
  }
}

/** An in-memory lock manager whose locks can be pre-held by "another process". */
export class MemoryLockManager {
  readonly held = new Set<string>();
  readonly #mine = new Set<string>();
  recovered = 0;
  released = false;
  failRecovery: Error | undefined;

  async acquire(name: string) {
    if (this.held.has(name)) {
      throw Object.assign(new Error(`lock ${name} is held by pid 4242`), {
        code: "LOCK_HELD",
        owner: { pid: 4242 },
      });
    }
    this.held.add(name);
    this.#mine.add(name);
    return {
      release: async () => {
        this.held.delete(name);
        this.#mine.delete(name);
      },
    };
  }

  async recoverStaleLocks() {
    if (this.failRecovery) throw this.failRecovery;
    this.recovered++;
    return { recovered: [], live: [] };
  }

  /** Releases the locks this manager took, as the real one does (not "another process's"). */
  async releaseAll() {
    this.released = true;
    for (const name of this.#mine) this.held.delete(name);
    this.#mine.clear();
  }
}

/** A logger that keeps every line. */
export function capturingLogger() {
  const lines: Array<{ level: string; message: string; data?: Record<string, unknown> }> = [];
  const at = (level: string) => (message: string, data?: Record<string, unknown>) =>
    lines.push({ level, message, ...(data ? { data } : {}) });
  return {
    lines,
    logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
  };
}

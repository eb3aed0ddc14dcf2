import { createHash } from "node:crypto";
import type {
  AuditTrailPort,
  CompensationStrategy,
  IdempotencyEntryView,
  IdempotencyIndexPort,
  RateLimiterPort,
} from "../src/ports.js";

export interface FakeRecord {
  seq: number;
  phase: "intent" | "result";
  action?: string;
  dedupeKey?: string | undefined;
  intentSeq?: number;
  result?: unknown;
  error?: string | undefined;
}

/** An in-memory audit trail with the same pairing rules as the real one. */
export class MemoryAuditTrail implements AuditTrailPort {
  records: FakeRecord[] = [];
  failNext: { phase: "intent" | "result"; error: Error } | undefined;
  closed = false;

  async recordIntent(input: {
    action: string;
    target: string;
    params: Record<string, unknown>;
    dedupeKey?: string;
  }) {
    this.#maybeFail("intent");
    const seq = this.records.length + 1;
    this.records.push({ seq, phase: "intent", action: input.action, dedupeKey: input.dedupeKey });
    return seq;
  }

  async recordResult(intentSeq: number, result: unknown, error?: string) {
    this.#maybeFail("result");
    const seq = this.records.length + 1;
    this.records.push({ seq, phase: "result", intentSeq, result, error });
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

  #maybeFail(phase: "intent" | "result") {
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

  async markPending(
    key: string,
    intentSeq: number,
    options: { strategy?: CompensationStrategy; takeover?: boolean } = {},
  ): Promise<{ claimed: boolean; reason?: string; entry?: IdempotencyEntryView }> {
    const existing = this.entries.get(key);
    if (existing && existing.status !== "pending") {
      throw new Error(`cannot mark ${existing.status} entry pending`);
    }
    if (existing && !options.takeover) throw new Error(`${key} is already pending`);
    if (existing) this.takeovers++;
    const strategy = options.strategy ?? this.getStrategy(key.split(":")[0] ?? "");
    const entry = { key, status: "pending" as const, intentSeq, strategy };
    this.entries.set(key, entry);
    return { claimed: true, entry };
  }

  async markCompleted(key: string, result?: unknown) {
    this.#transition(key, { status: "completed", result });
  }

  async markFailed(key: string, error: string) {
    this.#transition(key, { status: "failed", error });
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

/** A rate limiter that allows `budget` calls, then refuses. */
export class CountingRateLimiter implements RateLimiterPort {
  budget: number;
  consumed: string[] = [];
  stopped = false;

  constructor(budget = Number.POSITIVE_INFINITY) {
    this.budget = budget;
  }

  tryConsume(workflowId: string) {
    if (this.consumed.length >= this.budget) return { allowed: false, retryAfterMs: 1234 };
    this.consumed.push(workflowId);
    return { allowed: true };
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
    return { release: async () => void this.held.delete(name) };
  }

  async recoverStaleLocks() {
    if (this.failRecovery) throw this.failRecovery;
    this.recovered++;
    return { recovered: [], live: [] };
  }

  async releaseAll() {
    this.released = true;
    this.held.clear();
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

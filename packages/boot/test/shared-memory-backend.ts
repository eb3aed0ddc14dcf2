import { randomUUID } from "node:crypto";
import type { BootBackend, BootBackendServices } from "../src/backend.js";
import type {
  AtomicClaim,
  AtomicClaimInput,
  AtomicSettleInput,
  AtomicSettleOutcome,
  CompensationStrategy,
  IdempotencyEntryView,
  IdempotencyIndexPort,
  JsonStorePort,
  LockManagerPort,
  StoreFactoryPort,
  WorkflowRunOwnership,
  WorkflowRunStorePort,
} from "../src/ports.js";
import type { WorkflowRunState } from "../src/workflow-engine.js";
import { MemoryAuditTrail } from "./fakes.js";

interface SharedKey {
  key: string;
  status: "pending" | "completed" | "failed" | "released";
  action: string;
  strategy: CompensationStrategy;
  owner: string;
  attemptId: string;
  fence: number;
  intentSeq: number;
  result?: unknown;
  error?: string | undefined;
}

interface SharedRun {
  state: WorkflowRunState;
  owner: string;
  fence: number;
}

const STRATEGIES: Record<string, CompensationStrategy> = {
  add_labels: "safe_retry",
  add_issue_comment: "check_then_retry",
};

/**
 * What replicas share on a database backend, in memory: keys with owners,
 * attempts and fences, one audit trail, documents with write epochs,
 * workflow runs with owners. A test stands for the database: it decides whose
 * lease is live.
 */
export class SharedMemory {
  readonly audit: MemoryAuditTrail = new SharedAuditTrail(this);
  readonly keys = new Map<string, SharedKey>();
  readonly runs = new Map<string, SharedRun>();
  readonly documents = new Map<string, { value: unknown; epoch: number }>();
  readonly live = new Set<string>();
  /** Every atomic call, in order: `claim:<key>`, `settle:<key>:<status>`, … */
  readonly calls: string[] = [];
  #fence = 0;

  nextFence(): number {
    return ++this.#fence;
  }

  /** A replica of a bot on this memory. */
  replica(options: { takeoverIntervalMs?: number; failOpen?: Error } = {}): MemoryReplica {
    return new MemoryReplica(this, options);
  }
}

/**
 * The audit trail of a shared backend: the open intents it lists for boot to
 * close are those no pending key holds (a live replica's step owns its own).
 */
class SharedAuditTrail extends MemoryAuditTrail {
  readonly #shared: SharedMemory;

  constructor(shared: SharedMemory) {
    super();
    this.#shared = shared;
  }

  override getPendingIntents() {
    const held = new Set(
      [...this.#shared.keys.values()]
        .filter((entry) => entry.status === "pending")
        .map((entry) => entry.intentSeq),
    );
    return super.getPendingIntents().filter((intent) => !held.has(intent.seq));
  }
}

/** One replica's backend. */
export class MemoryReplica implements BootBackend {
  readonly name = "memory";
  readonly id = randomUUID();
  readonly lease = new AbortController();
  closed = false;
  /** A claim answered `pending` once before the real one (another replica won the race). */
  loseNextClaim = false;
  readonly #shared: SharedMemory;
  readonly #options: { takeoverIntervalMs?: number; failOpen?: Error };

  constructor(shared: SharedMemory, options: { takeoverIntervalMs?: number; failOpen?: Error }) {
    this.#shared = shared;
    this.#options = options;
  }

  /** The database lets this replica's lease go (it died, or was cut off). */
  die(): void {
    this.#shared.live.delete(this.id);
  }

  /** It learns it lost its lease. */
  loseLease(): void {
    this.die();
    this.lease.abort(Object.assign(new Error("lease lost"), { code: "LEASE_LOST" }));
  }

  async open(): Promise<BootBackendServices> {
    if (this.#options.failOpen) throw this.#options.failOpen;
    this.#shared.live.add(this.id);
    return {
      lockManager: memoryLocks(),
      auditTrail: this.#shared.audit,
      storeFactory: memoryStores(this.#shared),
      idempotencyIndex: new MemoryAtomicIndex(this.#shared, this),
      workflowRuns: new MemoryRuns(this.#shared, this.id),
      signal: this.lease.signal,
      ...(this.#options.takeoverIntervalMs === undefined
        ? {}
        : { takeoverIntervalMs: this.#options.takeoverIntervalMs }),
      close: async () => {
        this.closed = true;
        this.#shared.live.delete(this.id);
      },
    };
  }
}

function memoryLocks(): LockManagerPort {
  return {
    acquire: async () => ({ release: () => {} }),
    recoverStaleLocks: async () => ({ recovered: 0 }),
    releaseAll: () => {},
  };
}

function memoryStores(shared: SharedMemory): StoreFactoryPort {
  return {
    create<T extends object>(name: string): JsonStorePort<T> {
      let epoch = 0;
      return {
        async get() {
          const stored = shared.documents.get(name);
          epoch = stored?.epoch ?? 0;
          return (stored?.value as T | undefined) ?? null;
        },
        async set(value: T) {
          const stored = shared.documents.get(name);
          if ((stored?.epoch ?? 0) !== epoch) {
            throw Object.assign(new Error("another replica wrote first"), {
              code: "STORE_CONFLICT",
            });
          }
          epoch++;
          shared.documents.set(name, { value: structuredClone(value), epoch });
        },
      };
    },
  };
}

class MemoryAtomicIndex implements IdempotencyIndexPort {
  readonly ttlMs = 7 * 24 * 60 * 60 * 1000;
  readonly atomicSteps;
  readonly #shared: SharedMemory;
  readonly #replica: MemoryReplica;

  constructor(shared: SharedMemory, replica: MemoryReplica) {
    this.#shared = shared;
    this.#replica = replica;
    this.atomicSteps = {
      claim: (input: AtomicClaimInput) => this.#claim(input),
      settle: (input: AtomicSettleInput) => this.#settle(input),
      takeOver: async (key: string) => this.#takeOver(key),
      decide: async (
        key: string,
        decision: "done" | "not_done" | "reset",
        options: { result?: unknown },
      ) => {
        shared.calls.push(`decide:${key}:${decision}`);
        const before = this.#view(shared.keys.get(key));
        const entry = shared.keys.get(key);
        if (entry) {
          entry.attemptId = randomUUID();
          entry.status = decision === "done" ? "completed" : "released";
          entry.result = decision === "done" ? options.result : undefined;
        }
        return before;
      },
    };
  }

  generateKey(action: string, scope: string, resource: string, params: unknown): string {
    return `${action}:${scope}/${resource}:${JSON.stringify(params)}`;
  }

  getStrategy(action: string): CompensationStrategy {
    return STRATEGIES[action] ?? "skip";
  }

  async check(key: string): Promise<IdempotencyEntryView | null> {
    return this.#view(this.#shared.keys.get(key));
  }

  async markPending(): Promise<never> {
    throw new Error("atomic backends never mark pending");
  }

  async markCompleted(): Promise<never> {
    throw new Error("atomic backends never mark completed");
  }

  async markFailed(): Promise<never> {
    throw new Error("atomic backends never mark failed");
  }

  async settle(): Promise<never> {
    throw new Error("atomic backends never settle through the pairs");
  }

  async reset(): Promise<never> {
    throw new Error("atomic backends decide");
  }

  async reconcilePending(): Promise<IdempotencyEntryView[]> {
    const taken: IdempotencyEntryView[] = [];
    for (const entry of this.#shared.keys.values()) {
      if (entry.status !== "pending") continue;
      if (entry.owner === this.#replica.id) taken.push(this.#view(entry) as IdempotencyEntryView);
      else if (!this.#shared.live.has(entry.owner)) {
        const view = this.#takeOver(entry.key);
        if (view) taken.push(view);
      }
    }
    return taken;
  }

  async close(): Promise<void> {}

  async #claim(input: AtomicClaimInput): Promise<AtomicClaim> {
    const shared = this.#shared;
    shared.calls.push(`claim:${input.key}${input.supersede ? ":supersede" : ""}`);
    if (!shared.live.has(this.#replica.id)) {
      throw Object.assign(new Error("not live"), { code: "LEASE_LOST" });
    }
    const existing = shared.keys.get(input.key);
    if (this.#replica.loseNextClaim) {
      // Another replica claims it first and holds it a moment.
      this.#replica.loseNextClaim = false;
      const other = [...shared.live].find((id) => id !== this.#replica.id) ?? "someone";
      shared.keys.set(input.key, this.#fresh(input, other));
      setTimeout(() => {
        const entry = shared.keys.get(input.key);
        if (entry) Object.assign(entry, { status: "completed", result: "by the other replica" });
      }, 60);
      return { claimed: false, entry: this.#view(shared.keys.get(input.key)) };
    }
    if (input.supersede) {
      if (existing?.attemptId !== input.supersede.attemptId || existing.status !== "pending") {
        return { claimed: false, entry: this.#view(existing) };
      }
      await shared.audit.recordResult(existing.intentSeq, undefined, input.supersede.error);
    } else if (existing && existing.status !== "released") {
      return { claimed: false, entry: this.#view(existing) };
    }
    const entry = this.#fresh(input, this.#replica.id);
    entry.intentSeq = await shared.audit.recordIntent({
      action: input.action,
      target: input.target,
      params: input.params,
      dedupeKey: input.key,
    });
    shared.keys.set(input.key, entry);
    return {
      claimed: true,
      intentSeq: entry.intentSeq,
      attemptId: entry.attemptId,
      fence: entry.fence,
    };
  }

  #fresh(input: AtomicClaimInput, owner: string): SharedKey {
    return {
      key: input.key,
      status: "pending",
      action: input.action,
      strategy: input.strategy,
      owner,
      attemptId: randomUUID(),
      fence: this.#shared.nextFence(),
      intentSeq: 0,
    };
  }

  async #settle(input: AtomicSettleInput): Promise<AtomicSettleOutcome> {
    const shared = this.#shared;
    shared.calls.push(`settle:${input.key}:${input.status}`);
    const entry = shared.keys.get(input.key);
    if (entry?.attemptId !== input.attemptId || entry.status !== "pending") {
      return { settled: false, entry: this.#view(entry) };
    }
    await shared.audit.recordResult(entry.intentSeq, input.result, input.error);
    Object.assign(entry, { status: input.status, result: input.result, error: input.error });
    let workflowAdvanced = false;
    const workflow = input.workflow;
    if (workflow) {
      const run = shared.runs.get(workflow.runId);
      if (run && run.owner === this.#replica.id && run.fence === workflow.ownership.fence) {
        run.state = structuredClone(workflow.state) as WorkflowRunState;
        workflowAdvanced = true;
      }
    }
    return { settled: true, workflowAdvanced };
  }

  #takeOver(key: string): IdempotencyEntryView | null {
    const entry = this.#shared.keys.get(key);
    if (entry?.status !== "pending" || this.#shared.live.has(entry.owner)) return null;
    this.#shared.calls.push(`takeOver:${key}`);
    Object.assign(entry, {
      owner: this.#replica.id,
      attemptId: randomUUID(),
      fence: this.#shared.nextFence(),
    });
    const intent = this.#shared.audit.records.find((record) => record.seq === entry.intentSeq);
    return {
      ...(this.#view(entry) as IdempotencyEntryView),
      ...(intent
        ? {
            intent: {
              seq: intent.seq,
              action: intent.action ?? "",
              target: intent.target,
              params: intent.params,
              dedupeKey: key,
            },
          }
        : {}),
    };
  }

  #view(entry: SharedKey | undefined): IdempotencyEntryView | null {
    if (entry === undefined || entry.status === "released") return null;
    return {
      key: entry.key,
      status: entry.status,
      action: entry.action,
      strategy: entry.strategy,
      intentSeq: entry.intentSeq,
      attemptId: entry.attemptId,
      fence: entry.fence,
      ownedHere: entry.owner === this.#replica.id,
      ownerLive: this.#shared.live.has(entry.owner),
      ...(entry.result === undefined ? {} : { result: entry.result }),
      ...(entry.error === undefined ? {} : { error: entry.error }),
    };
  }
}

class MemoryRuns implements WorkflowRunStorePort<WorkflowRunState> {
  readonly #shared: SharedMemory;
  readonly #id: string;

  constructor(shared: SharedMemory, id: string) {
    this.#shared = shared;
    this.#id = id;
  }

  async create(state: WorkflowRunState): Promise<WorkflowRunState> {
    const existing = this.#shared.runs.get(state.runId);
    if (existing) return existing.state;
    this.#shared.runs.set(state.runId, {
      state: structuredClone(state),
      owner: this.#id,
      fence: this.#shared.nextFence(),
    });
    return state;
  }

  async get(runId: string): Promise<WorkflowRunState | null> {
    const run = this.#shared.runs.get(runId);
    return run ? structuredClone(run.state) : null;
  }

  async listUnfinished(): Promise<string[]> {
    return [...this.#shared.runs.values()]
      .filter((run) => run.state.status === "running")
      .map((run) => run.state.runId);
  }

  async acquire(runId: string): Promise<WorkflowRunOwnership | null> {
    const run = this.#shared.runs.get(runId);
    if (run?.state.status !== "running") return null;
    if (run.owner !== this.#id) {
      if (this.#shared.live.has(run.owner)) return null;
      run.owner = this.#id;
      run.fence = this.#shared.nextFence();
    }
    return { runId, fence: run.fence };
  }

  async save(state: WorkflowRunState, ownership: WorkflowRunOwnership): Promise<boolean> {
    const run = this.#shared.runs.get(state.runId);
    if (!run || run.owner !== this.#id || run.fence !== ownership.fence) return false;
    run.state = structuredClone(state);
    return true;
  }
}

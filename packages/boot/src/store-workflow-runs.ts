import { AsyncMutex } from "@beauvoir/mutex";
import type {
  JsonStorePort,
  StoreFactoryPort,
  WorkflowRunOwnership,
  WorkflowRunStorePort,
} from "./ports.js";
import type { WorkflowRunState } from "./workflow-engine.js";
import { ACTIVE_RUNS_STORE, runStoreName } from "./workflow-engine-state.js";

interface ActiveRuns {
  active: string[];
}

/**
 * The file backend's workflow runs: each run in its own store document
 * (`runStoreName(runId)`), the unfinished ones listed in `workflow-runs`.
 * One process owns every run, so ownership always holds (fence 0).
 */
export class StoreWorkflowRuns implements WorkflowRunStorePort<WorkflowRunState> {
  readonly #factory: StoreFactoryPort;
  readonly #runStores = new Map<string, JsonStorePort<WorkflowRunState>>();
  readonly #activeMutex = new AsyncMutex({ maxHoldMs: Number.POSITIVE_INFINITY });
  #activeStore: JsonStorePort<ActiveRuns> | undefined;

  /** @param factory - the store factory the documents live in. */
  constructor(factory: StoreFactoryPort) {
    this.#factory = factory;
  }

  async create(state: WorkflowRunState): Promise<WorkflowRunState> {
    const store = this.#run(state.runId);
    const existing = await store.get();
    if (existing) return existing;
    await store.set(state);
    await this.#updateActive((active) =>
      active.includes(state.runId) ? active : [...active, state.runId],
    );
    return state;
  }

  async get(runId: string): Promise<WorkflowRunState | null> {
    return (await this.#run(runId).get()) ?? null;
  }

  async listUnfinished(): Promise<string[]> {
    const stored = await this.#active().get();
    return [...(stored?.active ?? [])];
  }

  async acquire(runId: string): Promise<WorkflowRunOwnership> {
    return { runId, fence: 0 };
  }

  async save(state: WorkflowRunState): Promise<boolean> {
    await this.#run(state.runId).set(state);
    if (state.status !== "running") await this.forgetFinished(state.runId);
    return true;
  }

  /** Drops a finished run from the list (a crash between the two writes leaves it listed). */
  async forgetFinished(runId: string): Promise<void> {
    await this.#updateActive((active) =>
      active.includes(runId) ? active.filter((id) => id !== runId) : active,
    );
  }

  async #updateActive(change: (active: string[]) => string[]): Promise<void> {
    const release = await this.#activeMutex.acquire();
    try {
      const store = this.#active();
      const current = (await store.get())?.active ?? [];
      const next = change(current);
      if (next !== current) await store.set({ active: next });
    } finally {
      release();
    }
  }

  #active(): JsonStorePort<ActiveRuns> {
    this.#activeStore ??= this.#factory.create<ActiveRuns>(ACTIVE_RUNS_STORE);
    return this.#activeStore;
  }

  #run(runId: string): JsonStorePort<WorkflowRunState> {
    let store = this.#runStores.get(runId);
    if (!store) {
      store = this.#factory.create<WorkflowRunState>(runStoreName(runId));
      this.#runStores.set(runId, store);
    }
    return store;
  }
}

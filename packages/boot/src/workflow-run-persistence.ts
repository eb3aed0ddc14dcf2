import { assertSafeName } from "@beauvoir/core";
import {
  SubsystemUnavailableError,
  WorkflowNotFoundError,
  WorkflowRunOwnedError,
} from "./errors.js";
import type { WorkflowRunOwnership, WorkflowRunStorePort } from "./ports.js";
import type { WorkflowRunState } from "./workflow-run-state.js";

/** Finished runs whose unredacted state the engine keeps in memory (the older ones read back redacted). */
const LIVE_FINISHED_RUNS = 100;

/**
 * Where the workflow engine keeps its runs: the run store (which writes
 * them redacted), the unredacted states of the runs this process wrote,
 * and this process's ownership of each run it advances. Without a run
 * store (degraded mode) the calls that reach it throw `SUBSYSTEM_UNAVAILABLE`.
 */
export class WorkflowRunPersistence {
  readonly #runs: WorkflowRunStorePort<WorkflowRunState> | undefined;
  /**
   * Unredacted states of the runs this process wrote, by run id: every
   * running one, and the last {@link LIVE_FINISHED_RUNS} finished ones.
   */
  readonly #live = new Map<string, WorkflowRunState>();
  /** The runs this engine has taken ownership of. */
  readonly #owned = new Map<string, WorkflowRunOwnership>();

  /** @param runs - the run store, already redacting; `undefined` in degraded mode. */
  constructor(runs: WorkflowRunStorePort<WorkflowRunState> | undefined) {
    this.#runs = runs;
  }

  /**
   * The run store.
   * @throws {@link SubsystemUnavailableError} without one.
   */
  require(): WorkflowRunStorePort<WorkflowRunState> {
    if (!this.#runs) throw new SubsystemUnavailableError("store");
    return this.#runs;
  }

  /** Whether this process holds the run's unredacted state. */
  isLive(runId: string): boolean {
    return this.#live.has(runId);
  }

  /**
   * A run's state: the unredacted one when this process wrote it, else the
   * stored (redacted) one.
   * @param runId - the run (a safe file name).
   * @returns a copy of the state, or null for an unknown run.
   */
  async get(runId: string): Promise<WorkflowRunState | null> {
    const live = this.#live.get(assertSafeName(runId));
    // A copy, as the store gives: changing it does not change the run.
    if (live) return { ...live, outputs: { ...live.outputs } };
    return this.require().get(runId);
  }

  /**
   * A run's state, which must exist.
   * @throws {@link WorkflowNotFoundError} for an unknown run.
   */
  async load(runId: string): Promise<WorkflowRunState> {
    const state = await this.get(runId);
    if (!state) throw new WorkflowNotFoundError(runId, "run");
    return state;
  }

  /**
   * Writes a new run's first state (redacted by the store) and keeps it,
   * unredacted, in memory.
   */
  async create(state: WorkflowRunState): Promise<void> {
    await this.require().create(state);
    this.remember(state);
  }

  /**
   * Writes a run's state (redacted by the store) while this engine owns it,
   * and keeps it, unredacted, in memory.
   * @throws {@link WorkflowRunOwnedError} when the run was taken over.
   */
  async save(state: WorkflowRunState, ownership: WorkflowRunOwnership): Promise<void> {
    if (!(await this.require().save(state, ownership))) {
      // Taken over: what this engine remembers of the run is not the run any more.
      this.#owned.delete(state.runId);
      this.#live.delete(state.runId);
      throw new WorkflowRunOwnedError(state.runId);
    }
    this.remember(state);
  }

  /**
   * Keeps a state written elsewhere (by a backend, in the step's settlement
   * transaction) as the run's unredacted state.
   */
  remember(state: WorkflowRunState): void {
    this.#live.delete(state.runId);
    this.#live.set(state.runId, state);
    if (state.status !== "running") this.#forgetOldFinishedRuns();
  }

  /**
   * This engine's ownership of a run, taken (over) the first time it advances it.
   * @throws {@link WorkflowRunOwnedError} when another live replica owns it.
   */
  async ownership(runId: string): Promise<WorkflowRunOwnership> {
    const held = this.#owned.get(runId);
    if (held) return held;
    const taken = await this.require().acquire(runId);
    if (taken === null) {
      this.#live.delete(runId);
      throw new WorkflowRunOwnedError(runId);
    }
    this.#owned.set(runId, taken);
    return taken;
  }

  #forgetOldFinishedRuns(): void {
    let finished = 0;
    for (const state of this.#live.values()) if (state.status !== "running") finished++;
    // Insertion order is save order: the oldest finished runs come first.
    for (const [runId, state] of this.#live) {
      if (finished <= LIVE_FINISHED_RUNS) break;
      if (state.status === "running") continue;
      this.#live.delete(runId);
      finished--;
    }
  }
}

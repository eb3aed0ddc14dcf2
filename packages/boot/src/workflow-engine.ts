import { randomUUID } from "node:crypto";
import { assertSafeName, type Clock, type Logger, silentLogger, systemClock } from "@beauvoir/core";
import { AsyncMutex } from "@beauvoir/mutex";
import { SecretRedactor } from "@beauvoir/redactor";
import {
  describeError,
  ShuttingDownError,
  WorkflowNotFoundError,
  WorkflowRunOwnedError,
} from "./errors.js";
import { toJsonSafe } from "./json-safe.js";
import type {
  RedactorPort,
  StoreFactoryPort,
  WorkflowRunOwnership,
  WorkflowRunStorePort,
} from "./ports.js";
import { redactingRunStore } from "./redacting-run-store.js";
import { redactingStoreFactory } from "./redacting-store.js";
import { settleWithin } from "./settle-within.js";
import type { DurableStepExecutor } from "./step-executor.js";
import type { StepOutcome } from "./step-outcome.js";
import { StoreWorkflowRuns } from "./store-workflow-runs.js";
import { attachAdvance, type PendingAdvance } from "./workflow-advance.js";
import { assertValidWorkflowDefinition, type WorkflowDefinition } from "./workflow-definition.js";
import { type KeyPinning, pinnedStepKey } from "./workflow-key-pinning.js";
import { WorkflowRunPersistence } from "./workflow-run-persistence.js";
import { type AdvanceResult, stateAfterStep, type WorkflowRunState } from "./workflow-run-state.js";
import {
  copyStepOptions,
  stepContextOf,
  stepIdentityOf,
  stepRequestOf,
} from "./workflow-step-request.js";

export type {
  StepIdentity,
  WorkflowDefinition,
  WorkflowStepContext,
  WorkflowStepDefinition,
} from "./workflow-definition.js";
export type { AdvanceResult, WorkflowRunState } from "./workflow-run-state.js";

/** Options of {@link WorkflowEngine}. */
export interface WorkflowEngineOptions {
  /** Runs the steps. */
  executor: DurableStepExecutor;
  /** Holds run state; the engine refuses to work without it (degraded mode). */
  storeFactory: StoreFactoryPort | undefined;
  /**
   * Where runs live, when not in `storeFactory`'s documents: a backend shared
   * by replicas gives each run an owner (boot passes the backend's). States
   * are written redacted, as in the documents.
   * @default runs in `storeFactory`
   */
  runStore?: WorkflowRunStorePort<WorkflowRunState> | undefined;
  /** Applied to every run state before it is written. @default new SecretRedactor() */
  redactor?: RedactorPort | undefined;
  /**
   * The index's key derivation (boot passes `idempotencyIndex.generateKey`),
   * so that a step whose identity carries a secret keeps its key across a
   * resume. @default none: keys are not pinned
   */
  generateKey?:
    | ((action: string, scope: string, resource: string, params: unknown) => string)
    | undefined;
  /** @default silentLogger */
  logger?: Logger | undefined;
  /** @default systemClock */
  clock?: Clock | undefined;
}

/**
 * A small workflow engine: runs made of named steps, each executed by the
 * {@link DurableStepExecutor}, with the run's progress in a resilient store so
 * that {@link WorkflowEngine.resumeUnfinished} picks up where a crash left off.
 *
 * @example
 * ```ts
 * workflows.register({ name: "greet", steps: [{ name: "comment", action: "add_issue_comment", run: postComment }] });
 * const runId = await workflows.start("greet", { issue: 12 });
 * const state = await workflows.run(runId);
 * ```
 */
export class WorkflowEngine {
  readonly #executor: DurableStepExecutor;
  readonly #runs: WorkflowRunPersistence;
  readonly #redactor: RedactorPort;
  readonly #pinning: KeyPinning;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #definitions = new Map<string, WorkflowDefinition<never>>();
  readonly #runLocks = new Map<string, AsyncMutex>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #accepting = true;

  /** @param options - executor, store factory, logger, clock. */
  constructor(options: WorkflowEngineOptions) {
    if (!options?.executor) throw new TypeError("options.executor is required");
    this.#executor = options.executor;
    const redactor = options.redactor ?? new SecretRedactor();
    if (typeof redactor?.redactAny !== "function") {
      throw new TypeError("options.redactor must have a redactAny method");
    }
    if (options.generateKey !== undefined && typeof options.generateKey !== "function") {
      throw new TypeError("options.generateKey must be a function");
    }
    this.#redactor = redactor;
    const runs: WorkflowRunStorePort<WorkflowRunState> | undefined = options.runStore
      ? redactingRunStore(options.runStore, redactor)
      : options.storeFactory &&
        new StoreWorkflowRuns(redactingStoreFactory(options.storeFactory, redactor));
    this.#runs = new WorkflowRunPersistence(runs);
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    this.#pinning = {
      redactor,
      generateKey: options.generateKey,
      clock: this.#clock,
      save: (state, ownership) => this.#runs.save(state, ownership),
    };
  }

  /**
   * Makes a workflow known by name, so runs of it can start and resume.
   * @param definition - the workflow.
   * @throws TypeError for a definition without a name, without steps, or with duplicate step names.
   */
  register<Input>(definition: WorkflowDefinition<Input>): void {
    assertValidWorkflowDefinition(definition);
    this.#assertStoredAsIs(definition.name, "workflow name");
    this.#definitions.set(definition.name, definition as WorkflowDefinition<never>);
  }

  /**
   * Starts a run (persists it; steps run on {@link WorkflowEngine.advance} or
   * {@link WorkflowEngine.run}). Starting again with the same `runId` returns
   * the existing run unchanged.
   * @param workflow - a registered workflow's name, or a definition (registered on the way).
   * @param input - the run's input (JSON).
   * @param options - `runId`: a caller-chosen id, a safe file name. @default a random UUID
   * @returns the run id.
   * @throws {@link WorkflowNotFoundError}, {@link ShuttingDownError}, {@link SubsystemUnavailableError}.
   */
  async start<Input>(
    workflow: string | WorkflowDefinition<Input>,
    input: Input,
    options: { runId?: string } = {},
  ): Promise<string> {
    this.#assertAccepting();
    if (typeof workflow !== "string") this.register(workflow);
    const name = typeof workflow === "string" ? workflow : workflow.name;
    if (!this.#definitions.has(name)) throw new WorkflowNotFoundError(name, "workflow");
    const runId = assertSafeName(options.runId ?? randomUUID());
    this.#assertStoredAsIs(runId, "runId");
    const runs = this.#runs.require();
    if (this.#runs.isLive(runId) || (await runs.get(runId))) return runId;
    const now = this.#clock.now();
    const state: WorkflowRunState = {
      runId,
      workflow: name,
      input,
      status: "running",
      nextStep: 0,
      outputs: {},
      createdAt: now,
      updatedAt: now,
    };
    await this.#runs.create(state);
    return runId;
  }

  /**
   * Runs the run's next step and saves its output.
   * @param runId - the run.
   * @returns the status after the step. A step that fails for good fails the run.
   * @throws {@link WorkflowNotFoundError} for an unknown run; the executor's
   *   refusals (`CIRCUIT_OPEN`, `RATE_LIMITED`, `DEGRADED_MODE`, `STEP_IN_DOUBT`,
   *   `SHUTTING_DOWN`), after which the run stays where it was;
   *   {@link WorkflowRunOwnedError} when another live replica owns the run.
   */
  advance(runId: string): Promise<AdvanceResult> {
    try {
      this.#assertAccepting();
    } catch (error) {
      return Promise.reject(error);
    }
    const advancing = (async () => {
      const release = await this.#runLock(runId).acquire();
      try {
        return await this.#advanceLocked(runId);
      } finally {
        release();
      }
    })();
    this.#inFlight.add(advancing);
    const forget = () => this.#inFlight.delete(advancing);
    advancing.then(forget, forget);
    return advancing;
  }

  /**
   * Waits, at most `timeoutMs`, for running advances to finish saving their
   * run state (shutdown calls it after `stop()`).
   * @param timeoutMs - the longest wait.
   * @returns true when every advance settled in time.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const drained = await settleWithin(this.#inFlight, timeoutMs, this.#clock);
    return drained;
  }

  /**
   * Advances the run until it completes or fails.
   * @param runId - the run.
   * @returns its final state.
   * @throws as {@link WorkflowEngine.advance}.
   */
  async run(runId: string): Promise<WorkflowRunState> {
    for (;;) {
      const result = await this.advance(runId);
      if (result.status !== "running") return this.#runs.load(runId);
    }
  }

  /**
   * Reads a run's state.
   * @param runId - the run.
   * @returns the state, or null for an unknown run.
   */
  async getRun(runId: string): Promise<WorkflowRunState | null> {
    return this.#runs.get(runId);
  }

  /** @returns the ids of runs not yet completed or failed. */
  async listUnfinished(): Promise<string[]> {
    return this.#runs.require().listUnfinished();
  }

  /**
   * Runs every unfinished run of a registered workflow to its end, one after
   * another. Call it after boot, once the workflows are registered; with
   * several replicas, call it now and then: it takes over the runs of
   * replicas whose lease ended.
   * @returns the final state of each run it resumed; runs whose workflow is not
   *   registered, that a live replica owns, or that were refused (e.g. circuit
   *   open), are left for later.
   */
  async resumeUnfinished(): Promise<WorkflowRunState[]> {
    const finished: WorkflowRunState[] = [];
    for (const runId of await this.listUnfinished()) {
      const state = await this.getRun(runId);
      if (!state || !this.#definitions.has(state.workflow)) {
        this.#logger.warn("workflow: cannot resume run of an unregistered workflow", {
          runId,
          workflow: state?.workflow,
        });
        continue;
      }
      try {
        finished.push(await this.run(runId));
      } catch (error) {
        if (WorkflowRunOwnedError.isInstance(error)) {
          this.#logger.debug("workflow: run owned by another live replica", { runId });
          continue;
        }
        this.#logger.warn("workflow: run could not be resumed now", { runId, error });
      }
    }
    return finished;
  }

  /** Refuses new starts and advances ({@link ShuttingDownError}). */
  stop(): void {
    this.#accepting = false;
  }

  async #advanceLocked(runId: string): Promise<AdvanceResult> {
    let state = await this.#runs.load(runId);
    if (state.status !== "running") {
      // A crash between saving the final state and updating the list of
      // unfinished runs leaves a finished run listed; finish that job now.
      await this.#runs.require().forgetFinished?.(runId);
      return { runId, status: state.status };
    }
    const definition = this.#definitions.get(state.workflow);
    if (!definition) throw new WorkflowNotFoundError(state.workflow, "workflow");
    const ownership = await this.#runs.ownership(runId);
    const step = definition.steps[state.nextStep];
    if (!step) return this.#finish(state, ownership, "completed");
    const context = stepContextOf(runId, state);
    const identity = stepIdentityOf(step, context);
    const request = stepRequestOf(step, context, identity);
    if (identity.idempotencyKey === undefined && request.kind === "write") {
      const pinned = await pinnedStepKey(this.#pinning, state, ownership, step, context, identity);
      if (pinned !== undefined) {
        request.idempotencyKey = pinned.key;
        state = pinned.state;
      }
    }
    copyStepOptions(request, step);
    // A backend that settles a step in one transaction advances the run in it too.
    const stepState = state;
    const advance: PendingAdvance = {
      runId,
      ownership,
      next: (recorded) =>
        this.#redactor.redactAny(
          stateAfterStep(stepState, definition, step.name, recorded, this.#clock),
        ) as WorkflowRunState,
      saved: false,
    };
    attachAdvance(request, advance);
    const settled = await this.#executor.executeSettled(request);
    if (!settled.ok) {
      if (!settled.terminal) throw settled.error;
      await this.#finish(
        state,
        ownership,
        "failed",
        `step "${step.name}": ${describeError(settled.error)}`,
      );
      return { runId, status: "failed", step: step.name };
    }
    const outcome: StepOutcome = settled.outcome;
    const next = stateAfterStep(
      state,
      definition,
      step.name,
      toJsonSafe(outcome.result),
      this.#clock,
    );
    if (advance.saved) this.#runs.remember(next);
    else await this.#runs.save(next, ownership);
    return { runId, status: next.status, step: step.name, outcome };
  }

  async #finish(
    state: WorkflowRunState,
    ownership: WorkflowRunOwnership,
    status: "completed" | "failed",
    error?: string,
  ): Promise<AdvanceResult> {
    const final: WorkflowRunState = { ...state, status, updatedAt: this.#clock.now() };
    if (error !== undefined) final.error = error;
    await this.#runs.save(final, ownership);
    return { runId: state.runId, status };
  }

  #runLock(runId: string): AsyncMutex {
    let lock = this.#runLocks.get(runId);
    if (!lock) {
      lock = new AsyncMutex({
        maxHoldMs: Number.POSITIVE_INFINITY,
        defaultTimeoutMs: Number.POSITIVE_INFINITY,
      });
      this.#runLocks.set(runId, lock);
    }
    return lock;
  }

  /**
   * Run ids and workflow names are written redacted like the rest of the
   * state: one the redactor would change could not be found again (and a
   * run id also names the run's file), so it is refused.
   */
  #assertStoredAsIs(value: string, what: string): void {
    if (this.#redactor.redactAny(value) !== value) {
      throw new TypeError(
        `${what} looks like a secret (the redactor would change it); choose another`,
      );
    }
  }

  #assertAccepting(): void {
    if (!this.#accepting) throw new ShuttingDownError();
  }
}

import { randomUUID } from "node:crypto";
import type { FailureClass } from "@beauvoir/breaker";
import { assertSafeName, type Clock, type Logger, silentLogger, systemClock } from "@beauvoir/core";
import { AsyncMutex } from "@beauvoir/mutex";
import { SecretRedactor } from "@beauvoir/redactor";
import {
  describeError,
  ShuttingDownError,
  SubsystemUnavailableError,
  WorkflowNotFoundError,
  WorkflowRunOwnedError,
} from "./errors.js";
import type { FailureKind } from "./failure-model.js";
import { toJsonSafe } from "./json-safe.js";
import type {
  CompensationStrategy,
  RedactorPort,
  StoreFactoryPort,
  WorkflowRunOwnership,
  WorkflowRunStorePort,
} from "./ports.js";
import { redactingStoreFactory } from "./redacting-store.js";
import type { RetryOptions } from "./retry-policy.js";
import { settleWithin } from "./settle-within.js";
import type { DurableStepExecutor } from "./step-executor.js";
import type { StepOutcome } from "./step-outcome.js";
import type { SideEffectContext, StepKind, StepRequest } from "./step-request.js";
import { StoreWorkflowRuns } from "./store-workflow-runs.js";
import { attachAdvance, type PendingAdvance } from "./workflow-advance.js";
import { keyToPin, type PinnedStepKey, resumedIdentity } from "./workflow-engine-state.js";

/** What a workflow step sees of its run. */
export interface WorkflowStepContext<Input = unknown> {
  /** The run's id. */
  runId: string;
  /** The workflow's name. */
  workflow: string;
  /** The input the run was started with. */
  input: Input;
  /** Outputs of the steps already completed, by step name. */
  outputs: Readonly<Record<string, unknown>>;
}

/** How a step identifies its side effect, for the idempotency key and the audit record. */
export interface StepIdentity {
  scope: string;
  resource: string;
  params: Record<string, unknown>;
  /** The audit record's target. @default `${scope}/${resource}` */
  target?: string | undefined;
  /** Replaces the derived idempotency key (e.g. with a webhook delivery id). */
  idempotencyKey?: string | undefined;
}

/** One named step of a workflow. */
export interface WorkflowStepDefinition<Input = unknown> {
  /** Unique within the workflow; its output is stored under this name. */
  name: string;
  /** The action, e.g. `add_issue_comment`; picks the compensation strategy. */
  action: string;
  /** @default "write" */
  kind?: StepKind | undefined;
  /**
   * The side effect's identity. Two steps with the same identity are the same
   * side effect and run once.
   * @default `{ scope: workflow name, resource: run id, params: { step: name } }`
   */
  identify?: ((context: WorkflowStepContext<Input>) => StepIdentity) | undefined;
  /**
   * The side effect. Its resolved value, in its JSON-safe form (see
   * `toJsonSafe`), becomes the step's output.
   */
  run: (context: WorkflowStepContext<Input> & SideEffectContext) => Promise<unknown>;
  /** Time limit for each attempt of the side effect. */
  timeoutMs?: number | undefined;
  /** Maps a thrown error to a failure class for the breaker. */
  classify?: ((error: unknown) => FailureClass) | undefined;
  /** How the executor tells how an attempt failed, where its GitHub defaults do not know better. */
  failureKind?: ((error: unknown) => FailureKind | undefined) | undefined;
  /** How failed attempts are retried. @default the executor's */
  retry?: RetryOptions | undefined;
  /** Longest wait for a token or a backoff. @default the executor's */
  maxWaitMs?: number | undefined;
  /** The circuit breaker of the step. @default the action */
  breakerKey?: string | undefined;
  /** Overrides the action's compensation strategy. */
  strategy?: CompensationStrategy | undefined;
  /** Record a `dry_run` instead of running it. @default the executor's */
  dryRun?: boolean | undefined;
}

/** A named sequence of steps. */
export interface WorkflowDefinition<Input = unknown> {
  /** Unique name; runs refer to their workflow by it (so it survives restarts). */
  name: string;
  /** The steps, run in order. */
  steps: ReadonlyArray<WorkflowStepDefinition<Input>>;
}

/**
 * The durable state of one run. It is written redacted (the redactor's
 * `redactAny`): `input`, `outputs` and `error` on disk, and so in a run
 * resumed by another process, have their secrets replaced; the process that
 * started or advanced a run keeps its unredacted state in memory.
 */
export interface WorkflowRunState {
  runId: string;
  workflow: string;
  input: unknown;
  status: "running" | "completed" | "failed";
  /** Index of the next step to run. */
  nextStep: number;
  /** Completed steps' outputs, by step name. */
  outputs: Record<string, unknown>;
  /** Why the run failed. */
  error?: string;
  createdAt: number;
  updatedAt: number;
  /**
   * Keys fixed before a step's first attempt, for steps whose identity the
   * redacted state could not derive again (see the README, "Workflow state
   * and secrets").
   */
  pinnedKeys?: PinnedStepKey[];
}

/** What one {@link WorkflowEngine.advance} did. */
export interface AdvanceResult {
  runId: string;
  /** The run's status after the step. */
  status: WorkflowRunState["status"];
  /** The step that ran, if one did. */
  step?: string;
  /** The step's outcome, if it succeeded. */
  outcome?: StepOutcome;
}

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

/** Finished runs whose unredacted state the engine keeps in memory (the older ones read back redacted). */
const LIVE_FINISHED_RUNS = 100;

/** Step options passed to the executor as they are. */
const STEP_OPTIONS = [
  "timeoutMs",
  "classify",
  "failureKind",
  "retry",
  "maxWaitMs",
  "breakerKey",
  "strategy",
  "dryRun",
] as const;

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
  readonly #runs: WorkflowRunStorePort<WorkflowRunState> | undefined;
  readonly #redactor: RedactorPort;
  readonly #generateKey: WorkflowEngineOptions["generateKey"];
  /**
   * Unredacted states of the runs this process wrote, by run id: every
   * running one, and the last {@link LIVE_FINISHED_RUNS} finished ones.
   */
  readonly #live = new Map<string, WorkflowRunState>();
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #definitions = new Map<string, WorkflowDefinition<never>>();
  readonly #runLocks = new Map<string, AsyncMutex>();
  /** The runs this engine has taken ownership of. */
  readonly #owned = new Map<string, WorkflowRunOwnership>();
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
    this.#generateKey = options.generateKey;
    this.#runs = options.runStore
      ? redactingRunStore(options.runStore, redactor)
      : options.storeFactory &&
        new StoreWorkflowRuns(redactingStoreFactory(options.storeFactory, redactor));
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Makes a workflow known by name, so runs of it can start and resume.
   * @param definition - the workflow.
   * @throws TypeError for a definition without a name, without steps, or with duplicate step names.
   */
  register<Input>(definition: WorkflowDefinition<Input>): void {
    if (typeof definition?.name !== "string" || definition.name.length === 0) {
      throw new TypeError("workflow name must be a non-empty string");
    }
    if (!Array.isArray(definition.steps) || definition.steps.length === 0) {
      throw new TypeError(`workflow "${definition.name}" must have at least one step`);
    }
    const names = new Set<string>();
    for (const step of definition.steps) {
      if (typeof step.name !== "string" || step.name.length === 0 || names.has(step.name)) {
        throw new TypeError(
          `workflow "${definition.name}": step names must be unique non-empty strings`,
        );
      }
      if (typeof step.run !== "function") {
        throw new TypeError(
          `workflow "${definition.name}": step "${step.name}" needs a run function`,
        );
      }
      names.add(step.name);
    }
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
    const runs = this.#requireRuns();
    if (this.#live.has(runId) || (await runs.get(runId))) return runId;
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
    await runs.create(state);
    this.#remember(state);
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
      if (result.status !== "running") return this.#loadRun(runId);
    }
  }

  /**
   * Reads a run's state.
   * @param runId - the run.
   * @returns the state, or null for an unknown run.
   */
  async getRun(runId: string): Promise<WorkflowRunState | null> {
    const live = this.#live.get(assertSafeName(runId));
    // A copy, as the store gives: changing it does not change the run.
    if (live) return { ...live, outputs: { ...live.outputs } };
    return this.#requireRuns().get(runId);
  }

  /** @returns the ids of runs not yet completed or failed. */
  async listUnfinished(): Promise<string[]> {
    return this.#requireRuns().listUnfinished();
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
    let state = await this.#loadRun(runId);
    if (state.status !== "running") {
      // A crash between saving the final state and updating the list of
      // unfinished runs leaves a finished run listed; finish that job now.
      await this.#requireRuns().forgetFinished?.(runId);
      return { runId, status: state.status };
    }
    const definition = this.#definitions.get(state.workflow);
    if (!definition) throw new WorkflowNotFoundError(state.workflow, "workflow");
    const ownership = await this.#ownership(runId);
    const step = definition.steps[state.nextStep];
    if (!step) return this.#finish(state, ownership, "completed");
    const context: WorkflowStepContext<never> = {
      runId,
      workflow: state.workflow,
      input: state.input as never,
      outputs: state.outputs,
    };
    const identity = step.identify?.(context) ?? {
      scope: state.workflow,
      resource: runId,
      params: { step: step.name },
    };
    const request: StepRequest<unknown> = {
      action: step.action,
      kind: step.kind ?? "write",
      scope: identity.scope,
      resource: identity.resource,
      params: identity.params,
      workflowId: state.workflow,
      run: (sideEffect) => step.run({ ...context, ...sideEffect }),
    };
    if (identity.target !== undefined) request.target = identity.target;
    if (identity.idempotencyKey !== undefined) request.idempotencyKey = identity.idempotencyKey;
    else if (request.kind === "write") {
      const pinned = await this.#pinnedKey(state, ownership, step, context, identity);
      if (pinned !== undefined) {
        request.idempotencyKey = pinned.key;
        state = pinned.state;
      }
    }
    for (const option of STEP_OPTIONS) {
      if (step[option] !== undefined) Object.assign(request, { [option]: step[option] });
    }
    // A backend that settles a step in one transaction advances the run in it too.
    const stepState = state;
    const advance: PendingAdvance = {
      runId,
      ownership,
      next: (recorded) =>
        this.#redactor.redactAny(
          this.#stateAfter(stepState, definition, step.name, recorded),
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
    const next = this.#stateAfter(state, definition, step.name, toJsonSafe(outcome.result));
    if (advance.saved) this.#remember(next);
    else await this.#save(next, ownership);
    return { runId, status: next.status, step: step.name, outcome };
  }

  /** The run once `stepName` completed with its recorded (JSON-safe) result. */
  #stateAfter(
    state: WorkflowRunState,
    definition: WorkflowDefinition<never>,
    stepName: string,
    recorded: unknown,
  ): WorkflowRunState {
    const nextStep = state.nextStep + 1;
    return {
      ...state,
      nextStep,
      outputs: { ...state.outputs, [stepName]: recorded ?? null },
      status: nextStep >= definition.steps.length ? "completed" : "running",
      updatedAt: this.#clock.now(),
    };
  }

  async #finish(
    state: WorkflowRunState,
    ownership: WorkflowRunOwnership,
    status: "completed" | "failed",
    error?: string,
  ): Promise<AdvanceResult> {
    const final: WorkflowRunState = { ...state, status, updatedAt: this.#clock.now() };
    if (error !== undefined) final.error = error;
    await this.#save(final, ownership);
    return { runId: state.runId, status };
  }

  /**
   * Writes a run's state (redacted by the store) while this engine owns it,
   * and keeps it, unredacted, in memory.
   * @throws {@link WorkflowRunOwnedError} when the run was taken over.
   */
  async #save(state: WorkflowRunState, ownership: WorkflowRunOwnership): Promise<void> {
    if (!(await this.#requireRuns().save(state, ownership))) {
      // Taken over: what this engine remembers of the run is not the run any more.
      this.#owned.delete(state.runId);
      this.#live.delete(state.runId);
      throw new WorkflowRunOwnedError(state.runId);
    }
    this.#remember(state);
  }

  #remember(state: WorkflowRunState): void {
    this.#live.delete(state.runId);
    this.#live.set(state.runId, state);
    if (state.status !== "running") this.#forgetOldFinishedRuns();
  }

  /** This engine's ownership of a run, taken (over) the first time it advances it. */
  async #ownership(runId: string): Promise<WorkflowRunOwnership> {
    const held = this.#owned.get(runId);
    if (held) return held;
    const taken = await this.#requireRuns().acquire(runId);
    if (taken === null) {
      this.#live.delete(runId);
      throw new WorkflowRunOwnedError(runId);
    }
    this.#owned.set(runId, taken);
    return taken;
  }

  /**
   * The key a step must keep: one pinned earlier, or one pinned now (saved
   * before the first attempt) when the redacted state would derive another.
   */
  async #pinnedKey(
    state: WorkflowRunState,
    ownership: WorkflowRunOwnership,
    step: WorkflowStepDefinition<never>,
    context: WorkflowStepContext<never>,
    identity: StepIdentity,
  ): Promise<{ key: string; state: WorkflowRunState } | undefined> {
    const earlier = state.pinnedKeys?.find((entry) => entry.step === step.name);
    if (earlier) return { key: earlier.idempotencyKey, state };
    const generateKey = this.#generateKey;
    if (!generateKey || !step.identify) return undefined;
    const key = keyToPin({
      action: step.action,
      identity: { scope: identity.scope, resource: identity.resource, params: identity.params },
      identityAfterResume: resumedIdentity(this.#redactor, context, step.identify),
      generateKey,
    });
    if (key === undefined) return undefined;
    const pinnedState: WorkflowRunState = {
      ...state,
      pinnedKeys: [...(state.pinnedKeys ?? []), { step: step.name, idempotencyKey: key }],
      updatedAt: this.#clock.now(),
    };
    await this.#save(pinnedState, ownership);
    return { key, state: pinnedState };
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

  async #loadRun(runId: string): Promise<WorkflowRunState> {
    const state = await this.getRun(runId);
    if (!state) throw new WorkflowNotFoundError(runId, "run");
    return state;
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

  #requireRuns(): WorkflowRunStorePort<WorkflowRunState> {
    if (!this.#runs) throw new SubsystemUnavailableError("store");
    return this.#runs;
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

/** A run store whose states pass the redactor before they are written, as the documents' do. */
function redactingRunStore(
  runs: WorkflowRunStorePort<WorkflowRunState>,
  redactor: RedactorPort,
): WorkflowRunStorePort<WorkflowRunState> {
  const redacted = (state: WorkflowRunState) => redactor.redactAny(state) as WorkflowRunState;
  const store: WorkflowRunStorePort<WorkflowRunState> = {
    create: (state) => runs.create(redacted(state)),
    get: (runId) => runs.get(runId),
    listUnfinished: () => runs.listUnfinished(),
    acquire: (runId) => runs.acquire(runId),
    save: (state, ownership) => runs.save(redacted(state), ownership),
  };
  const forget = runs.forgetFinished;
  if (forget) store.forgetFinished = (runId) => forget.call(runs, runId);
  return store;
}

import type { FailureClass } from "@beauvoir/breaker";
import { type Clock, type Logger, silentLogger, systemClock } from "@beauvoir/core";
import { AtomicKeyLedger } from "./atomic-key-ledger.js";
import { runAttempts } from "./attempt-loop.js";
import {
  type ReconcilePassOptions,
  type ReconcileReport,
  reconcileAfterCrash,
} from "./boot-reconciliation.js";
import { checkKey, recordedOutcome } from "./dedup-check.js";
import { traceStep } from "./diagnostics.js";
import {
  DegradedModeError,
  KeyInFlightError,
  ShuttingDownError,
  StepFailedError,
  StepInDoubtError,
} from "./errors.js";
import {
  type DurablePointEvent,
  type ExecutorContext,
  type OperatingMode,
  type ReconcileHook,
  strategyOf,
} from "./executor-context.js";
import { toJsonSafe } from "./json-safe.js";
import { KeyLedger, type StepLedger } from "./key-ledger.js";
import { applyOperatorDecision } from "./operator-commands.js";
import { enforceActionPolicy, recordDryRun } from "./policy-gate.js";
import type {
  ActionPolicyPort,
  AuditTrailPort,
  CircuitBreakerGroupPort,
  CompensationStrategy,
  IdempotencyClaim,
  IdempotencyEntryView,
  IdempotencyIndexPort,
  RateLimiterPort,
  RedactorPort,
} from "./ports.js";
import { type RetryOptions, resolveRetryOptions } from "./retry-policy.js";
import { settleWithin } from "./settle-within.js";
import { intentParams, targetOf } from "./step-identity.js";
import type { ReadOutcome, StepOutcome, StepSettlement, WriteOutcome } from "./step-outcome.js";
import {
  assertTimeout,
  assertWait,
  type StepRequest,
  validateStepRequest,
} from "./step-request.js";
import { advanceOf } from "./workflow-advance.js";

/** Options of {@link DurableStepExecutor}. */
export interface StepExecutorOptions {
  /** The audit trail; absent only in dev mode. */
  auditTrail?: AuditTrailPort | undefined;
  /** The idempotency index; absent in degraded or dev mode. */
  idempotencyIndex?: IdempotencyIndexPort | undefined;
  /** One circuit breaker per action (or step `breakerKey`); side effects run without when absent. */
  circuitBreakers?: CircuitBreakerGroupPort | undefined;
  /** The rate limiter; no limit when absent. */
  rateLimiter?: RateLimiterPort | undefined;
  /** The action policy each step's params are checked against. @default none */
  actionPolicy?: ActionPolicyPort | undefined;
  /** Redacts params for reconcile hooks and error text for the index, as the audit trail does. @default none */
  redactor?: RedactorPort | undefined;
  /** @default "autonomous" */
  mode?: OperatingMode | undefined;
  /** Subsystems that failed at boot, quoted in {@link DegradedModeError}. @default [] */
  failedSubsystems?: readonly string[] | undefined;
  /** Per-action checks for `check_then_retry` steps whose outcome is unknown. @default {} */
  reconcilers?: Readonly<Record<string, ReconcileHook>> | undefined;
  /** Retries of every step that does not say otherwise. @default { maxAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 60_000 } */
  retry?: RetryOptions | undefined;
  /** Longest wait for a token or a backoff, for steps that do not say. @default 3_600_000 (GitHub's primary window) */
  maxWaitMs?: number | undefined;
  /** Simulate every write step (a `dry_run` record each, nothing run). @default false */
  dryRun?: boolean | undefined;
  /** Longest a reconcile hook may take before its signal aborts. @default 60_000 */
  reconcileTimeoutMs?: number | undefined;
  /** Maps a thrown error to a breaker class for steps without their own `classify`. @default the breaker's */
  classify?: ((error: unknown) => FailureClass) | undefined;
  /** @default silentLogger */
  logger?: Logger | undefined;
  /** @default systemClock */
  clock?: Clock | undefined;
  /** Random source in [0, 1) for the backoff jitter. @default Math.random */
  random?: (() => number) | undefined;
  /**
   * Awaited after each durable point of a write step. For tracing, and for
   * crash tests that stop the process at an exact point.
   */
  onDurablePoint?: ((event: DurablePointEvent) => unknown) | undefined;
  /**
   * The lease of this replica on a backend shared by replicas (boot passes
   * the backend's): once it aborts, the signals of running side effects abort
   * (their keys stay pending, for the replica that takes them over) and no
   * step starts any more (`execute()` rejects with the signal's reason).
   * @default none
   */
  signal?: AbortSignal | undefined;
}

/** Defaults of {@link StepExecutorOptions}. */
export const STEP_EXECUTOR_DEFAULTS = Object.freeze({
  maxWaitMs: 3_600_000,
  reconcileTimeoutMs: 60_000,
  dryRun: false,
});

/**
 * Runs steps with side effects so that a crash at any moment neither repeats
 * nor silently loses them, and so that GitHub's everyday failures (rate
 * limits, 502s, resets) are retried, waited out or reconciled without code
 * in the app. See the README for the protocol and the failure model.
 *
 * @example
 * ```ts
 * const { executor } = await boot({ dataDir: "/var/lib/agent" });
 * const outcome = await executor.execute({
 *   action: "add_issue_comment", scope: "acme/widgets", resource: "issue-12",
 *   params: { body: "Thanks!" },
 *   run: ({ signal, idempotencyKey }) => postComment({ signal, idempotencyKey }),
 * });
 * ```
 */
export class DurableStepExecutor {
  readonly #context: ExecutorContext;
  readonly #inFlightByKey = new Map<string, Promise<StepOutcome<unknown>>>();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #stopController = new AbortController();
  readonly #shutdownController = new AbortController();
  #accepting = true;
  #lease: AbortSignal | undefined;

  /**
   * @param options - the services and hooks; see {@link StepExecutorOptions}.
   * @throws TypeError or RangeError naming a bad option.
   */
  constructor(options: StepExecutorOptions = {}) {
    const mode = options.mode ?? "autonomous";
    if (!["autonomous", "degraded", "dev"].includes(mode)) {
      throw new RangeError(`mode must be "autonomous", "degraded" or "dev", got ${String(mode)}`);
    }
    const reconcilers = { ...options.reconcilers };
    assertHooks(reconcilers, "reconcilers");
    const maxWaitMs = options.maxWaitMs ?? STEP_EXECUTOR_DEFAULTS.maxWaitMs;
    assertWait(maxWaitMs, "maxWaitMs");
    const reconcileTimeoutMs =
      options.reconcileTimeoutMs ?? STEP_EXECUTOR_DEFAULTS.reconcileTimeoutMs;
    assertTimeout(reconcileTimeoutMs, "reconcileTimeoutMs");
    if (options.dryRun !== undefined && typeof options.dryRun !== "boolean") {
      throw new TypeError(`dryRun must be a boolean, got ${String(options.dryRun)}`);
    }
    const random = options.random ?? Math.random;
    if (typeof random !== "function") throw new TypeError("random must be a function");
    const redactor = options.redactor;
    this.#context = {
      audit: options.auditTrail,
      index: options.idempotencyIndex,
      breakers: options.circuitBreakers,
      limiter: options.rateLimiter,
      policy: options.actionPolicy,
      mode,
      failedSubsystems: options.failedSubsystems ?? [],
      reconcilers,
      logger: options.logger ?? silentLogger,
      clock: options.clock ?? systemClock,
      random,
      redact: redactor ? (value) => redactor.redactAny(value) : (value) => value,
      retry: resolveRetryOptions(options.retry),
      maxWaitMs,
      dryRun: options.dryRun ?? STEP_EXECUTOR_DEFAULTS.dryRun,
      reconcileTimeoutMs,
      classify: options.classify,
      onDurablePoint: options.onDurablePoint,
      stopSignal: this.#stopController.signal,
      shutdownSignal: this.#shutdownController.signal,
      rerunnable: new Map(),
      terminalErrors: new WeakSet(),
    };
    const lease = options.signal;
    if (lease !== undefined) {
      if (!(lease instanceof AbortSignal)) throw new TypeError("signal must be an AbortSignal");
      this.#lease = lease;
      if (lease.aborted) this.#loseLease(lease.reason);
      else lease.addEventListener("abort", () => this.#loseLease(lease.reason), { once: true });
    }
  }

  /** The operating mode this executor enforces. */
  get mode(): OperatingMode {
    return this.#context.mode;
  }

  /** Number of steps running now (waits included). */
  get inFlightCount(): number {
    return this.#inFlight.size;
  }

  /**
   * Executes one step: policy, degraded-mode gate and dedup check first (a
   * deduplicated step takes no rate-limit token), then attempts until one
   * succeeds or the failure model says stop.
   * @param request - the step; see {@link StepRequest}.
   * @returns how it ended; see {@link StepOutcome}.
   * @throws TypeError / RangeError (synchronously) for a malformed request, before anything is recorded.
   * @throws {@link ShuttingDownError} after `stop()`; {@link PolicyDeniedError};
   *   {@link DegradedModeError} for a write in degraded mode;
   *   {@link StepFailedError} when the key already failed; {@link StepInDoubtError}
   *   when its outcome is unknown and nothing could decide; `RATE_LIMITED` when
   *   a token is further away than `maxWaitMs`; `CIRCUIT_OPEN` when the step's
   *   breaker is open; otherwise what the side effect threw, unchanged.
   * @example
   * ```ts
   * await executor.execute({ kind: "read", action: "get_issue", scope: "acme/widgets",
   *   resource: "issue-12", params: {}, run: ({ signal }) => fetchIssue(signal) });
   * ```
   */
  execute<Result>(request: StepRequest<Result> & { kind: "read" }): Promise<ReadOutcome<Result>>;
  execute<Result>(request: StepRequest<Result> & { kind?: "write" }): Promise<WriteOutcome<Result>>;
  execute<Result>(request: StepRequest<Result>): Promise<StepOutcome<Result>>;
  execute<Result>(request: StepRequest<Result>): Promise<StepOutcome<Result>> {
    return this.#start(request, { terminal: false });
  }

  /**
   * Like {@link DurableStepExecutor.execute}, but never rejects: a failure
   * comes back with whether it is terminal, which works for thrown values
   * that are not objects too.
   * @param request - the step.
   * @returns `{ ok: true, outcome }` or `{ ok: false, error, terminal }`.
   */
  async executeSettled<Result>(request: StepRequest<Result>): Promise<StepSettlement<Result>> {
    const failure = { terminal: false };
    try {
      return { ok: true, outcome: await this.#start(request, failure) };
    } catch (error) {
      return {
        ok: false,
        error,
        terminal: failure.terminal || StepFailedError.isInstance(error),
      };
    }
  }

  /**
   * Applies each pending entry's compensation strategy after a crash and
   * closes audit intents no step refers to any more. Boot calls it (step 5)
   * before any step runs.
   * @returns what was done to which key.
   * @example
   * ```ts
   * const report = await executor.reconcilePending();
   * console.log(report.promoted, report.rerun);
   * ```
   */
  reconcilePending(
    options: Pick<ReconcilePassOptions, "waitForHooks"> = {},
  ): Promise<ReconcileReport> {
    return reconcileAfterCrash(this.#context, (key) => this.#inFlightByKey.has(key), {
      waitForHooks: options.waitForHooks,
    });
  }

  /**
   * Adds reconcile hooks after construction, for integrations that can only
   * check once they exist (e.g. `@beauvoir/octokit`, built from what `boot()`
   * returned). A hook already registered for an action is kept (the
   * caller's own wins). Keys of the newly hooked actions left pending by a
   * crash (boot leaves them `awaitingHook`) are reconciled now; await the
   * promise before running steps of those actions.
   * @param hooks - one hook per action.
   * @returns what the pass did, and which actions were added.
   * @throws TypeError (synchronously) when a hook is not a function.
   * @example
   * ```ts
   * await app.executor.registerReconcilers({ add_issue_comment: findCommentByMarker });
   * ```
   */
  registerReconcilers(
    hooks: Readonly<Record<string, ReconcileHook>>,
  ): Promise<ReconcileReport & { registered: string[] }> {
    if (typeof hooks !== "object" || hooks === null) throw new TypeError("hooks must be an object");
    assertHooks(hooks, "hooks");
    const context = this.#context;
    const registered = Object.keys(hooks).filter(
      (action) => !Object.hasOwn(context.reconcilers, action),
    );
    for (const action of registered) context.reconcilers[action] = hooks[action] as ReconcileHook;
    if (registered.length === 0) {
      return Promise.resolve({ ...emptyReport(), registered });
    }
    return reconcileAfterCrash(context, (key) => this.#inFlightByKey.has(key), {
      actions: new Set(registered),
    }).then((report) => ({ ...report, registered }));
  }

  /** Whether a reconcile hook is registered for `action`. */
  hasReconciler(action: string): boolean {
    return Object.hasOwn(this.#context.reconcilers, action);
  }

  /**
   * An operator's answer for a key whose outcome is unknown (or wrong):
   * `"done"` completes it without running it (later steps with the key are
   * `reconciled`); `"not_done"` lets it run again. Recorded in the audit trail.
   * @param key - the idempotency key.
   * @param verdict - did the side effect happen?
   * @param options - `reason`, recorded with the decision.
   * @returns the entry as it was before, or `null`.
   * @throws {@link KeyInFlightError} while the key's step runs here;
   *   `SUBSYSTEM_UNAVAILABLE` without an index or an audit trail.
   */
  resolveKey(
    key: string,
    verdict: "done" | "not_done",
    options: { reason?: string } = {},
  ): Promise<IdempotencyEntryView | null> {
    if (verdict !== "done" && verdict !== "not_done") {
      throw new RangeError(`verdict must be "done" or "not_done", got ${String(verdict)}`);
    }
    return this.#operator(key, verdict, options.reason);
  }

  /**
   * Clears a key on purpose, whatever its state, so its step may run again
   * (e.g. the same comment, wanted again within the TTL). Recorded in the audit trail.
   * @param key - the idempotency key.
   * @param options - `reason`, recorded with the decision.
   * @returns the entry as it was before, or `null`.
   * @throws as {@link DurableStepExecutor.resolveKey}.
   */
  resetKey(key: string, options: { reason?: string } = {}): Promise<IdempotencyEntryView | null> {
    return this.#operator(key, "reset", options.reason);
  }

  /**
   * Tells whether `error`, thrown by {@link DurableStepExecutor.execute}, means
   * the step failed for good (its key is marked failed), as opposed to a
   * refusal or a failure that leaves it runnable later. Only objects can be
   * recognised; use {@link DurableStepExecutor.executeSettled} for the rest.
   * @param error - what `execute()` threw.
   * @returns true for a terminal failure.
   */
  isTerminalFailure(error: unknown): boolean {
    return (
      StepFailedError.isInstance(error) ||
      (typeof error === "object" && error !== null && this.#context.terminalErrors.has(error))
    );
  }

  /** Refuses new steps from now on ({@link ShuttingDownError}); steps waiting for a token or a retry stop waiting. */
  stop(): void {
    this.#accepting = false;
    if (!this.#stopController.signal.aborted) this.#stopController.abort(new ShuttingDownError());
  }

  /**
   * Waits for running steps to settle, at most `timeoutMs`; then aborts the
   * signals of those still running. Their keys stay pending and are reconciled
   * at the next boot, since their outcome is unknown.
   * @param timeoutMs - the longest wait.
   * @returns true when every step settled in time.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const drained = await settleWithin(this.#inFlight, timeoutMs, this.#context.clock);
    if (!drained) {
      this.#context.logger.warn(
        "shutdown: steps still running after the drain timeout; aborting them",
        { running: this.#inFlight.size },
      );
      this.#shutdownController.abort(new ShuttingDownError());
    }
    return drained;
  }

  /** The lease is gone: nothing starts any more, and what runs is cut off. */
  #loseLease(reason: unknown): void {
    this.#accepting = false;
    this.#context.logger.error(
      "step: this replica lost its lease; running side effects are aborted and no step starts",
      { inFlight: this.#inFlight.size },
    );
    if (!this.#stopController.signal.aborted) this.#stopController.abort(reason);
    if (!this.#shutdownController.signal.aborted) this.#shutdownController.abort(reason);
  }

  #start<Result>(
    request: StepRequest<Result>,
    failure: { terminal: boolean },
  ): Promise<StepOutcome<Result>> {
    if (!this.#accepting) {
      return Promise.reject(this.#lease?.aborted ? this.#lease.reason : new ShuttingDownError());
    }
    validateStepRequest(request as StepRequest<unknown>);
    const promise = traceStep(
      () => ({
        action: request.action,
        scope: request.scope,
        resource: request.resource,
        kind: request.kind ?? "write",
        workflowId: request.workflowId ?? "default",
        idempotencyKey: request.idempotencyKey,
      }),
      () => this.#execute(request, failure),
    );
    this.#inFlight.add(promise);
    const forget = () => this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  async #execute<Result>(
    request: StepRequest<Result>,
    failure: { terminal: boolean },
  ): Promise<StepOutcome<Result>> {
    const context = this.#context;
    const kind = request.kind ?? "write";
    await enforceActionPolicy(context, request as StepRequest<unknown>, kind);
    const strategy = strategyOf(context, request.action, request.strategy);
    // Reads, and writes without an index (dev mode): no key; the audit trail
    // (if any) still sees every attempt of a write.
    const unkeyed = () =>
      runAttempts(context, {
        request,
        kind,
        ledger: this.#ledger(request, "", strategy, kind === "write"),
        key: "",
        strategy,
        failure,
        onLostClaim: lost,
      });
    if (kind === "read") return unkeyed();
    if (context.mode === "degraded") {
      throw new DegradedModeError(request.action, context.failedSubsystems);
    }
    const index = context.index;
    if (!index) {
      return (request.dryRun ?? context.dryRun) ? this.#dryRun(request, "") : unkeyed();
    }
    const key =
      request.idempotencyKey ??
      index.generateKey(request.action, request.scope, request.resource, request.params);
    const running = this.#inFlightByKey.get(key);
    if (running) return sharedOutcome(key, (await running) as StepOutcome<Result>);
    const promise = this.#executeKeyed(request, index, key, strategy, failure);
    this.#inFlightByKey.set(key, promise as Promise<StepOutcome<unknown>>);
    try {
      return await promise;
    } finally {
      this.#inFlightByKey.delete(key);
    }
  }

  async #executeKeyed<Result>(
    request: StepRequest<Result>,
    index: IdempotencyIndexPort,
    key: string,
    strategy: CompensationStrategy,
    failure: { terminal: boolean },
  ): Promise<StepOutcome<Result>> {
    const context = this.#context;
    if (request.dryRun ?? context.dryRun) {
      // A dry run only reads the index: it reports a completed step as such, and writes nothing else.
      const entry = await index.check(key);
      if (entry?.status === "completed") return recordedOutcome<Result>(context, entry);
      if (entry?.status === "failed")
        throw new StepFailedError(key, entry.error ?? "unknown error");
      return this.#dryRun(request, key);
    }
    for (;;) {
      const check = await checkKey<Result>(context, index, {
        key,
        action: request.action,
        strategy,
        signal: request.signal,
        maxWaitMs: request.maxWaitMs ?? context.maxWaitMs,
      });
      if (!check.run) return check.outcome;
      const ledger = this.#ledger(request, key, strategy, true, check.supersede);
      try {
        return await runAttempts(context, {
          request,
          kind: "write",
          ledger,
          key,
          strategy,
          failure,
          onLostClaim: async (claim) => {
            if (claim.reason === "completed" && claim.entry) {
              return recordedOutcome<Result>(context, claim.entry);
            }
            if (claim.reason === "failed") {
              throw new StepFailedError(key, claim.entry?.error ?? "unknown error");
            }
            // Claimed by another replica in between: look again (wait for it, or take it over).
            if (claim.entry?.ownedHere === false) throw CLAIMED_ELSEWHERE;
            throw new StepInDoubtError(key);
          },
        });
      } catch (error) {
        if (error !== CLAIMED_ELSEWHERE) throw error;
      }
    }
  }

  #ledger<Result>(
    request: StepRequest<Result>,
    key: string,
    strategy: CompensationStrategy,
    durable: boolean,
    supersede?: { intentSeq: number | undefined; attemptId?: string | undefined },
  ): StepLedger {
    const subject = {
      key,
      action: request.action,
      target: targetOf(request),
      recordedParams: intentParams(request),
      strategy,
      durable,
    };
    const atomic = this.#context.index?.atomicSteps;
    if (atomic && durable && key !== "") {
      return new AtomicKeyLedger(this.#context, atomic, subject, supersede, advanceOf(request));
    }
    return new KeyLedger(this.#context, subject, supersede);
  }

  async #dryRun<Result>(request: StepRequest<Result>, key: string): Promise<StepOutcome<Result>> {
    await recordDryRun(this.#context, request as StepRequest<unknown>);
    return { status: "dry_run", idempotencyKey: key, result: undefined };
  }

  async #operator(
    key: string,
    decision: "done" | "not_done" | "reset",
    reason: string | undefined,
  ): Promise<IdempotencyEntryView | null> {
    if (typeof key !== "string" || key.length === 0) {
      throw new TypeError("key must be a non-empty string");
    }
    if (reason !== undefined && typeof reason !== "string") {
      throw new TypeError("reason must be a string");
    }
    if (this.#inFlightByKey.has(key)) throw new KeyInFlightError(key);
    return applyOperatorDecision(this.#context, key, decision, reason);
  }
}

function assertHooks(hooks: Readonly<Record<string, unknown>>, name: string): void {
  for (const [action, hook] of Object.entries(hooks)) {
    if (typeof hook !== "function") throw new TypeError(`${name}.${action} must be a function`);
  }
}

function emptyReport(): ReconcileReport {
  return {
    promoted: [],
    rerun: [],
    failed: [],
    unresolved: [],
    awaitingHook: [],
    closedIntents: [],
  };
}

/** A step that shared another's run is deduplicated; its result is the recorded form. */
function sharedOutcome<Result>(key: string, outcome: StepOutcome<Result>): StepOutcome<Result> {
  if (outcome.status !== "executed") return outcome;
  return { status: "deduplicated", idempotencyKey: key, result: toJsonSafe(outcome.result) };
}

/** Thrown out of the attempt loop when another replica claimed the key first. */
const CLAIMED_ELSEWHERE = Symbol("claimed elsewhere");

/** Reads and dev-mode writes claim no key, so no claim is ever lost. */
function lost(claim: IdempotencyClaim): never {
  throw new Error(`unexpected refused claim: ${claim.reason ?? "unknown"}`);
}

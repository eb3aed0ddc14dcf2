import type { FailureClass } from "@beauvoir/breaker";
import { type Clock, type Logger, silentLogger, systemClock } from "@beauvoir/core";
import {
  DegradedModeError,
  describeError,
  ShuttingDownError,
  StepFailedError,
  StepInDoubtError,
} from "./errors.js";
import { circuitOpenError, rateLimitedError } from "./external-errors.js";
import type {
  AuditTrailPort,
  CircuitBreakerPort,
  CompensationStrategy,
  IdempotencyEntryView,
  IdempotencyIndexPort,
  RateLimiterPort,
} from "./ports.js";
import { settleWithin } from "./settle-within.js";

/** The operating mode decided at boot. */
export type OperatingMode = "autonomous" | "degraded" | "dev";

/** `write` steps change the world and go through the durable protocol; `read` steps do not. */
export type StepKind = "write" | "read";

/** What a side effect receives. */
export interface SideEffectContext {
  /** Aborted on timeout, on the caller's signal, or when shutdown gives up waiting. */
  signal: AbortSignal;
  /**
   * The step's idempotency key (empty for read steps). Pass it on as an
   * `Idempotency-Key` header where the remote API supports one.
   */
  idempotencyKey: string;
}

/** One step to execute. */
export interface StepRequest<Result = unknown> {
  /** The action name, e.g. `add_issue_comment`; picks the compensation strategy. */
  action: string;
  /** Where the action applies, e.g. `acme/widgets`. Part of the idempotency key. */
  scope: string;
  /** What it applies to, e.g. `issue-12`. Part of the idempotency key. */
  resource: string;
  /** The action's parameters; hashed into the key and recorded (redacted) in the audit trail. */
  params: Record<string, unknown>;
  /** @default "write" */
  kind?: StepKind;
  /** The audit record's `target`. @default `${scope}/${resource}` */
  target?: string;
  /** The rate-limiter bucket. @default "default" */
  workflowId?: string;
  /** The side effect. */
  run: (context: SideEffectContext) => Promise<Result>;
  /** Maps a thrown error to a failure class for the breaker. @default the breaker's own classification */
  classify?: (error: unknown) => FailureClass;
  /** Time limit for the side effect, enforced by the breaker. */
  timeoutMs?: number;
  /** Cancels the step. */
  signal?: AbortSignal;
}

/** How a step ended. */
export interface StepOutcome<Result = unknown> {
  /**
   * `executed`: the side effect ran now; `deduplicated`: it had already
   * completed (or was running) and was not run again; `read`: a read step ran.
   */
  status: "executed" | "deduplicated" | "read";
  /** The step's idempotency key; `""` for reads and for writes run without an index (dev mode). */
  idempotencyKey: string;
  /** The side effect's result (for `deduplicated`, the one recorded the first time). */
  result: Result;
}

/** The points of the durable protocol, reported through {@link StepExecutorOptions.onDurablePoint}. */
export type DurablePoint = "intent" | "pending" | "execute" | "result" | "completed";

/** A per-action check for `check_then_retry` entries left pending by a crash. */
export type ReconcileHook = (entry: IdempotencyEntryView) => Promise<"done" | "not_done">;

/** What {@link DurableStepExecutor.reconcilePending} did. */
export interface ReconcileReport {
  /** Keys promoted to completed by their reconcile hook. */
  promoted: string[];
  /** Keys cleared to run again the next time their step is executed. */
  rerun: string[];
  /** Keys marked failed (strategy `skip`, or `check_then_retry` without a hook). */
  failed: string[];
  /** Keys left pending because their hook threw; tried again at the next boot. */
  unresolved: string[];
  /** Audit intents closed because no step refers to them any more. */
  closedIntents: number[];
}

/** Options of {@link DurableStepExecutor}. */
export interface StepExecutorOptions {
  /** The audit trail; absent only in dev mode. */
  auditTrail?: AuditTrailPort | undefined;
  /** The idempotency index; absent in degraded or dev mode. */
  idempotencyIndex?: IdempotencyIndexPort | undefined;
  /** The circuit breaker; side effects run without one when absent. */
  circuitBreaker?: CircuitBreakerPort | undefined;
  /** The rate limiter; no limit when absent. */
  rateLimiter?: RateLimiterPort | undefined;
  /** @default "autonomous" */
  mode?: OperatingMode;
  /** Subsystems that failed at boot, quoted in {@link DegradedModeError}. @default [] */
  failedSubsystems?: readonly string[];
  /** Per-action checks for `check_then_retry` entries. @default {} */
  reconcilers?: Readonly<Record<string, ReconcileHook>>;
  /** @default silentLogger */
  logger?: Logger;
  /** @default systemClock */
  clock?: Clock;
  /**
   * Awaited after each durable point of a write step. For tracing, and for
   * crash tests that stop the process at an exact point.
   */
  onDurablePoint?: (event: {
    point: DurablePoint;
    action: string;
    idempotencyKey: string;
    intentSeq: number;
  }) => unknown;
}

/**
 * Runs steps with side effects so that a crash at any moment neither repeats
 * nor silently loses them: rate limit, degraded-mode gate and dedup check,
 * then (1) record the intent, (2) mark the key pending, (3) run the side
 * effect inside the circuit breaker, (4) record the result, (5) mark the key
 * completed, each durable before the next starts. A failure records the error,
 * marks the key failed (terminal) and is rethrown.
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
  readonly #audit: AuditTrailPort | undefined;
  readonly #index: IdempotencyIndexPort | undefined;
  readonly #breaker: CircuitBreakerPort | undefined;
  readonly #limiter: RateLimiterPort | undefined;
  readonly #mode: OperatingMode;
  readonly #failedSubsystems: readonly string[];
  readonly #reconcilers: Readonly<Record<string, ReconcileHook>>;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #onDurablePoint: StepExecutorOptions["onDurablePoint"];
  /** Keys whose pending entry is known not to be running, with the intent to close when re-run. */
  readonly #rerunnable = new Map<string, number | undefined>();
  readonly #inFlightByKey = new Map<string, Promise<StepOutcome>>();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #shutdownController = new AbortController();
  /** Errors thrown by side effects whose key was then marked failed. */
  readonly #terminalErrors = new WeakSet<object>();
  #accepting = true;

  /** @param options - the services and hooks; see {@link StepExecutorOptions}. */
  constructor(options: StepExecutorOptions = {}) {
    this.#mode = options.mode ?? "autonomous";
    if (!["autonomous", "degraded", "dev"].includes(this.#mode)) {
      throw new RangeError(
        `mode must be "autonomous", "degraded" or "dev", got ${String(this.#mode)}`,
      );
    }
    this.#audit = options.auditTrail;
    this.#index = options.idempotencyIndex;
    this.#breaker = options.circuitBreaker;
    this.#limiter = options.rateLimiter;
    this.#failedSubsystems = options.failedSubsystems ?? [];
    this.#reconcilers = options.reconcilers ?? {};
    for (const [action, hook] of Object.entries(this.#reconcilers)) {
      if (typeof hook !== "function")
        throw new TypeError(`reconcilers.${action} must be a function`);
    }
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    this.#onDurablePoint = options.onDurablePoint;
  }

  /** The operating mode this executor enforces. */
  get mode(): OperatingMode {
    return this.#mode;
  }

  /** Number of steps running now. */
  get inFlightCount(): number {
    return this.#inFlight.size;
  }

  /**
   * Executes one step.
   * @param request - the step; see {@link StepRequest}.
   * @returns how it ended and the side effect's result.
   * @throws {@link ShuttingDownError} after `stop()`; `RATE_LIMITED` when the
   *   bucket is empty; {@link DegradedModeError} for a write in degraded mode;
   *   {@link StepFailedError} when the key already failed; {@link StepInDoubtError}
   *   when a crash left the key pending and reconciliation could not decide;
   *   `CIRCUIT_OPEN` when the breaker is open (nothing is recorded then);
   *   otherwise whatever the side effect threw.
   * @example
   * ```ts
   * await executor.execute({ kind: "read", action: "get_issue", scope: "acme/widgets",
   *   resource: "issue-12", params: {}, run: ({ signal }) => fetchIssue(signal) });
   * ```
   */
  execute<Result>(request: StepRequest<Result>): Promise<StepOutcome<Result>> {
    if (!this.#accepting) return Promise.reject(new ShuttingDownError());
    validateRequest(request);
    const promise =
      (request.kind ?? "write") === "read"
        ? this.#executeRead(request)
        : this.#executeWrite(request);
    this.#inFlight.add(promise);
    const forget = () => this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /**
   * Applies each pending entry's compensation strategy after a crash: runs the
   * reconcile hook of `check_then_retry` actions (promote when `done`, re-run
   * when `not_done`), clears `safe_retry` keys to run again, marks `skip` keys
   * failed, and closes audit intents no step refers to any more. Boot calls it
   * (step 5) before any step runs.
   * @returns what was done to which key.
   * @example
   * ```ts
   * const report = await executor.reconcilePending();
   * console.log(report.promoted, report.rerun);
   * ```
   */
  async reconcilePending(): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      promoted: [],
      rerun: [],
      failed: [],
      unresolved: [],
      closedIntents: [],
    };
    const index = this.#index;
    const audit = this.#audit;
    if (!index || !audit) return report;
    const entries = await index.reconcilePending();
    const referenced = new Set<number>();
    for (const entry of entries) {
      if (entry.intentSeq !== undefined) referenced.add(entry.intentSeq);
      // Running in this process: in flight, not in doubt.
      if (this.#inFlightByKey.has(entry.key)) continue;
      const action = actionOfKey(entry.key);
      const strategy: CompensationStrategy = entry.strategy ?? index.getStrategy(action);
      if (strategy === "safe_retry") {
        this.#rerunnable.set(entry.key, entry.intentSeq);
        report.rerun.push(entry.key);
        continue;
      }
      const hook = strategy === "check_then_retry" ? this.#reconcilers[action] : undefined;
      if (!hook) {
        const reason =
          strategy === "skip"
            ? `OUTCOME_UNKNOWN: the process stopped while "${action}" was running and its strategy is skip`
            : `OUTCOME_UNKNOWN: the process stopped while "${action}" was running and no reconcile hook is registered for it`;
        await this.#closeIntent(entry.intentSeq, undefined, reason);
        await index.markFailed(entry.key, reason);
        report.failed.push(entry.key);
        this.#logger.warn("boot: pending step marked failed", { key: entry.key, strategy });
        continue;
      }
      let verdict: "done" | "not_done";
      try {
        verdict = await hook(entry);
      } catch (error) {
        report.unresolved.push(entry.key);
        this.#logger.warn("boot: reconcile hook failed; the step stays pending", {
          key: entry.key,
          error,
        });
        continue;
      }
      if (verdict === "done") {
        const result = { reconciled: "done" };
        await this.#closeIntent(entry.intentSeq, result, undefined);
        await index.markCompleted(entry.key, result);
        report.promoted.push(entry.key);
      } else if (verdict === "not_done") {
        this.#rerunnable.set(entry.key, entry.intentSeq);
        report.rerun.push(entry.key);
      } else {
        report.unresolved.push(entry.key);
        this.#logger.warn("boot: reconcile hook returned neither done nor not_done", {
          key: entry.key,
          verdict,
        });
      }
    }
    for (const intent of audit.getPendingIntents()) {
      // Steps running now (when called after boot) own their intents.
      if (
        referenced.has(intent.seq) ||
        (intent.dedupeKey && this.#inFlightByKey.has(intent.dedupeKey))
      )
        continue;
      await audit.recordResult(
        intent.seq,
        null,
        "ABANDONED: the process stopped before this intent's side effect started, or the step was re-run under a newer intent",
      );
      report.closedIntents.push(intent.seq);
    }
    return report;
  }

  /**
   * Tells whether `error`, thrown by {@link DurableStepExecutor.execute}, means
   * the step failed for good (its key is marked failed), as opposed to a
   * refusal that leaves it runnable later (circuit open, rate limited,
   * degraded mode, shutting down, in doubt, or a failure before the side effect started).
   * @param error - what `execute()` threw.
   * @returns true for a terminal failure.
   */
  isTerminalFailure(error: unknown): boolean {
    return (
      StepFailedError.isInstance(error) ||
      (typeof error === "object" && error !== null && this.#terminalErrors.has(error))
    );
  }

  /** Refuses new steps from now on ({@link ShuttingDownError}). */
  stop(): void {
    this.#accepting = false;
  }

  /**
   * Waits for running steps to settle, at most `timeoutMs`; then aborts the
   * signals of those still running. Their keys stay pending and are reconciled
   * at the next boot, since their outcome is unknown.
   * @param timeoutMs - the longest wait.
   * @returns true when every step settled in time.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const drained = await settleWithin(this.#inFlight, timeoutMs, this.#clock);
    if (!drained) {
      this.#logger.warn("shutdown: steps still running after the drain timeout; aborting them", {
        running: this.#inFlight.size,
      });
      this.#shutdownController.abort(new ShuttingDownError());
    }
    return drained;
  }

  async #executeRead<Result>(request: StepRequest<Result>): Promise<StepOutcome<Result>> {
    this.#checkRateLimit(request);
    const result = await this.#runSideEffect(request, "", { started: false });
    return { status: "read", idempotencyKey: "", result };
  }

  async #executeWrite<Result>(request: StepRequest<Result>): Promise<StepOutcome<Result>> {
    this.#checkRateLimit(request);
    if (this.#mode === "degraded")
      throw new DegradedModeError(request.action, this.#failedSubsystems);
    const index = this.#index;
    const audit = this.#audit;
    if (!index || !audit) {
      // Only dev mode gets here: boot never returns autonomous without both.
      const result = await this.#runSideEffect(request, "", { started: false });
      return { status: "executed", idempotencyKey: "", result };
    }
    const key = index.generateKey(request.action, request.scope, request.resource, request.params);
    const running = this.#inFlightByKey.get(key);
    if (running) {
      const outcome = (await running) as StepOutcome<Result>;
      return { ...outcome, status: "deduplicated" };
    }
    const promise = this.#durableWrite(request, key, index, audit);
    this.#inFlightByKey.set(key, promise);
    try {
      return await promise;
    } finally {
      this.#inFlightByKey.delete(key);
    }
  }

  async #durableWrite<Result>(
    request: StepRequest<Result>,
    key: string,
    index: IdempotencyIndexPort,
    audit: AuditTrailPort,
  ): Promise<StepOutcome<Result>> {
    const entry = await index.check(key);
    if (entry?.status === "completed") {
      return {
        status: "deduplicated",
        idempotencyKey: key,
        result: (await this.#recordedResult(entry, audit)) as Result,
      };
    }
    if (entry?.status === "failed") throw new StepFailedError(key, entry.error ?? "unknown error");
    let supersededIntent: number | undefined;
    if (entry?.status === "pending") {
      if (!this.#rerunnable.has(key)) throw new StepInDoubtError(key);
      supersededIntent = this.#rerunnable.get(key);
    }
    this.#assertCircuitAdmits();
    const report = async (point: DurablePoint, intentSeq: number) => {
      if (this.#onDurablePoint) {
        await this.#onDurablePoint({
          point,
          action: request.action,
          idempotencyKey: key,
          intentSeq,
        });
      }
    };
    // 1. The intent is on disk before anything else happens.
    const intentSeq = await audit.recordIntent({
      action: request.action,
      target: request.target ?? `${request.scope}/${request.resource}`,
      params: request.params,
      dedupeKey: key,
    });
    await report("intent", intentSeq);
    // 2. The key is pending, durably, before the side effect starts.
    const claim = await index.markPending(key, intentSeq, {
      strategy: index.getStrategy(request.action),
      action: request.action,
      takeover: entry?.status === "pending",
    });
    if (!claim.claimed) {
      // Settled or claimed between the check and now: this attempt never runs.
      await audit.recordResult(
        intentSeq,
        null,
        `NOT_CLAIMED: the key was ${claim.reason ?? "taken"}`,
      );
      if (claim.reason === "completed" && claim.entry) {
        return {
          status: "deduplicated",
          idempotencyKey: key,
          result: (await this.#recordedResult(claim.entry, audit)) as Result,
        };
      }
      if (claim.reason === "failed")
        throw new StepFailedError(key, claim.entry?.error ?? "unknown error");
      throw new StepInDoubtError(key);
    }
    this.#rerunnable.delete(key);
    await report("pending", intentSeq);
    if (supersededIntent !== undefined) {
      await audit.recordResult(supersededIntent, null, `SUPERSEDED: re-run as intent ${intentSeq}`);
    }
    // 3. The side effect, inside the breaker.
    const progress = { started: false };
    let result: Result;
    try {
      result = await this.#runSideEffect(request, key, progress);
    } catch (error) {
      if (!progress.started) {
        // Refused before it ran (circuit opened meanwhile, or cancelled): safe to run later.
        this.#rerunnable.set(key, intentSeq);
        throw error;
      }
      if (this.#shutdownController.signal.aborted) {
        // Cut off by shutdown: the outcome is unknown, so the key stays pending for reconciliation.
        throw error;
      }
      const failure =
        error instanceof Error ? error : new Error(describeError(error), { cause: error });
      const message = describeError(failure);
      await audit.recordResult(intentSeq, null, message);
      await index.markFailed(key, message);
      this.#terminalErrors.add(failure);
      throw failure;
    }
    await report("execute", intentSeq);
    // 4. The result is on disk; from here a crash is settled by promotion, not by re-running.
    await audit.recordResult(intentSeq, result ?? null);
    await report("result", intentSeq);
    // 5. The key is completed.
    await index.markCompleted(key, result);
    await report("completed", intentSeq);
    return { status: "executed", idempotencyKey: key, result };
  }

  async #runSideEffect<Result>(
    request: StepRequest<Result>,
    key: string,
    progress: { started: boolean },
  ): Promise<Result> {
    const signals = [this.#shutdownController.signal];
    if (request.signal) signals.push(request.signal);
    const operation = (signal: AbortSignal) => {
      signal.throwIfAborted();
      progress.started = true;
      return request.run({ signal, idempotencyKey: key });
    };
    if (!this.#breaker) {
      return operation(AbortSignal.any(signals));
    }
    const options: {
      signal: AbortSignal;
      timeoutMs?: number;
      classify?: (error: unknown) => FailureClass;
    } = {
      signal: AbortSignal.any(signals),
    };
    if (request.timeoutMs !== undefined) options.timeoutMs = request.timeoutMs;
    if (request.classify) options.classify = request.classify;
    return this.#breaker.execute(async (signal) => operation(signal), options);
  }

  async #recordedResult(entry: IdempotencyEntryView, audit: AuditTrailPort): Promise<unknown> {
    if (entry.result !== undefined) return entry.result;
    if (entry.intentSeq === undefined) return undefined;
    return (await audit.findResultByIntentSeq(entry.intentSeq))?.result;
  }

  #checkRateLimit(request: StepRequest<unknown>): void {
    if (!this.#limiter) return;
    const workflowId = request.workflowId ?? "default";
    const verdict = this.#limiter.tryConsume(workflowId);
    if (!verdict.allowed) {
      throw rateLimitedError(workflowId, verdict.retryAfterMs ?? 0, verdict.bucket ?? "workflow");
    }
  }

  #assertCircuitAdmits(): void {
    if (!this.#breaker) return;
    const error = circuitOpenError(this.#breaker, this.#clock.now());
    if (error) throw error;
  }

  async #closeIntent(
    intentSeq: number | undefined,
    result: unknown,
    error: string | undefined,
  ): Promise<void> {
    if (intentSeq === undefined || !this.#audit) return;
    if (await this.#audit.findResultByIntentSeq(intentSeq)) return;
    await this.#audit.recordResult(intentSeq, result ?? null, error);
  }
}

/** The action part of a key `{action}:{scope}/{resource}:{hash}`. */
export function actionOfKey(key: string): string {
  const colon = key.indexOf(":");
  return colon === -1 ? key : key.slice(0, colon);
}

function validateRequest(request: StepRequest<unknown>): void {
  if (typeof request !== "object" || request === null)
    throw new TypeError("step request must be an object");
  for (const field of ["action", "scope", "resource"] as const) {
    if (typeof request[field] !== "string" || request[field].length === 0) {
      throw new TypeError(`step ${field} must be a non-empty string`);
    }
  }
  if (typeof request.run !== "function") throw new TypeError("step run must be a function");
  if (typeof request.params !== "object" || request.params === null) {
    throw new TypeError("step params must be an object");
  }
  if (request.kind !== undefined && request.kind !== "write" && request.kind !== "read") {
    throw new RangeError(`step kind must be "write" or "read", got ${String(request.kind)}`);
  }
}

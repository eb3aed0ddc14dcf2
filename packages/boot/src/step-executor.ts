import {
  type ReconcilePassOptions,
  type ReconcileReport,
  reconcileAfterCrash,
} from "./boot-reconciliation.js";
import { traceStep } from "./diagnostics.js";
import { ShuttingDownError, StepFailedError } from "./errors.js";
import type { ExecutorContext, OperatingMode, ReconcileHook } from "./executor-context.js";
import { decideKey } from "./operator-key-decision.js";
import type { IdempotencyEntryView } from "./ports.js";
import { registerReconcileHooks } from "./reconciler-registration.js";
import { settleWithin } from "./settle-within.js";
import { executeStep } from "./step-execution.js";
import { executorContextOf, type StepExecutorOptions } from "./step-executor-options.js";
import type { ReadOutcome, StepOutcome, StepSettlement, WriteOutcome } from "./step-outcome.js";
import { type StepRequest, validateStepRequest } from "./step-request.js";

export { STEP_EXECUTOR_DEFAULTS, type StepExecutorOptions } from "./step-executor-options.js";

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
    this.#context = executorContextOf(options, {
      stopSignal: this.#stopController.signal,
      shutdownSignal: this.#shutdownController.signal,
    });
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
    return registerReconcileHooks(this.#context, (key) => this.#inFlightByKey.has(key), hooks);
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
    return decideKey(
      this.#context,
      (key) => this.#inFlightByKey.has(key),
      key,
      verdict,
      options.reason,
    );
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
    return decideKey(
      this.#context,
      (key) => this.#inFlightByKey.has(key),
      key,
      "reset",
      options.reason,
    );
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
      () => executeStep(this.#context, this.#inFlightByKey, request, failure),
    );
    this.#inFlight.add(promise);
    const forget = () => this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }
}

import type { CircuitState } from "./circuit-state.js";
import { CircuitStateMachine } from "./circuit-state-machine.js";
import { type CircuitStats, windowTotals } from "./circuit-stats.js";
import { classifyOutcome } from "./classify-outcome.js";
import { BreakerSnapshotError } from "./errors.js";
import { type CircuitBreakerEventName, type CircuitBreakerEvents, EVENT_NAMES } from "./events.js";
import { checkExecuteOptions, type ExecuteOptions } from "./execute-options.js";
import { FAILURE_CLASSES, type FailureClass, isFailureClass } from "./failure-class.js";
import { NEVER_ABORTED, runGuardedCall } from "./guarded-call.js";
import {
  type CircuitBreakerOptions,
  type LegacyCircuitBreakerOptions,
  type ResolvedOptions,
  resolveOptions,
} from "./options.js";
import { type CircuitBreakerSnapshot, parseSnapshot } from "./snapshot.js";
import { type Listener, TypedEmitter } from "./typed-emitter.js";

/** Settles one call's outcome; shared by the plain calls of one generation. */
interface OutcomeHandlers {
  readonly generation: number;
  readonly onFulfilled: (value: unknown) => unknown;
  readonly onRejected: (error: unknown) => never;
}

/**
 * A circuit breaker that counts classified failures over a rolling window.
 *
 * CLOSED, it runs calls and counts the failures whose class is countable
 * (transient, external, rate_limited by default); `failureThreshold` of them
 * within `rollingWindowMs` open it. OPEN, it refuses calls with
 * {@link CircuitOpenError} for `openDurationMs`. Then it is HALF_OPEN: at most
 * `halfOpenProbeCount` probe calls run at a time (others are refused, not
 * queued); that many successes close it, one countable failure opens it again.
 *
 * A failure whose class is not countable (`expected` always, `permanent` by
 * default) shows that the service answered: it never opens the circuit and,
 * for the state machine, counts as a success.
 *
 * No timer runs while the breaker is idle: leaving OPEN is noticed when the
 * breaker is next used or inspected (`execute`, `getState`, `getStats`,
 * `record*`, `toJSON`); the `halfOpen` event fires then.
 *
 * @example
 * ```ts
 * const breaker = new CircuitBreaker({ name: "github" });
 * breaker.on("open", ({ retryAt }) => console.warn(`GitHub circuit open until ${new Date(retryAt!)}`));
 * const issue = await breaker.execute((signal) => octokit.rest.issues.get({ owner, repo, issue_number, request: { signal } }), { timeoutMs: 10_000 });
 * ```
 */
export class CircuitBreaker {
  readonly #options: ResolvedOptions;
  readonly #events: TypedEmitter<CircuitBreakerEvents>;
  readonly #machine: CircuitStateMachine;
  readonly #warn = (message: string, data: Record<string, unknown>): void => {
    try {
      this.#options.logger.warn(message, { breaker: this.#options.name, ...data });
    } catch {
      // A broken logger must not break the breaker either.
    }
  };
  #plainHandlers: OutcomeHandlers | undefined;

  /**
   * @param options - thresholds, window, classes, hooks, clock, saved state; the
   *   old `{ maxFailures, resetTimeMs, halfOpenRetries }` shape is accepted too.
   * @throws TypeError or RangeError naming the option when an option is invalid
   *   (including a malformed `initialState`).
   */
  constructor(options?: CircuitBreakerOptions | LegacyCircuitBreakerOptions) {
    this.#options = resolveOptions(options);
    this.#events = new TypedEmitter((event, error) =>
      this.#warn("circuit breaker listener threw", { event, error }),
    );
    this.#machine = new CircuitStateMachine(this.#options, this.#events, this.#warn);
    if (options?.initialState !== undefined) {
      this.#machine.restore(parseSnapshot(options.initialState), this.#options.now());
    }
  }

  /** The `name` option, if any. */
  get name(): string | undefined {
    return this.#options.name;
  }

  /**
   * Runs `fn` through the circuit.
   *
   * Refused at once when the circuit is OPEN, or HALF_OPEN with every probe
   * slot taken. Otherwise `fn` runs; its result is returned and its error
   * rethrown unchanged, after the outcome is counted: an error is classified
   * (by `options.classify`, the breaker's `classify`, or {@link classifyFailure})
   * and counts toward the threshold when its class is countable.
   *
   * @param fn - the call to protect; receives a signal that aborts on timeout
   *   or when `options.signal` aborts. Old-style functions that take no
   *   argument work unchanged.
   * @param options - `signal`, `timeoutMs`, `classify`.
   * @returns what `fn` returns.
   * @throws {@link CircuitOpenError} when the circuit refuses the call.
   * @throws {@link CircuitTimeoutError} when `timeoutMs` runs out (counted as `external`).
   * @throws the reason of `options.signal` when it aborts (not counted).
   * @throws whatever `fn` throws.
   * @throws TypeError / RangeError (as a rejection) for a bad `fn` or option.
   * @example
   * ```ts
   * const data = await breaker.execute(async (signal) => {
   *   const response = await fetch(url, { signal });
   *   if (!response.ok) throw response; // classified by status and headers
   *   return response.json();
   * }, { timeoutMs: 5_000 });
   * ```
   */
  execute<T>(fn: (signal: AbortSignal) => Promise<T> | T, options?: ExecuteOptions): Promise<T> {
    let signal: AbortSignal | undefined;
    let timeoutMs: number | undefined;
    let classify: ((error: unknown) => FailureClass) | undefined;
    let isProbe: boolean;
    try {
      if (typeof fn !== "function") throw new TypeError("execute(fn): fn must be a function");
      if (options !== undefined) {
        ({ signal, timeoutMs, classify } = checkExecuteOptions(options));
        if (signal?.aborted) throw signal.reason;
      }
      isProbe = this.#machine.admit();
    } catch (error) {
      return Promise.reject(error);
    }
    const generation = this.#machine.generation;
    if (signal !== undefined || timeoutMs !== undefined) {
      const machine = this.#machine;
      const { clock, name } = this.#options;
      return runGuardedCall(
        fn,
        { signal, timeoutMs, clock, name },
        {
          succeeded: () => machine.settleSuccess(generation, isProbe, "call"),
          failed: (error) =>
            machine.settleFailure(
              generation,
              isProbe,
              this.#classify(error, classify),
              error,
              "error",
            ),
          timedOut: (error) =>
            machine.settleFailure(generation, isProbe, "external", error, "timeout"),
          cancelled: () => machine.cancel(generation, isProbe),
        },
      );
    }
    // The hot path: `then` with handlers shared by every plain call of this
    // generation costs far less than an async function or fresh closures.
    const handlers =
      isProbe || classify !== undefined
        ? this.#makeHandlers(generation, isProbe, classify)
        : this.#sharedHandlers(generation);
    let result: Promise<T> | T;
    try {
      result = fn(NEVER_ABORTED);
    } catch (error) {
      result = Promise.reject(error);
    }
    return Promise.resolve(result).then(
      handlers.onFulfilled as (value: T) => T,
      handlers.onRejected,
    );
  }

  /**
   * Records a failure observed outside `execute()` (the plan's API, for
   * callers that run the call themselves).
   * @param failureClass - the class of the failure. @default "transient"
   * @throws TypeError when `failureClass` is not a failure class.
   * @example
   * ```ts
   * breaker.recordFailure(classifyGitHubFailure(response.status, response.headers));
   * ```
   */
  recordFailure(failureClass: FailureClass = "transient"): void {
    if (!isFailureClass(failureClass)) {
      throw new TypeError(
        `recordFailure: ${JSON.stringify(failureClass)} is not one of ${FAILURE_CLASSES.join(", ")}`,
      );
    }
    this.#machine.refresh(this.#options.now());
    this.#machine.settleFailure(
      this.#machine.generation,
      false,
      failureClass,
      undefined,
      "recorded",
    );
  }

  /**
   * Records a success observed outside `execute()`. While HALF_OPEN it counts
   * toward the `halfOpenProbeCount` successes that close the circuit.
   * @example
   * ```ts
   * breaker.recordSuccess();
   * ```
   */
  recordSuccess(): void {
    this.#machine.refresh(this.#options.now());
    this.#machine.settleSuccess(this.#machine.generation, false, "recorded");
  }

  /**
   * The current state; moves an OPEN circuit whose open time has passed to HALF_OPEN.
   * @returns `"CLOSED"`, `"OPEN"` or `"HALF_OPEN"`.
   * @example
   * ```ts
   * if (breaker.getState() === "OPEN") return "skipped: GitHub is failing";
   * ```
   */
  getState(): CircuitState {
    this.#machine.refresh(this.#options.now());
    return this.#machine.state;
  }

  /**
   * Counts over the rolling window and the state's details.
   * @returns a fresh {@link CircuitStats} object.
   * @example
   * ```ts
   * const { state, failures } = breaker.getStats();
   * console.log(state, failures.rate_limited);
   * ```
   */
  getStats(): CircuitStats {
    const now = this.#options.now();
    const machine = this.#machine;
    machine.refresh(now);
    const { failures, countableFailures, successes, rejections } = windowTotals(
      machine.counters.totals(now),
      machine.countable,
    );
    const { rollingWindowMs, failureThreshold, name } = this.#options;
    return {
      name,
      state: machine.state,
      failures,
      countableFailures,
      countedTowardThreshold: machine.countedFailures(now).length,
      successes,
      rejections,
      openedAt: machine.openedAt,
      halfOpenAt: machine.halfOpenAt,
      retryAt: machine.retryAt,
      probesInFlight: machine.probes.inFlight,
      probeSuccesses: machine.probes.successes,
      failureThreshold,
      rollingWindowMs,
    };
  }

  /**
   * Forces the circuit CLOSED and forgets the failures counted toward the
   * threshold (statistics are kept). Calls still running from before are not
   * counted toward the new state.
   * @example
   * ```ts
   * breaker.reset(); // an operator fixed the token
   * ```
   */
  reset(): void {
    this.#machine.reset(this.#options.now());
  }

  /**
   * The state as plain JSON, to persist and pass back as `initialState` after a
   * restart, so a restarted process does not hammer a failing API again.
   * @returns a {@link CircuitBreakerSnapshot}.
   * @example
   * ```ts
   * await writeFile("breaker.json", JSON.stringify(breaker));
   * const restored = new CircuitBreaker({ initialState: JSON.parse(await readFile("breaker.json", "utf8")) });
   * ```
   */
  toJSON(): CircuitBreakerSnapshot {
    const now = this.#options.now();
    const machine = this.#machine;
    machine.refresh(now);
    return {
      version: 1,
      state: machine.state,
      openedAt: machine.openedAt,
      retryAt: machine.retryAt,
      failureTimestamps: machine.countedFailures(now),
      savedAt: now,
    };
  }

  /**
   * Replaces the state with a snapshot from {@link CircuitBreaker.toJSON}, as
   * `initialState` does at construction: an OPEN circuit keeps refusing until
   * the saved `retryAt` (capped at `openDurationMs` from `now`, against a
   * clock that jumped), a HALF_OPEN one starts with no probes in flight, a
   * CLOSED one keeps the counted failures still inside the window. Calls
   * running from before are not counted toward the restored state. Restoring
   * fires no transition.
   * @param snapshot - saved state, read back from storage.
   * @param options - `now`: the time to judge the snapshot at. @default the breaker's clock
   * @throws {@link BreakerSnapshotError} for a malformed snapshot (the state is left as it was).
   * @throws TypeError when `now` is not a finite number.
   * @example
   * ```ts
   * breaker.restore(JSON.parse(await readFile("breaker.json", "utf8")));
   * ```
   */
  restore(snapshot: CircuitBreakerSnapshot, options: { now?: number } = {}): void {
    const now = options.now ?? this.#options.now();
    if (typeof now !== "number" || !Number.isFinite(now)) {
      throw new TypeError("restore options.now must be epoch milliseconds");
    }
    let parsed: CircuitBreakerSnapshot;
    try {
      parsed = parseSnapshot(snapshot, "snapshot");
    } catch (error) {
      throw new BreakerSnapshotError((error as Error).message, undefined, error);
    }
    this.#machine.restore(parsed, now);
  }

  /**
   * @internal Whether forgetting this breaker would change nothing but its
   * statistics: CLOSED, no failure counted toward the threshold.
   */
  hasNothingToRemember(): boolean {
    const now = this.#options.now();
    this.#machine.refresh(now);
    return this.#machine.state === "CLOSED" && this.#machine.countedFailures(now).length === 0;
  }

  /**
   * Subscribes to an event. Listeners run synchronously, after the state they
   * report has changed; one that throws is logged (`logger.warn`) and never
   * disturbs the breaker or the other listeners.
   * @param event - `open`, `halfOpen`, `close`, `success`, `failure` or `reject`.
   * @param listener - receives the event's payload.
   * @returns a function that unsubscribes.
   * @throws TypeError for an unknown event or a listener that is not a function.
   * @example
   * ```ts
   * const stop = breaker.on("failure", ({ failureClass, counted }) => metrics.count(failureClass, counted));
   * stop();
   * ```
   */
  on<Name extends CircuitBreakerEventName>(
    event: Name,
    listener: Listener<CircuitBreakerEvents[Name]>,
  ): () => void {
    if (!EVENT_NAMES.has(event)) {
      throw new TypeError(
        `unknown event ${JSON.stringify(event)}; use one of ${[...EVENT_NAMES].join(", ")}`,
      );
    }
    if (typeof listener !== "function") throw new TypeError("listener must be a function");
    return this.#events.on(event, listener);
  }

  #sharedHandlers(generation: number): OutcomeHandlers {
    let handlers = this.#plainHandlers;
    if (handlers === undefined || handlers.generation !== generation) {
      handlers = this.#makeHandlers(generation, false, undefined);
      this.#plainHandlers = handlers;
    }
    return handlers;
  }

  #makeHandlers(
    generation: number,
    isProbe: boolean,
    classify: ((error: unknown) => FailureClass) | undefined,
  ): OutcomeHandlers {
    const machine = this.#machine;
    return {
      generation,
      onFulfilled: (value: unknown) => {
        machine.settleSuccess(generation, isProbe, "call");
        return value;
      },
      onRejected: (error: unknown): never => {
        machine.settleFailure(generation, isProbe, this.#classify(error, classify), error, "error");
        throw error;
      },
    };
  }

  #classify(
    error: unknown,
    classify: ((error: unknown) => FailureClass) | undefined,
  ): FailureClass {
    return classifyOutcome(error, classify ?? this.#options.classify, this.#warn);
  }
}

import type { TimerHandle } from "@beauvoir/core";
import type { CircuitState } from "./circuit-state.js";
import { publishBreakerState } from "./diagnostics.js";
import { BreakerSnapshotError, CircuitOpenError, CircuitTimeoutError } from "./errors.js";
import {
  type CircuitBreakerEventName,
  type CircuitBreakerEvents,
  EVENT_NAMES,
  type StateChangeReason,
} from "./events.js";
import {
  FAILURE_CLASSES,
  type FailureClass,
  failureClassIndex,
  isFailureClass,
} from "./failure-class.js";
import { FailureRing } from "./failure-ring.js";
import {
  type CircuitBreakerOptions,
  type LegacyCircuitBreakerOptions,
  type ResolvedOptions,
  resolveOptions,
} from "./options.js";
import { type CircuitBreakerSnapshot, parseSnapshot } from "./snapshot.js";
import { type Listener, TypedEmitter } from "./typed-emitter.js";
import { REJECTION_COUNTER, SUCCESS_COUNTER, WindowCounters } from "./window-counters.js";

/** Per-call options of {@link CircuitBreaker.execute}. */
export interface ExecuteOptions {
  /**
   * Cancels the call: `execute()` rejects at once with the signal's reason, the
   * function's signal aborts too, and nothing counts as a failure. An already
   * aborted signal rejects without running the function.
   */
  signal?: AbortSignal | undefined;
  /**
   * Time limit in milliseconds (`Infinity`: none). When it runs out, the
   * function's signal aborts, `execute()` rejects with a `CircuitTimeoutError`,
   * and the failure counts as `external`.
   * @default no limit
   */
  timeoutMs?: number | undefined;
  /** Maps what the function threw to a failure class, for this call. @default the breaker's `classify` */
  classify?: ((error: unknown) => FailureClass) | undefined;
}

/** What {@link CircuitBreaker.getStats} reports. */
export interface CircuitStats {
  /** The breaker's `name` option. */
  readonly name: string | undefined;
  /** The current state. */
  readonly state: CircuitState;
  /**
   * Failures in the rolling window, by class, in every state. Counted in 60
   * time buckets: a failure leaves these totals between `rollingWindowMs` and
   * `rollingWindowMs * 61 / 60` after it happened.
   */
  readonly failures: Readonly<Record<FailureClass, number>>;
  /** Sum of `failures` over the `countableClasses`. */
  readonly countableFailures: number;
  /**
   * Countable failures that count toward `failureThreshold` right now, exactly:
   * those since the circuit last closed (or, with `resetOnSuccess`, since the
   * last success), within the window. Always 0 unless CLOSED.
   */
  readonly countedTowardThreshold: number;
  /** Successful calls and `recordSuccess()` calls in the rolling window. */
  readonly successes: number;
  /** Calls refused with `CircuitOpenError` in the rolling window. */
  readonly rejections: number;
  /** When the circuit last opened, epoch ms; null when CLOSED. */
  readonly openedAt: number | null;
  /** When the circuit half-opened, epoch ms; null unless HALF_OPEN. */
  readonly halfOpenAt: number | null;
  /** When an OPEN circuit will half-open, epoch ms; null unless OPEN. */
  readonly retryAt: number | null;
  /** Probe calls running now (HALF_OPEN). */
  readonly probesInFlight: number;
  /** Successful probes since the circuit half-opened. */
  readonly probeSuccesses: number;
  /** The configured threshold. */
  readonly failureThreshold: number;
  /** The configured window. */
  readonly rollingWindowMs: number;
}

// Handed to functions when nothing can abort the call: creating a signal costs
// microseconds, far more than the rest of `execute()`. Listeners added to it
// never fire; remove them as you would on any long-lived signal.
const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** Settles one call's outcome; shared by the plain calls of one generation. */
interface OutcomeHandlers {
  readonly generation: number;
  readonly onFulfilled: (value: unknown) => unknown;
  readonly onRejected: (error: unknown) => never;
}

const STATE_EVENTS = {
  OPEN: "open",
  HALF_OPEN: "halfOpen",
  CLOSED: "close",
} as const satisfies Record<CircuitState, CircuitBreakerEventName>;

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
  readonly #countable: readonly boolean[];
  readonly #ring: FailureRing;
  readonly #counters: WindowCounters;
  readonly #events: TypedEmitter<CircuitBreakerEvents>;

  #state: CircuitState = "CLOSED";
  // Bumped on every transition: outcomes of calls admitted under an older
  // generation (a probe still running when the circuit reopened, a call that
  // started before it opened) are counted in the statistics only.
  #generation = 0;
  #openedAt: number | null = null;
  #retryAt = 0;
  #halfOpenAt: number | null = null;
  #probesInFlight = 0;
  #probeSuccesses = 0;
  #plainHandlers: OutcomeHandlers | undefined;

  /**
   * @param options - thresholds, window, classes, hooks, clock, saved state; the
   *   old `{ maxFailures, resetTimeMs, halfOpenRetries }` shape is accepted too.
   * @throws TypeError or RangeError naming the option when an option is invalid
   *   (including a malformed `initialState`).
   */
  constructor(options?: CircuitBreakerOptions | LegacyCircuitBreakerOptions) {
    this.#options = resolveOptions(options);
    const countable = new Set(this.#options.countableClasses);
    this.#countable = FAILURE_CLASSES.map((failureClass) => countable.has(failureClass));
    this.#ring = new FailureRing(this.#options.failureThreshold);
    this.#counters = new WindowCounters(this.#options.rollingWindowMs);
    this.#events = new TypedEmitter((event, error) =>
      this.#warn("circuit breaker listener threw", { event, error }),
    );
    if (options?.initialState !== undefined) {
      this.#restore(parseSnapshot(options.initialState), this.#options.now());
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
      isProbe = this.#admit();
    } catch (error) {
      return Promise.reject(error);
    }
    const generation = this.#generation;
    if (signal !== undefined || timeoutMs !== undefined) {
      return this.#executeGuarded(fn, isProbe, generation, signal, timeoutMs, classify);
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
    this.#refresh(this.#options.now());
    this.#settleFailure(this.#generation, false, failureClass, undefined, "recorded");
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
    this.#refresh(this.#options.now());
    this.#settleSuccess(this.#generation, false, "recorded");
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
    this.#refresh(this.#options.now());
    return this.#state;
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
    this.#refresh(now);
    const totals = this.#counters.totals(now);
    const failures = {} as Record<FailureClass, number>;
    let countableFailures = 0;
    FAILURE_CLASSES.forEach((failureClass, index) => {
      failures[failureClass] = totals[index]!;
      if (this.#countable[index]) countableFailures += totals[index]!;
    });
    const { rollingWindowMs, failureThreshold, name } = this.#options;
    return {
      name,
      state: this.#state,
      failures,
      countableFailures,
      countedTowardThreshold:
        this.#state === "CLOSED" ? this.#ring.within(now, rollingWindowMs).length : 0,
      successes: totals[SUCCESS_COUNTER]!,
      rejections: totals[REJECTION_COUNTER]!,
      openedAt: this.#openedAt,
      halfOpenAt: this.#halfOpenAt,
      retryAt: this.#state === "OPEN" ? this.#retryAt : null,
      probesInFlight: this.#probesInFlight,
      probeSuccesses: this.#probeSuccesses,
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
    const now = this.#options.now();
    if (this.#state === "CLOSED") {
      this.#ring.clear();
      return;
    }
    this.#close(now, "reset");
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
    this.#refresh(now);
    return {
      version: 1,
      state: this.#state,
      openedAt: this.#openedAt,
      retryAt: this.#state === "OPEN" ? this.#retryAt : null,
      failureTimestamps:
        this.#state === "CLOSED" ? this.#ring.within(now, this.#options.rollingWindowMs) : [],
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
    this.#state = "CLOSED";
    this.#generation++;
    this.#openedAt = null;
    this.#halfOpenAt = null;
    this.#probesInFlight = 0;
    this.#probeSuccesses = 0;
    this.#ring.clear();
    this.#restore(parsed, now);
  }

  /**
   * @internal Whether forgetting this breaker would change nothing but its
   * statistics: CLOSED, no failure counted toward the threshold.
   */
  hasNothingToRemember(): boolean {
    const now = this.#options.now();
    this.#refresh(now);
    return (
      this.#state === "CLOSED" && this.#ring.within(now, this.#options.rollingWindowMs).length === 0
    );
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

  /** Admits a call or throws CircuitOpenError; returns whether the call is a probe. */
  #admit(): boolean {
    if (this.#state === "CLOSED") return false;
    const now = this.#options.now();
    this.#refresh(now);
    // A listener of the transition may have changed the state again.
    const state = this.#state as CircuitState;
    if (state === "CLOSED") return false;
    if (state === "HALF_OPEN" && this.#probesInFlight < this.#options.halfOpenProbeCount) {
      this.#probesInFlight++;
      return true;
    }
    const retryAt = state === "OPEN" ? this.#retryAt : now;
    const error = new CircuitOpenError(retryAt, state, this.#options.name);
    this.#counters.add(REJECTION_COUNTER, now);
    this.#events.emit("reject", {
      reason: state === "OPEN" ? "open" : "probes_busy",
      state,
      retryAt,
      at: now,
    });
    throw error;
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
    return {
      generation,
      onFulfilled: (value: unknown) => {
        this.#settleSuccess(generation, isProbe, "call");
        return value;
      },
      onRejected: (error: unknown): never => {
        this.#settleFailure(generation, isProbe, this.#classify(error, classify), error, "error");
        throw error;
      },
    };
  }

  #executeGuarded<T>(
    fn: (signal: AbortSignal) => Promise<T> | T,
    isProbe: boolean,
    generation: number,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    classify: ((error: unknown) => FailureClass) | undefined,
  ): Promise<T> {
    const { clock, name } = this.#options;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let timer: TimerHandle | undefined;
      let controller: AbortController | undefined;
      const finish = () => {
        settled = true;
        if (timer !== undefined) clock.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        if (settled) return;
        finish();
        const reason = signal!.reason;
        controller?.abort(reason);
        // Cancelled by the caller: says nothing about the service, frees the probe slot.
        if (isProbe && generation === this.#generation) this.#probesInFlight--;
        reject(reason);
      };
      let callSignal = signal ?? NEVER_ABORTED;
      if (timeoutMs !== undefined) {
        const timeoutController = new AbortController();
        controller = timeoutController;
        callSignal = timeoutController.signal;
        timer = clock.setTimeout(() => {
          if (settled) return;
          finish();
          const error = new CircuitTimeoutError(timeoutMs, name);
          timeoutController.abort(error);
          this.#settleFailure(generation, isProbe, "external", error, "timeout");
          reject(error);
        }, timeoutMs);
        timer.unref?.();
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      let result: Promise<T> | T;
      try {
        result = fn(callSignal);
      } catch (error) {
        result = Promise.reject(error);
      }
      // Outcomes after a timeout or an abort are dropped, rejections included,
      // so a late failure is neither counted nor reported as unhandled.
      Promise.resolve(result).then(
        (value) => {
          if (settled) return;
          finish();
          this.#settleSuccess(generation, isProbe, "call");
          resolve(value);
        },
        (error: unknown) => {
          if (settled) return;
          finish();
          this.#settleFailure(generation, isProbe, this.#classify(error, classify), error, "error");
          reject(error);
        },
      );
    });
  }

  #settleSuccess(generation: number, isProbe: boolean, reason: "call" | "recorded"): void {
    const now = this.#options.now();
    this.#counters.add(SUCCESS_COUNTER, now);
    if (this.#events.has("success")) {
      this.#events.emit("success", { reason, state: this.#state, at: now });
    }
    if (generation !== this.#generation) return;
    if (isProbe) this.#probesInFlight--;
    this.#applySuccess(now);
  }

  #settleFailure(
    generation: number,
    isProbe: boolean,
    failureClass: FailureClass,
    error: unknown,
    reason: "error" | "timeout" | "recorded",
  ): void {
    const now = this.#options.now();
    const index = failureClassIndex(failureClass);
    const counted = this.#countable[index]!;
    this.#counters.add(index, now);
    if (this.#events.has("failure")) {
      this.#events.emit("failure", {
        reason,
        failureClass,
        counted,
        error,
        state: this.#state,
        at: now,
      });
    }
    if (generation !== this.#generation) return;
    if (isProbe) this.#probesInFlight--;
    if (!counted) {
      // The service answered (a 404, a validation error): that is a sign of health.
      this.#applySuccess(now);
    } else if (this.#state === "CLOSED") {
      this.#ring.push(now);
      if (this.#ring.isFullWithin(now, this.#options.rollingWindowMs)) {
        this.#open(now, "failure_threshold");
      }
    } else if (this.#state === "HALF_OPEN") {
      this.#open(now, "probe_failed");
    }
  }

  #applySuccess(now: number): void {
    if (this.#state === "CLOSED") {
      if (this.#options.resetOnSuccess) this.#ring.clear();
    } else if (this.#state === "HALF_OPEN") {
      this.#probeSuccesses++;
      if (this.#probeSuccesses >= this.#options.halfOpenProbeCount) {
        this.#close(now, "probes_succeeded");
      }
    }
  }

  #refresh(now: number): void {
    if (this.#state === "OPEN" && now >= this.#retryAt) {
      this.#transition("HALF_OPEN", now, "open_duration_elapsed");
    }
  }

  #open(now: number, reason: StateChangeReason): void {
    this.#openedAt = now;
    this.#retryAt = now + this.#options.openDurationMs;
    this.#transition("OPEN", now, reason);
  }

  #close(now: number, reason: StateChangeReason): void {
    this.#openedAt = null;
    this.#transition("CLOSED", now, reason);
  }

  #transition(to: CircuitState, now: number, reason: StateChangeReason): void {
    const from = this.#state;
    this.#state = to;
    this.#generation++;
    this.#ring.clear();
    this.#probesInFlight = 0;
    this.#probeSuccesses = 0;
    this.#halfOpenAt = to === "HALF_OPEN" ? now : null;
    const { onStateChange } = this.#options;
    if (onStateChange !== undefined) {
      try {
        onStateChange(from, to);
      } catch (error) {
        this.#warn("circuit breaker onStateChange threw", { from, to, error });
      }
    }
    const retryAt = to === "OPEN" ? this.#retryAt : null;
    publishBreakerState(() => ({ name: this.#options.name, from, to, reason, at: now, retryAt }));
    this.#events.emit(STATE_EVENTS[to], { from, to, reason, at: now, retryAt });
  }

  #classify(
    error: unknown,
    classify: ((error: unknown) => FailureClass) | undefined,
  ): FailureClass {
    const classifier = classify ?? this.#options.classify;
    try {
      const failureClass = classifier(error);
      if (isFailureClass(failureClass)) return failureClass;
      this.#warn("circuit breaker classify returned an unknown class; counted as transient", {
        failureClass,
      });
    } catch (classifyError) {
      this.#warn("circuit breaker classify threw; counted as transient", { error: classifyError });
    }
    return "transient";
  }

  #restore(snapshot: CircuitBreakerSnapshot, now: number): void {
    this.#state = snapshot.state;
    this.#openedAt = snapshot.state === "CLOSED" ? null : snapshot.openedAt;
    if (snapshot.state === "OPEN") {
      this.#retryAt = Math.min(snapshot.retryAt!, now + this.#options.openDurationMs);
    }
    // A restarted process has no probes in flight: HALF_OPEN starts over.
    if (snapshot.state === "HALF_OPEN") this.#halfOpenAt = now;
    if (snapshot.state === "CLOSED") {
      const { rollingWindowMs, failureThreshold } = this.#options;
      const recent = snapshot.failureTimestamps.filter((time) => now - time < rollingWindowMs);
      for (const time of recent.slice(-failureThreshold)) this.#ring.push(time);
    }
  }

  #warn(message: string, data: Record<string, unknown>): void {
    try {
      this.#options.logger.warn(message, { breaker: this.#options.name, ...data });
    } catch {
      // A broken logger must not break the breaker either.
    }
  }
}

function checkExecuteOptions(options: ExecuteOptions): ExecuteOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("execute(fn, options): options must be an object");
  }
  const { signal, timeoutMs, classify } = options;
  if (
    signal !== undefined &&
    (typeof signal !== "object" || signal === null || typeof signal.addEventListener !== "function")
  ) {
    throw new TypeError("execute options.signal must be an AbortSignal");
  }
  if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !(timeoutMs > 0))) {
    throw new RangeError(
      `execute options.timeoutMs must be a number > 0, got ${String(timeoutMs)}`,
    );
  }
  if (classify !== undefined && typeof classify !== "function") {
    throw new TypeError("execute options.classify must be a function");
  }
  return {
    ...(signal === undefined ? {} : { signal }),
    ...(timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY ? {} : { timeoutMs }),
    ...(classify === undefined ? {} : { classify }),
  };
}

import type { CircuitState } from "./circuit-state.js";
import { CircuitOpenError } from "./errors.js";
import type {
  CircuitBreakerEvents,
  CircuitFailureEvent,
  CircuitSuccessEvent,
  StateChangeReason,
} from "./events.js";
import { FAILURE_CLASSES, type FailureClass, failureClassIndex } from "./failure-class.js";
import type { ResolvedOptions } from "./options.js";
import { ProbeSlots } from "./probe-slots.js";
import type { CircuitBreakerSnapshot } from "./snapshot.js";
import { announceStateChange, type StateChangeAudience } from "./state-change.js";
import { ThresholdWindow } from "./threshold-window.js";
import type { TypedEmitter } from "./typed-emitter.js";
import { REJECTION_COUNTER, SUCCESS_COUNTER, WindowCounters } from "./window-counters.js";

/**
 * @internal The breaker's states and transitions, and the outcomes that drive
 * them. Every outcome is counted in the statistics; only those of calls
 * admitted in the current generation move the state.
 */
export class CircuitStateMachine {
  readonly #options: ResolvedOptions;
  readonly #events: TypedEmitter<CircuitBreakerEvents>;
  readonly #audience: StateChangeAudience;
  /** Per failure class, in `FAILURE_CLASSES` order: whether it counts toward the threshold. */
  readonly countable: readonly boolean[];
  /** Successes, failures by class and rejections over the rolling window. */
  readonly counters: WindowCounters;
  readonly #window: ThresholdWindow;
  readonly #probes: ProbeSlots;

  #state: CircuitState = "CLOSED";
  // Bumped on every transition: outcomes of calls admitted under an older
  // generation (a probe still running when the circuit reopened, a call that
  // started before it opened) are counted in the statistics only.
  #generation = 0;
  #openedAt: number | null = null;
  #retryAt = 0;
  #halfOpenAt: number | null = null;

  /**
   * @param options - the breaker's resolved options.
   * @param events - where outcomes, refusals and transitions are emitted.
   * @param warn - logs a hook that threw.
   */
  constructor(
    options: ResolvedOptions,
    events: TypedEmitter<CircuitBreakerEvents>,
    warn: (message: string, data: Record<string, unknown>) => void,
  ) {
    this.#options = options;
    this.#events = events;
    this.#audience = { name: options.name, onStateChange: options.onStateChange, events, warn };
    const countable = new Set(options.countableClasses);
    this.countable = FAILURE_CLASSES.map((failureClass) => countable.has(failureClass));
    this.counters = new WindowCounters(options.rollingWindowMs);
    this.#window = new ThresholdWindow(options.failureThreshold, options.rollingWindowMs);
    this.#probes = new ProbeSlots(options.halfOpenProbeCount);
  }

  /** The state, as last refreshed. */
  get state(): CircuitState {
    return this.#state;
  }

  /** The current generation, to hand back with a call's outcome. */
  get generation(): number {
    return this.#generation;
  }

  /** When the circuit last opened; null when CLOSED. */
  get openedAt(): number | null {
    return this.#openedAt;
  }

  /** When the circuit half-opened; null unless HALF_OPEN. */
  get halfOpenAt(): number | null {
    return this.#halfOpenAt;
  }

  /** When an OPEN circuit half-opens; null in the other states. */
  get retryAt(): number | null {
    return this.#state === "OPEN" ? this.#retryAt : null;
  }

  /** The half-open probe budget. */
  get probes(): ProbeSlots {
    return this.#probes;
  }

  /** The failures counted toward the threshold at `now`; none unless CLOSED. */
  countedFailures(now: number): number[] {
    return this.#state === "CLOSED" ? this.#window.counted(now) : [];
  }

  /** Moves an OPEN circuit whose open time has passed at `now` to HALF_OPEN. */
  refresh(now: number): void {
    if (this.#state === "OPEN" && now >= this.#retryAt) {
      this.#transition("HALF_OPEN", now, "open_duration_elapsed");
    }
  }

  /** Admits a call or throws CircuitOpenError; returns whether the call is a probe. */
  admit(): boolean {
    if (this.#state === "CLOSED") return false;
    const now = this.#options.now();
    this.refresh(now);
    // A listener of the transition may have changed the state again.
    const state = this.#state as CircuitState;
    if (state === "CLOSED") return false;
    if (state === "HALF_OPEN" && this.#probes.tryTake()) return true;
    const retryAt = state === "OPEN" ? this.#retryAt : now;
    const error = new CircuitOpenError(retryAt, state, this.#options.name);
    this.counters.add(REJECTION_COUNTER, now);
    this.#events.emit("reject", {
      reason: state === "OPEN" ? "open" : "probes_busy",
      state,
      retryAt,
      at: now,
    });
    throw error;
  }

  /** A call of `generation` was cancelled by its caller: it says nothing about the service. */
  cancel(generation: number, isProbe: boolean): void {
    if (isProbe && generation === this.#generation) this.#probes.release();
  }

  /** Counts a success of a call admitted in `generation` (or one recorded). */
  settleSuccess(generation: number, isProbe: boolean, reason: CircuitSuccessEvent["reason"]): void {
    const now = this.#options.now();
    this.counters.add(SUCCESS_COUNTER, now);
    if (this.#events.has("success")) {
      this.#events.emit("success", { reason, state: this.#state, at: now });
    }
    if (generation !== this.#generation) return;
    if (isProbe) this.#probes.release();
    this.#applySuccess(now);
  }

  /** Counts a failure of a call admitted in `generation` (or one recorded). */
  settleFailure(
    generation: number,
    isProbe: boolean,
    failureClass: FailureClass,
    error: unknown,
    reason: CircuitFailureEvent["reason"],
  ): void {
    const now = this.#options.now();
    const index = failureClassIndex(failureClass);
    const counted = this.countable[index]!;
    this.counters.add(index, now);
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
    if (isProbe) this.#probes.release();
    if (!counted) {
      // The service answered (a 404, a validation error): that is a sign of health.
      this.#applySuccess(now);
    } else if (this.#state === "CLOSED") {
      if (this.#window.record(now)) this.#open(now, "failure_threshold");
    } else if (this.#state === "HALF_OPEN") {
      this.#open(now, "probe_failed");
    }
  }

  /** Forces the circuit CLOSED and forgets the failures counted toward the threshold. */
  reset(now: number): void {
    if (this.#state === "CLOSED") {
      this.#window.clear();
      return;
    }
    this.#close(now, "reset");
  }

  /**
   * Replaces the state with a checked snapshot, judged at `now`, firing no
   * transition; calls running from before no longer move the state.
   */
  restore(snapshot: CircuitBreakerSnapshot, now: number): void {
    this.#generation++;
    this.#probes.clear();
    this.#window.clear();
    this.#state = snapshot.state;
    this.#openedAt = snapshot.state === "CLOSED" ? null : snapshot.openedAt;
    if (snapshot.state === "OPEN") {
      this.#retryAt = Math.min(snapshot.retryAt!, now + this.#options.openDurationMs);
    }
    // A restarted process has no probes in flight: HALF_OPEN starts over.
    this.#halfOpenAt = snapshot.state === "HALF_OPEN" ? now : null;
    if (snapshot.state === "CLOSED") this.#window.load(snapshot.failureTimestamps, now);
  }

  #applySuccess(now: number): void {
    if (this.#state === "CLOSED") {
      if (this.#options.resetOnSuccess) this.#window.clear();
    } else if (this.#state === "HALF_OPEN") {
      if (this.#probes.succeed()) this.#close(now, "probes_succeeded");
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
    this.#window.clear();
    this.#probes.clear();
    this.#halfOpenAt = to === "HALF_OPEN" ? now : null;
    announceStateChange(this.#audience, from, to, reason, now, this.retryAt);
  }
}

// Property: whatever happens (failures of every class, successes, time passing,
// concurrent calls that succeed, fail, time out or are cancelled, resets), the
// breaker only takes allowed transitions, never lets more than
// halfOpenProbeCount probes run, never runs a call while OPEN, and agrees at
// every step with a plain reference model of the specification.
import { ManualClock } from "@beauvoir/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "./circuit-breaker.js";
import type { CircuitState } from "./circuit-state.js";
import type { StateChangeReason } from "./events.js";
import { FAILURE_CLASSES, type FailureClass } from "./failure-class.js";

interface Config {
  failureThreshold: number;
  rollingWindowMs: number;
  openDurationMs: number;
  halfOpenProbeCount: number;
  countableClasses: FailureClass[];
  resetOnSuccess: boolean;
}

/** One call in flight, as the model sees it. */
interface ModelCall {
  readonly id: number;
  readonly generation: number;
  readonly probe: boolean;
  readonly deadline: number | undefined;
  settled: boolean;
}

/** The specification, written as directly as possible (unbounded arrays, no rings). */
class Model {
  state: CircuitState = "CLOSED";
  generation = 0;
  counted: number[] = [];
  retryAt = 0;
  probes = 0;
  probeSuccesses = 0;
  readonly transitions: Array<{ from: CircuitState; to: CircuitState; reason: StateChangeReason }> =
    [];

  constructor(readonly config: Config) {}

  refresh(now: number): void {
    if (this.state === "OPEN" && now >= this.retryAt)
      this.#move("HALF_OPEN", "open_duration_elapsed");
  }

  /** Returns whether the call runs, and whether as a probe. */
  admit(now: number): { admitted: boolean; probe: boolean } {
    if (this.state === "CLOSED") return { admitted: true, probe: false };
    this.refresh(now);
    if (this.state === "HALF_OPEN" && this.probes < this.config.halfOpenProbeCount) {
      this.probes++;
      return { admitted: true, probe: true };
    }
    return { admitted: false, probe: false };
  }

  success(generation: number, probe: boolean): void {
    if (generation !== this.generation) return;
    if (probe) this.probes--;
    this.#applySuccess();
  }

  failure(generation: number, probe: boolean, failureClass: FailureClass, now: number): void {
    if (generation !== this.generation) return;
    if (probe) this.probes--;
    if (!this.config.countableClasses.includes(failureClass)) {
      this.#applySuccess();
    } else if (this.state === "CLOSED") {
      this.counted.push(now);
      const inWindow = this.counted.filter((time) => now - time < this.config.rollingWindowMs);
      if (inWindow.length >= this.config.failureThreshold) this.#open(now, "failure_threshold");
    } else if (this.state === "HALF_OPEN") {
      this.#open(now, "probe_failed");
    }
  }

  cancel(call: ModelCall): void {
    if (call.probe && call.generation === this.generation) this.probes--;
  }

  reset(): void {
    if (this.state === "CLOSED") this.counted = [];
    else this.#move("CLOSED", "reset");
  }

  #applySuccess(): void {
    if (this.state === "CLOSED") {
      if (this.config.resetOnSuccess) this.counted = [];
    } else if (this.state === "HALF_OPEN") {
      this.probeSuccesses++;
      if (this.probeSuccesses >= this.config.halfOpenProbeCount)
        this.#move("CLOSED", "probes_succeeded");
    }
  }

  #open(now: number, reason: StateChangeReason): void {
    this.retryAt = now + this.config.openDurationMs;
    this.#move("OPEN", reason);
  }

  #move(to: CircuitState, reason: StateChangeReason): void {
    this.transitions.push({ from: this.state, to, reason });
    this.state = to;
    this.generation++;
    this.counted = [];
    this.probes = 0;
    this.probeSuccesses = 0;
  }
}

const ALLOWED = new Set([
  "CLOSED->OPEN:failure_threshold",
  "OPEN->HALF_OPEN:open_duration_elapsed",
  "HALF_OPEN->OPEN:probe_failed",
  "HALF_OPEN->CLOSED:probes_succeeded",
  "HALF_OPEN->CLOSED:reset",
  "OPEN->CLOSED:reset",
]);

const failureClass = fc.constantFrom(...FAILURE_CLASSES);

const command = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("recordFailure" as const), failureClass }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("recordSuccess" as const) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("advance" as const),
      // Steps of exactly the window or the open time hit the boundaries.
      ms: fc.oneof(
        fc.integer({ min: 0, max: 1_500 }),
        fc.constantFrom("window" as const, "half window" as const, "open duration" as const),
      ),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("start" as const),
      count: fc.integer({ min: 1, max: 4 }),
      timeoutMs: fc.option(fc.integer({ min: 1, max: 1_500 }), { nil: undefined }),
      cancellable: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("settle" as const),
      pick: fc.nat(),
      outcome: fc.option(failureClass, { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reset" as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("look" as const) }) },
);

const config = fc.record({
  failureThreshold: fc.integer({ min: 1, max: 4 }),
  rollingWindowMs: fc.integer({ min: 100, max: 3_000 }),
  openDurationMs: fc.integer({ min: 0, max: 800 }),
  halfOpenProbeCount: fc.integer({ min: 1, max: 3 }),
  countableClasses: fc.subarray([
    "transient",
    "permanent",
    "external",
    "rate_limited",
  ] as FailureClass[]),
  resetOnSuccess: fc.boolean(),
});

interface RealCall {
  readonly model: ModelCall;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  readonly controller: AbortController | undefined;
  readonly promise: Promise<unknown>;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("CircuitBreaker state machine (property)", () => {
  it("takes only allowed transitions and matches the reference model", async () => {
    await fc.assert(
      fc.asyncProperty(
        config,
        fc.array(command, { minLength: 10, maxLength: 80 }),
        async (settings, commands) => {
          const clock = new ManualClock(0);
          const model = new Model(settings);
          const seen: Array<{ from: CircuitState; to: CircuitState; reason: StateChangeReason }> =
            [];
          const breaker = new CircuitBreaker({ ...settings, clock });
          for (const event of ["open", "halfOpen", "close"] as const) {
            breaker.on(event, ({ from, to, reason }) => seen.push({ from, to, reason }));
          }
          const calls: RealCall[] = [];
          let nextId = 0;
          let running = 0;
          let maxRunningProbes = 0;

          for (const step of commands) {
            switch (step.kind) {
              case "recordFailure":
                model.refresh(clock.now());
                model.failure(model.generation, false, step.failureClass, clock.now());
                breaker.recordFailure(step.failureClass);
                break;
              case "recordSuccess":
                model.refresh(clock.now());
                model.success(model.generation, false);
                breaker.recordSuccess();
                break;
              case "advance": {
                // Timeouts fire in deadline order, each at its own time.
                const ms =
                  step.ms === "window"
                    ? settings.rollingWindowMs
                    : step.ms === "half window"
                      ? Math.floor(settings.rollingWindowMs / 2)
                      : step.ms === "open duration"
                        ? settings.openDurationMs
                        : step.ms;
                const target = clock.now() + ms;
                const due = calls
                  .map((call) => call.model)
                  .filter(
                    (call) =>
                      !call.settled && call.deadline !== undefined && call.deadline <= target,
                  )
                  .sort((a, b) => a.deadline! - b.deadline! || a.id - b.id);
                for (const call of due) {
                  call.settled = true;
                  model.failure(call.generation, call.probe, "external", call.deadline!);
                }
                clock.advance(ms);
                break;
              }
              case "start": {
                for (let started = 0; started < step.count; started++) {
                  const decision = model.admit(clock.now());
                  let ran = false;
                  let resolve!: (value: unknown) => void;
                  let reject!: (reason: unknown) => void;
                  const controller = step.cancellable ? new AbortController() : undefined;
                  const promise = breaker.execute(
                    () => {
                      ran = true;
                      if (model.state === "OPEN") throw new Error("ran while OPEN");
                      return new Promise((res, rej) => {
                        resolve = res;
                        reject = rej;
                      });
                    },
                    {
                      ...(step.timeoutMs === undefined ? {} : { timeoutMs: step.timeoutMs }),
                      ...(controller ? { signal: controller.signal } : {}),
                    },
                  );
                  promise.catch(() => {});
                  expect(ran).toBe(decision.admitted);
                  if (!ran) continue;
                  const modelCall: ModelCall = {
                    id: nextId++,
                    generation: model.generation,
                    probe: decision.probe,
                    deadline:
                      step.timeoutMs === undefined ? undefined : clock.now() + step.timeoutMs,
                    settled: false,
                  };
                  calls.push({ model: modelCall, resolve, reject, controller, promise });
                }
                break;
              }
              case "settle": {
                const open = calls.filter((call) => !call.model.settled);
                const call = open[step.pick % Math.max(open.length, 1)];
                if (!call) break;
                call.model.settled = true;
                if (step.outcome === undefined) {
                  model.success(call.model.generation, call.model.probe);
                  call.resolve("done");
                } else {
                  model.failure(call.model.generation, call.model.probe, step.outcome, clock.now());
                  call.reject({ failureClass: step.outcome });
                }
                await flush();
                break;
              }
              case "cancel": {
                const cancellable = calls.filter((call) => !call.model.settled && call.controller);
                const call = cancellable[step.pick % Math.max(cancellable.length, 1)];
                if (!call) break;
                call.model.settled = true;
                model.cancel(call.model);
                call.controller!.abort();
                break;
              }
              case "reset":
                model.reset();
                breaker.reset();
                break;
              case "look": {
                model.refresh(clock.now());
                const stats = breaker.getStats();
                expect(stats.state).toBe(model.state);
                expect(stats.probesInFlight).toBe(model.probes);
                break;
              }
            }
            running = calls.filter(
              (call) =>
                !call.model.settled &&
                call.model.probe &&
                call.model.generation === model.generation,
            ).length;
            maxRunningProbes = Math.max(maxRunningProbes, running);
            expect(seen).toEqual(model.transitions);
          }

          for (const { from, to, reason } of seen) {
            expect(ALLOWED.has(`${from}->${to}:${reason}`), `${from}->${to}:${reason}`).toBe(true);
          }
          expect(maxRunningProbes).toBeLessThanOrEqual(settings.halfOpenProbeCount);
        },
      ),
      { numRuns: 300 },
    );
  });
});

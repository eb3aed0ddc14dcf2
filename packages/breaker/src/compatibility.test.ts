// TASK-2.6b: the call patterns of the consumers written against the old
// consecutive-failure breaker, run against the new one. The contract itself is
// written down in options.ts.
import { ManualClock } from "@beauvoir/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "./circuit-breaker.js";
import { CircuitOpenError } from "./errors.js";
import type { LegacyCircuitBreakerOptions } from "./options.js";

/** The scheduler's defaults, the old breaker's configuration shape. */
const OLD_DEFAULTS: LegacyCircuitBreakerOptions = {
  maxFailures: 3,
  resetTimeMs: 5 * 60 * 1000,
  halfOpenRetries: 1,
};

/**
 * The old scheduler's circuit, as it behaved: consecutive failures counted, a
 * success resets them, `maxFailures` of them open the circuit, which lets one
 * attempt through once `resetTimeMs` has passed since the last attempt.
 */
class OldConsecutiveCounter {
  status: "idle" | "circuit_open" = "idle";
  consecutiveFailures = 0;
  lastRun: number | undefined;
  constructor(
    private readonly maxFailures: number,
    private readonly resetTimeMs: number,
  ) {}

  /** Whether a tick at `now` runs the task. */
  admits(now: number): boolean {
    return !(
      this.status === "circuit_open" &&
      this.lastRun !== undefined &&
      now - this.lastRun < this.resetTimeMs
    );
  }

  settle(now: number, ok: boolean): void {
    this.lastRun = now;
    if (ok) {
      this.status = "idle";
      this.consecutiveFailures = 0;
    } else {
      this.consecutiveFailures++;
      this.status = this.consecutiveFailures >= this.maxFailures ? "circuit_open" : "idle";
    }
  }
}

describe("compatibility with the old breaker's consumers", () => {
  it("the scheduler pattern: same run/skip decisions as the old consecutive counter", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        // Ticks 30 s to 10 min apart (the scheduler's intervals), each a success or a failure.
        fc.array(
          fc.record({ gapMs: fc.integer({ min: 30_000, max: 600_000 }), ok: fc.boolean() }),
          {
            maxLength: 60,
          },
        ),
        async (maxFailures, ticks) => {
          // Failures more than an hour apart no longer add up (contract point 3):
          // keep every run of consecutive failures inside the window.
          fc.pre(maxFailures * 600_000 < 3_600_000);
          const clock = new ManualClock(0);
          const breaker = new CircuitBreaker({ ...OLD_DEFAULTS, maxFailures, clock });
          const old = new OldConsecutiveCounter(maxFailures, OLD_DEFAULTS.resetTimeMs!);
          for (const tick of ticks) {
            clock.advance(tick.gapMs);
            const now = clock.now();
            const oldRuns = old.admits(now);
            let newRuns = false;
            await breaker
              .execute(async () => {
                newRuns = true;
                if (!tick.ok) throw new Error("task failed");
              })
              .catch((error: unknown) => {
                if (!tick.ok && error instanceof Error && error.message === "task failed") return;
                if (!CircuitOpenError.isInstance(error)) throw error;
              });
            expect(newRuns).toBe(oldRuns);
            if (oldRuns) old.settle(now, tick.ok);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("the executor pattern: a getState() guard in front of execute(() => ...)", async () => {
    const clock = new ManualClock(0);
    const breaker = new CircuitBreaker({ clock });
    let calls = 0;
    const executor = async () => {
      calls++;
      throw new Error("GitHub is down");
    };
    const advance = async () => {
      if (breaker.getState() === "OPEN") return "blocked";
      try {
        return await breaker.execute(() => executor());
      } catch {
        return "failed";
      }
    };
    // Defaults: five failures within the hour open the circuit.
    for (let index = 0; index < 5; index++) expect(await advance()).toBe("failed");
    expect(await advance()).toBe("blocked");
    expect(calls).toBe(5);
    // After the open time the guard lets a probe through again.
    clock.advance(30 * 60 * 1000);
    expect(await advance()).toBe("failed");
    expect(calls).toBe(6);
    expect(await advance()).toBe("blocked");
  });

  it("execute() with no failure class counts as transient and trips after the threshold", async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2 });
    await expect(breaker.execute(() => Promise.reject(new Error("x")))).rejects.toThrow();
    await expect(breaker.execute(() => Promise.reject(new Error("x")))).rejects.toThrow();
    expect(breaker.getStats().failures.transient).toBe(2);
    expect(breaker.getState()).toBe("OPEN");
  });

  it("recordFailure() without arguments records a transient failure", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2 });
    breaker.recordFailure();
    breaker.recordFailure();
    expect(breaker.getStats().failures.transient).toBe(2);
    expect(breaker.getState()).toBe("OPEN");
  });

  it("keeps the old state flow: CLOSED → OPEN → HALF_OPEN → CLOSED", () => {
    let time = 0;
    const transitions: string[] = [];
    const breaker = new CircuitBreaker({
      ...OLD_DEFAULTS,
      now: () => time,
      onStateChange: (from, to) => transitions.push(`${from} -> ${to}`),
    });
    breaker.recordFailure();
    breaker.recordFailure();
    breaker.recordFailure();
    time = 5 * 60 * 1000;
    expect(breaker.getState()).toBe("HALF_OPEN");
    breaker.recordSuccess();
    expect(transitions).toEqual(["CLOSED -> OPEN", "OPEN -> HALF_OPEN", "HALF_OPEN -> CLOSED"]);
  });

  it("maps the old keys onto the new ones", () => {
    let time = 0;
    const breaker = new CircuitBreaker({
      maxFailures: 2,
      resetTimeMs: 100,
      halfOpenRetries: 2,
      now: () => time,
    });
    breaker.recordFailure();
    breaker.recordFailure();
    expect(breaker.getStats()).toMatchObject({ state: "OPEN", failureThreshold: 2, retryAt: 100 });
    time = 100;
    breaker.recordSuccess();
    expect(breaker.getState()).toBe("HALF_OPEN");
    breaker.recordSuccess();
    expect(breaker.getState()).toBe("CLOSED");
  });

  it("with the old shape a success resets the count, as the consecutive counter did", () => {
    const breaker = new CircuitBreaker({ maxFailures: 3 });
    breaker.recordFailure();
    breaker.recordFailure();
    breaker.recordSuccess();
    breaker.recordFailure();
    breaker.recordFailure();
    expect(breaker.getState()).toBe("CLOSED");
    breaker.recordFailure();
    expect(breaker.getState()).toBe("OPEN");
  });

  it("lets the old shape opt back into the rolling window, and the new shape into resets", () => {
    const rolling = new CircuitBreaker({ maxFailures: 2, resetOnSuccess: false });
    rolling.recordFailure();
    rolling.recordSuccess();
    rolling.recordFailure();
    expect(rolling.getState()).toBe("OPEN");
    const consecutive = new CircuitBreaker({ failureThreshold: 2, resetOnSuccess: true });
    consecutive.recordFailure();
    consecutive.recordSuccess();
    consecutive.recordFailure();
    expect(consecutive.getState()).toBe("CLOSED");
  });

  it("fills what the old shape leaves out with the new defaults", () => {
    const breaker = new CircuitBreaker({ maxFailures: 1 });
    breaker.recordFailure();
    const { openedAt, retryAt } = breaker.getStats();
    expect(retryAt! - openedAt!).toBe(1_800_000);
  });

  it("refuses an old key given together with its new name", () => {
    expect(() => new CircuitBreaker({ maxFailures: 3, failureThreshold: 5 } as never)).toThrow(
      /maxFailures .* or failureThreshold/,
    );
    expect(() => new CircuitBreaker({ resetTimeMs: 1, openDurationMs: 2 } as never)).toThrow(
      TypeError,
    );
    expect(
      () => new CircuitBreaker({ halfOpenRetries: 1, halfOpenProbeCount: 2 } as never),
    ).toThrow(TypeError);
  });

  it("validates old keys under their old names' meaning", () => {
    expect(() => new CircuitBreaker({ maxFailures: 0 })).toThrow(/failureThreshold/);
    expect(() => new CircuitBreaker({ resetTimeMs: -1 })).toThrow(/openDurationMs/);
  });
});

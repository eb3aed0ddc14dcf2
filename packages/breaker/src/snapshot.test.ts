import { ManualClock } from "@beauvoir/core";
import { describe, expect, it, vi } from "vitest";
import { CircuitBreaker } from "./circuit-breaker.js";
import { CircuitOpenError } from "./errors.js";
import type { CircuitBreakerSnapshot } from "./snapshot.js";

/** Saves a breaker the way a process would: through JSON text. */
const persist = (breaker: CircuitBreaker): CircuitBreakerSnapshot =>
  JSON.parse(JSON.stringify(breaker)) as CircuitBreakerSnapshot;

describe("toJSON() and initialState", () => {
  it("lets a restarted process keep refusing calls until the saved retryAt", async () => {
    const clock = new ManualClock(1_000_000);
    const first = new CircuitBreaker({ clock, failureThreshold: 1, openDurationMs: 60_000 });
    first.recordFailure("rate_limited");
    const saved = persist(first);
    expect(saved).toEqual({
      version: 1,
      state: "OPEN",
      openedAt: 1_000_000,
      retryAt: 1_060_000,
      failureTimestamps: [],
      savedAt: 1_000_000,
    });

    clock.advance(30_000); // the restart
    const transitions: string[] = [];
    const restored = new CircuitBreaker({
      clock,
      failureThreshold: 1,
      openDurationMs: 60_000,
      initialState: saved,
      onStateChange: (from, to) => transitions.push(`${from}->${to}`),
    });
    const fn = vi.fn(async () => "called");
    const error = (await restored
      .execute(fn)
      .catch((caught: unknown) => caught)) as CircuitOpenError;
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error.retryAt).toBe(1_060_000);
    expect(fn).not.toHaveBeenCalled();
    // Restoring is not a transition.
    expect(transitions).toEqual([]);

    clock.advance(30_000);
    expect(restored.getState()).toBe("HALF_OPEN");
    expect(transitions).toEqual(["OPEN->HALF_OPEN"]);
  });

  it("restores a half-open circuit with no probes in flight", async () => {
    const clock = new ManualClock(0);
    const first = new CircuitBreaker({
      clock,
      failureThreshold: 1,
      openDurationMs: 10,
      halfOpenProbeCount: 1,
    });
    first.recordFailure();
    clock.advance(10);
    expect(first.getState()).toBe("HALF_OPEN");
    void first.execute(() => new Promise(() => {})); // a probe that never ends
    const saved = persist(first);
    expect(saved).toMatchObject({ state: "HALF_OPEN", openedAt: 0, retryAt: null });

    const restored = new CircuitBreaker({
      clock,
      failureThreshold: 1,
      halfOpenProbeCount: 1,
      initialState: saved,
    });
    expect(restored.getStats()).toMatchObject({
      state: "HALF_OPEN",
      probesInFlight: 0,
      openedAt: 0,
    });
    await expect(restored.execute(async () => "probe")).resolves.toBe("probe");
    expect(restored.getState()).toBe("CLOSED");
  });

  it("carries the counted failures of a closed circuit over, within the window", () => {
    const clock = new ManualClock(0);
    const options = { clock, failureThreshold: 3, rollingWindowMs: 1_000 };
    const first = new CircuitBreaker(options);
    first.recordFailure();
    clock.advance(500);
    first.recordFailure();
    first.recordFailure("expected"); // not counted, not saved
    const saved = persist(first);
    expect(saved.failureTimestamps).toEqual([0, 500]);

    const restored = new CircuitBreaker({ ...options, initialState: saved });
    restored.recordFailure();
    expect(restored.getState()).toBe("OPEN");

    // Restored later, the failure at 0 has left the window.
    clock.advance(600);
    const late = new CircuitBreaker({ ...options, initialState: saved });
    expect(late.getStats().countedTowardThreshold).toBe(1);
    late.recordFailure();
    expect(late.getState()).toBe("CLOSED");
  });

  it("keeps only the last failureThreshold failures of a snapshot, in time order", () => {
    const clock = new ManualClock(100);
    const restored = new CircuitBreaker({
      clock,
      failureThreshold: 2,
      initialState: {
        version: 1,
        state: "CLOSED",
        openedAt: null,
        retryAt: null,
        failureTimestamps: [90, 10, 50, 70],
        savedAt: 100,
      },
    });
    expect(restored.toJSON().failureTimestamps).toEqual([70, 90]);
    restored.recordFailure();
    expect(restored.getState()).toBe("OPEN");
  });

  it("saves nothing to count while open or half-open, and the snapshot of a fresh breaker", () => {
    const clock = new ManualClock(5);
    expect(new CircuitBreaker({ clock }).toJSON()).toEqual({
      version: 1,
      state: "CLOSED",
      openedAt: null,
      retryAt: null,
      failureTimestamps: [],
      savedAt: 5,
    });
  });

  it.each([
    [null, /initialState must be an object/],
    [{ version: 2 }, /initialState.version/],
    [{ version: 1, state: "BROKEN" }, /initialState.state/],
    [
      { version: 1, state: "OPEN", openedAt: 1, retryAt: null, failureTimestamps: [], savedAt: 1 },
      /retryAt is required/,
    ],
    [
      { version: 1, state: "OPEN", openedAt: "x", retryAt: 5, failureTimestamps: [], savedAt: 1 },
      /openedAt/,
    ],
    [
      {
        version: 1,
        state: "CLOSED",
        openedAt: null,
        retryAt: null,
        failureTimestamps: [1, "2"],
        savedAt: 1,
      },
      /failureTimestamps/,
    ],
    [
      {
        version: 1,
        state: "CLOSED",
        openedAt: null,
        retryAt: null,
        failureTimestamps: {},
        savedAt: 1,
      },
      /failureTimestamps/,
    ],
    [
      { version: 1, state: "CLOSED", openedAt: null, retryAt: null, failureTimestamps: [] },
      /savedAt/,
    ],
    [
      {
        version: 1,
        state: "CLOSED",
        openedAt: null,
        retryAt: Number.NaN,
        failureTimestamps: [],
        savedAt: 1,
      },
      /retryAt/,
    ],
  ])(
    "refuses a malformed snapshot %o with a TypeError naming the field",
    (initialState, message) => {
      const build = () =>
        new CircuitBreaker({ initialState: initialState as unknown as CircuitBreakerSnapshot });
      expect(build).toThrow(TypeError);
      expect(build).toThrow(message);
    },
  );

  it("accepts a snapshot whose optional times are missing", () => {
    const restored = new CircuitBreaker({
      initialState: {
        version: 1,
        state: "CLOSED",
        failureTimestamps: [],
        savedAt: 0,
      } as unknown as CircuitBreakerSnapshot,
    });
    expect(restored.getState()).toBe("CLOSED");
  });
});

import { ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "./circuit-breaker.js";
import { CIRCUIT_BREAKER_DEFAULTS, type CircuitBreakerOptions } from "./options.js";

const build = (options: unknown) => () => new CircuitBreaker(options as CircuitBreakerOptions);

describe("CircuitBreaker options", () => {
  it("documents the plan's defaults in a frozen object", () => {
    expect(CIRCUIT_BREAKER_DEFAULTS).toEqual({
      failureThreshold: 5,
      rollingWindowMs: 3_600_000,
      openDurationMs: 1_800_000,
      halfOpenProbeCount: 2,
      countableClasses: ["transient", "external", "rate_limited"],
      resetOnSuccess: false,
    });
    expect(Object.isFrozen(CIRCUIT_BREAKER_DEFAULTS)).toBe(true);
    expect(Object.isFrozen(CIRCUIT_BREAKER_DEFAULTS.countableClasses)).toBe(true);
    const stats = new CircuitBreaker().getStats();
    expect(stats).toMatchObject({ failureThreshold: 5, rollingWindowMs: 3_600_000 });
  });

  it("applies the default open duration and probe count", () => {
    const clock = new ManualClock(0);
    const breaker = new CircuitBreaker({ clock });
    for (let index = 0; index < 5; index++) breaker.recordFailure();
    expect(breaker.getStats().retryAt).toBe(1_800_000);
    clock.advance(1_800_000);
    breaker.recordSuccess();
    expect(breaker.getState()).toBe("HALF_OPEN");
    breaker.recordSuccess();
    expect(breaker.getState()).toBe("CLOSED");
  });

  it.each([
    [{ failureThreshold: 0 }, RangeError, /failureThreshold/],
    [{ failureThreshold: 1.5 }, RangeError, /failureThreshold/],
    [{ failureThreshold: 1_000_001 }, RangeError, /failureThreshold/],
    [{ failureThreshold: "5" }, RangeError, /failureThreshold/],
    [{ halfOpenProbeCount: 0 }, RangeError, /halfOpenProbeCount/],
    [{ rollingWindowMs: 0 }, RangeError, /rollingWindowMs/],
    [{ rollingWindowMs: Number.POSITIVE_INFINITY }, RangeError, /rollingWindowMs/],
    [{ openDurationMs: -1 }, RangeError, /openDurationMs/],
    [{ openDurationMs: Number.NaN }, RangeError, /openDurationMs/],
    [{ countableClasses: "transient" }, TypeError, /countableClasses/],
    [{ countableClasses: ["fatal"] }, RangeError, /countableClasses/],
    [{ countableClasses: ["transient", "expected"] }, RangeError, /expected/],
    [{ resetOnSuccess: "yes" }, TypeError, /resetOnSuccess/],
    [{ name: "" }, TypeError, /name/],
    [{ name: 7 }, TypeError, /name/],
    [{ classify: "classifyFailure" }, TypeError, /classify/],
    [{ onStateChange: {} }, TypeError, /onStateChange/],
    [{ clock: {} }, TypeError, /clock/],
    [{ clock: null }, TypeError, /clock/],
    [{ now: 5 }, TypeError, /now/],
    [{ logger: console.log }, TypeError, /logger/],
  ])("refuses %o at construction", (options, errorType, message) => {
    expect(build(options)).toThrow(errorType);
    expect(build(options)).toThrow(message);
  });

  it("refuses options that are not an object", () => {
    expect(build(null)).toThrow(TypeError);
    expect(build(5)).toThrow(/options must be an object/);
  });

  it("accepts an empty countableClasses (a breaker that only watches) and duplicate entries", () => {
    const watcher = new CircuitBreaker({ failureThreshold: 1, countableClasses: [] });
    watcher.recordFailure();
    expect(watcher.getState()).toBe("CLOSED");
    const duplicated = new CircuitBreaker({
      failureThreshold: 2,
      countableClasses: ["external", "external"],
    });
    duplicated.recordFailure("external");
    expect(duplicated.getState()).toBe("CLOSED");
    duplicated.recordFailure("external");
    expect(duplicated.getState()).toBe("OPEN");
  });

  it("accepts an open duration of zero: the circuit half-opens at the next look", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, openDurationMs: 0 });
    breaker.recordFailure();
    expect(breaker.getState()).toBe("HALF_OPEN");
  });

  it("takes time from now() and timers from clock when both are given", async () => {
    const clock = new ManualClock(0);
    let time = 500;
    const breaker = new CircuitBreaker({ clock, now: () => time, failureThreshold: 1 });
    breaker.recordFailure();
    expect(breaker.getStats().openedAt).toBe(500);
    time = 10_000_000;
    const pending = breaker.execute(() => new Promise(() => {}), { timeoutMs: 5 });
    expect(clock.pendingTimers).toBe(1);
    clock.advance(5);
    await expect(pending).rejects.toMatchObject({ code: "CIRCUIT_TIMEOUT" });
  });
});

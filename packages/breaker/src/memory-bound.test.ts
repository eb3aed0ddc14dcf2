import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "./circuit-breaker.js";

setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

function heapAfterCollection(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

const MILLION = 1_000_000;

describe("memory of the failure window", () => {
  it("stays flat through a million countable failures that never reach the threshold", () => {
    const clock = new ManualClock(0);
    // 1 failure per ms in a 500 ms window: 500 in the window, threshold 1000 never reached.
    const breaker = new CircuitBreaker({ clock, failureThreshold: 1_000, rollingWindowMs: 500 });
    const burst = (count: number) => {
      for (let index = 0; index < count; index++) {
        breaker.recordFailure(index % 2 === 0 ? "transient" : "external");
        clock.advance(1);
      }
    };
    burst(10_000); // the ring is full and every bucket used from here on
    const before = heapAfterCollection();
    burst(MILLION);
    const growth = heapAfterCollection() - before;
    // An array of one record per failure would take tens of megabytes.
    expect(growth).toBeLessThan(4 * 1024 * 1024);
    expect(breaker.getState()).toBe("CLOSED");
    const stats = breaker.getStats();
    expect(stats.countedTowardThreshold).toBe(499);
    expect(stats.countableFailures).toBeGreaterThanOrEqual(499);
    expect(stats.countableFailures).toBeLessThanOrEqual(510);
    expect(breaker.toJSON().failureTimestamps).toHaveLength(499);
  });

  it("stays flat through a million failures in the same millisecond, and counts every one", () => {
    const clock = new ManualClock(0);
    const breaker = new CircuitBreaker({ clock, failureThreshold: 10 });
    const before = heapAfterCollection();
    for (let index = 0; index < MILLION; index++) breaker.recordFailure("expected");
    for (let index = 0; index < MILLION; index++) breaker.recordFailure("rate_limited");
    const growth = heapAfterCollection() - before;
    expect(growth).toBeLessThan(4 * 1024 * 1024);
    const stats = breaker.getStats();
    expect(stats.failures.expected).toBe(MILLION);
    expect(stats.failures.rate_limited).toBe(MILLION);
    expect(stats.state).toBe("OPEN");
    expect(breaker.toJSON().failureTimestamps).toEqual([]);
  });

  it("bounds the threshold ring by the threshold, however many failures come", () => {
    const clock = new ManualClock(0);
    const breaker = new CircuitBreaker({ clock, failureThreshold: 50, rollingWindowMs: 10 });
    for (let index = 0; index < 100_000; index++) {
      breaker.recordFailure();
      clock.advance(1);
    }
    // Ten failures within any 10 ms: never 50, never open.
    expect(breaker.getState()).toBe("CLOSED");
    expect(breaker.toJSON().failureTimestamps.length).toBeLessThanOrEqual(10);
  });
});

import { ManualClock } from "@beauvoir/core";
import { describe, expect, it, vi } from "vitest";
import { serverErrors } from "./__fixtures__/github-responses.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import { CircuitBreakerGroup, type CircuitBreakerGroupOptions } from "./circuit-breaker-group.js";
import { BreakerSnapshotError, CircuitOpenError } from "./errors.js";
import type { CircuitBreakerSnapshot } from "./snapshot.js";

const badGateway = serverErrors[1]!;
const MINUTE = 60_000;

function setup(options: CircuitBreakerGroupOptions = {}) {
  const clock = new ManualClock(1_000_000);
  const group = new CircuitBreakerGroup({
    clock,
    failureThreshold: 3,
    openDurationMs: MINUTE,
    ...options,
  });
  return { clock, group };
}

const answer502 = () =>
  Promise.reject(
    Object.assign(new Error("Bad Gateway"), { status: 502, headers: badGateway.headers }),
  );

describe("CircuitBreakerGroup: one breaker per key", () => {
  it("three 502s on add_labels open only that key's breaker", async () => {
    const { group } = setup();
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(group.get("add_labels").execute(answer502)).rejects.toThrow("Bad Gateway");
    }
    expect(group.get("add_labels").getState()).toBe("OPEN");
    await expect(group.get("add_labels").execute(async () => "x")).rejects.toBeInstanceOf(
      CircuitOpenError,
    );
    await expect(group.get("create_review").execute(async () => "reviewed")).resolves.toBe(
      "reviewed",
    );
    expect(group.get("create_review").getState()).toBe("CLOSED");
  });

  it("creates each breaker once, lazily, with the group's options and the key as its name", async () => {
    const { group } = setup();
    expect(group.keys()).toEqual([]);
    const first = group.get("add_labels");
    expect(group.get("add_labels")).toBe(first);
    expect(first).toBeInstanceOf(CircuitBreaker);
    expect(first.name).toBe("add_labels");
    expect(first.getStats().failureThreshold).toBe(3);
    group.get("create_review");
    expect(group.keys()).toEqual(["add_labels", "create_review"]);
    expect(group.size).toBe(2);
    first.recordFailure();
    first.recordFailure();
    first.recordFailure();
    const error = (await first
      .execute(async () => 1)
      .catch((caught) => caught)) as CircuitOpenError;
    expect(error.breakerName).toBe("add_labels");
  });

  it("forwards state changes with the key, and stops on the disposer", () => {
    const { clock, group } = setup({ failureThreshold: 1 });
    const changes: unknown[] = [];
    const opens: string[] = [];
    const stop = group.on("stateChange", (event) => changes.push(event));
    group.on("open", ({ key }) => opens.push(key));
    group.get("a").recordFailure();
    clock.advance(MINUTE);
    group.get("a").getState();
    expect(changes).toEqual([
      {
        key: "a",
        from: "CLOSED",
        to: "OPEN",
        reason: "failure_threshold",
        at: 1_000_000,
        retryAt: 1_060_000,
      },
      {
        key: "a",
        from: "OPEN",
        to: "HALF_OPEN",
        reason: "open_duration_elapsed",
        at: 1_060_000,
        retryAt: null,
      },
    ]);
    stop();
    group.get("b").recordFailure();
    expect(changes).toHaveLength(2);
    expect(opens).toEqual(["a", "b"]);
  });

  it("calls the options' onStateChange for every key, with the key", () => {
    const onStateChange = vi.fn();
    const { group } = setup({ failureThreshold: 1, onStateChange });
    group.get("a").recordFailure();
    group.get("b").recordFailure();
    expect(onStateChange.mock.calls).toEqual([
      ["CLOSED", "OPEN", "a"],
      ["CLOSED", "OPEN", "b"],
    ]);
    expect(() => new CircuitBreakerGroup({ onStateChange: 5 as never })).toThrow(/onStateChange/);
  });

  it("a listener that throws is logged and does not disturb the others", () => {
    const warn = vi.fn();
    const { group } = setup({ failureThreshold: 1, logger: { warn } });
    const seen: string[] = [];
    group.on("stateChange", () => {
      throw new Error("listener broke");
    });
    group.on("stateChange", ({ key }) => seen.push(key));
    group.get("a").recordFailure();
    expect(seen).toEqual(["a"]);
    expect(warn).toHaveBeenCalled();
  });

  it("refuses bad keys, options and events", () => {
    const { group } = setup();
    expect(() => group.get("")).toThrow(TypeError);
    expect(() => group.get(5 as unknown as string)).toThrow(TypeError);
    expect(() => new CircuitBreakerGroup({ maxKeys: 0 })).toThrow(/maxKeys/);
    expect(() => new CircuitBreakerGroup({ failureThreshold: 0 })).toThrow(/failureThreshold/);
    expect(
      () =>
        new CircuitBreakerGroup({
          initialState: {} as never,
        }),
    ).toThrow(/initialState/);
    expect(() => group.on("opened" as "open", () => {})).toThrow(TypeError);
    expect(() => group.on("open", 1 as unknown as () => void)).toThrow(TypeError);
  });
});

describe("CircuitBreakerGroup: bounded memory", () => {
  it("never holds more than maxKeys breakers that have nothing to remember", () => {
    const { group } = setup({ maxKeys: 100 });
    let largest = 0;
    for (let index = 0; index < 10_000; index++) {
      group.get(`route-${index}`).recordSuccess();
      largest = Math.max(largest, group.size);
    }
    expect(largest).toBeLessThanOrEqual(100);
  });

  it("keeps open breakers and breakers with counted failures over idle closed ones", () => {
    const { clock, group } = setup({ maxKeys: 10, failureThreshold: 2 });
    const open = group.get("open");
    open.recordFailure();
    open.recordFailure();
    const failing = group.get("failing");
    failing.recordFailure();
    for (let index = 0; index < 1_000; index++) {
      clock.advance(1);
      group.get(`idle-${index}`);
    }
    expect(group.get("open")).toBe(open);
    expect(group.get("open").getState()).toBe("OPEN");
    expect(group.get("failing")).toBe(failing);
    expect(failing.getStats().countedTowardThreshold).toBe(1);
    expect(group.size).toBeLessThanOrEqual(10);
  });

  it("keeps the most recently used clean breakers", () => {
    const { clock, group } = setup({ maxKeys: 10 });
    for (let index = 0; index < 10; index++) group.get(`k${index}`);
    clock.advance(1);
    const hot = group.get("k0");
    for (let index = 10; index < 15; index++) {
      clock.advance(1);
      group.get(`k${index}`);
      clock.advance(1);
      group.get("k0");
    }
    expect(group.get("k0")).toBe(hot);
  });

  it("goes past maxKeys rather than forget an open breaker", () => {
    const { group } = setup({ maxKeys: 3, failureThreshold: 1 });
    for (let index = 0; index < 5; index++) group.get(`k${index}`).recordFailure();
    expect(group.size).toBe(5);
    expect(group.keys().every((key) => group.get(key).getState() === "OPEN")).toBe(true);
  });
});

describe("CircuitBreakerGroup: snapshot() and restore()", () => {
  it("a restarted process keeps refusing the open key until its retryAt, and only that key", async () => {
    const first = setup();
    for (let attempt = 0; attempt < 3; attempt++) {
      await first.group
        .get("add_labels")
        .execute(answer502)
        .catch(() => {});
    }
    first.group.get("create_review").recordSuccess();
    const saved = JSON.parse(JSON.stringify(first.group.snapshot())) as Record<
      string,
      CircuitBreakerSnapshot
    >;
    expect(Object.keys(saved)).toEqual(["add_labels"]);
    expect(saved.add_labels).toMatchObject({ state: "OPEN", retryAt: 1_060_000 });

    const restarted = setup();
    restarted.clock.advance(30_000);
    restarted.group.restore(saved);
    const run = vi.fn(async () => "ran");
    const error = await restarted.group
      .get("add_labels")
      .execute(run)
      .catch((caught) => caught);
    expect(CircuitOpenError.isInstance(error)).toBe(true);
    expect((error as CircuitOpenError).retryAt).toBe(1_060_000);
    expect(run).not.toHaveBeenCalled();
    await expect(restarted.group.get("create_review").execute(run)).resolves.toBe("ran");
    restarted.clock.advance(30_000);
    expect(restarted.group.get("add_labels").getState()).toBe("HALF_OPEN");
  });

  it("carries counted failures of closed breakers, and judges them at the given now", () => {
    const first = setup({ rollingWindowMs: 10_000 });
    first.group.get("a").recordFailure();
    first.group.get("a").recordFailure();
    const saved = first.group.snapshot();
    const restarted = setup({ rollingWindowMs: 10_000 });
    restarted.group.restore(saved);
    restarted.group.get("a").recordFailure();
    expect(restarted.group.get("a").getState()).toBe("OPEN");
    const later = setup({ rollingWindowMs: 10_000 });
    later.group.restore(saved, { now: 1_000_000 + 10_000 });
    expect(later.group.get("a").getStats().countedTowardThreshold).toBe(0);
  });

  it("refuses a malformed snapshot with BreakerSnapshotError naming the key, applying nothing", () => {
    const { group } = setup();
    const good: CircuitBreakerSnapshot = {
      version: 1,
      state: "OPEN",
      openedAt: 1_000_000,
      retryAt: 1_060_000,
      failureTimestamps: [],
      savedAt: 1_000_000,
    };
    for (const bad of [
      null,
      [],
      { good, bad: { ...good, state: "BROKEN" } },
      { good, bad: { ...good, version: 2 } },
      { good, "": good },
    ]) {
      let caught: unknown;
      try {
        group.restore(bad as unknown as Record<string, CircuitBreakerSnapshot>);
      } catch (error) {
        caught = error;
      }
      expect(BreakerSnapshotError.isInstance(caught), JSON.stringify(bad)).toBe(true);
      expect(caught).toMatchObject({ code: "BREAKER_SNAPSHOT_INVALID" });
      expect(group.keys()).toEqual([]);
    }
  });

  it("restore replaces the state of a breaker already in use", () => {
    const { group } = setup();
    const breaker = group.get("a");
    group.restore({
      a: {
        version: 1,
        state: "OPEN",
        openedAt: 1_000_000,
        retryAt: 1_030_000,
        failureTimestamps: [],
        savedAt: 1_000_000,
      },
    });
    expect(group.get("a")).toBe(breaker);
    expect(breaker.getState()).toBe("OPEN");
  });
});

describe("CircuitBreaker.restore()", () => {
  it("restores one breaker from a snapshot without firing a transition", () => {
    const clock = new ManualClock(0);
    const transitions: string[] = [];
    const breaker = new CircuitBreaker({
      clock,
      openDurationMs: 1_000,
      onStateChange: (from, to) => transitions.push(`${from}->${to}`),
    });
    breaker.restore({
      version: 1,
      state: "OPEN",
      openedAt: 0,
      retryAt: 500,
      failureTimestamps: [],
      savedAt: 0,
    });
    expect(breaker.getStats()).toMatchObject({ state: "OPEN", retryAt: 500 });
    expect(transitions).toEqual([]);
    clock.advance(500);
    expect(breaker.getState()).toBe("HALF_OPEN");
  });

  it("caps a saved retryAt at openDurationMs from now (a clock that jumped, a tampered file)", () => {
    const breaker = new CircuitBreaker({ clock: new ManualClock(0), openDurationMs: 1_000 });
    breaker.restore({
      version: 1,
      state: "OPEN",
      openedAt: 0,
      retryAt: 10_000_000,
      failureTimestamps: [],
      savedAt: 0,
    });
    expect(breaker.getStats().retryAt).toBe(1_000);
  });

  it("drops a late result of a call that started before the restore", async () => {
    const clock = new ManualClock(0);
    const breaker = new CircuitBreaker({ clock, failureThreshold: 1 });
    let fail!: (error: unknown) => void;
    const pending = breaker.execute(
      () =>
        new Promise((_resolve, reject) => {
          fail = reject;
        }),
    );
    breaker.restore({
      version: 1,
      state: "CLOSED",
      openedAt: null,
      retryAt: null,
      failureTimestamps: [],
      savedAt: 0,
    });
    fail(new Error("late"));
    await expect(pending).rejects.toThrow("late");
    expect(breaker.getState()).toBe("CLOSED");
  });

  it("throws BreakerSnapshotError for a malformed snapshot and keeps its state", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    breaker.recordFailure();
    expect(() => breaker.restore({ version: 1 } as unknown as CircuitBreakerSnapshot)).toThrow(
      BreakerSnapshotError,
    );
    expect(breaker.getState()).toBe("OPEN");
  });
});

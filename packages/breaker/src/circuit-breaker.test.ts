import { ManualClock } from "@beauvoir/core";
import { describe, expect, it, vi } from "vitest";
import { notFound } from "./__fixtures__/github-responses.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import type { CircuitState } from "./circuit-state.js";
import { CircuitOpenError, CircuitTimeoutError } from "./errors.js";
import type { CircuitBreakerEvents } from "./events.js";
import type { CircuitBreakerOptions } from "./options.js";

const MINUTE = 60_000;

function setup(options: CircuitBreakerOptions = {}) {
  const clock = new ManualClock(1_000_000);
  const transitions: string[] = [];
  const breaker = new CircuitBreaker({
    clock,
    onStateChange: (from, to) => transitions.push(`${from}->${to}`),
    ...options,
  });
  return { clock, breaker, transitions };
}

function deferred<T = unknown>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const fail =
  (error: unknown = new Error("boom")) =>
  () =>
    Promise.reject(error);
const succeed = () => Promise.resolve("ok");

async function openCircuit(breaker: CircuitBreaker, count: number): Promise<void> {
  for (let index = 0; index < count; index++) {
    await expect(breaker.execute(fail())).rejects.toThrow("boom");
  }
}

function record<Name extends keyof CircuitBreakerEvents>(breaker: CircuitBreaker, event: Name) {
  const seen: CircuitBreakerEvents[Name][] = [];
  breaker.on(event, (payload) => seen.push(payload));
  return seen;
}

describe("CircuitBreaker: closed circuit", () => {
  it("passes results and errors through unchanged", async () => {
    const { breaker } = setup();
    await expect(breaker.execute(async () => 42)).resolves.toBe(42);
    await expect(breaker.execute(() => "sync value")).resolves.toBe("sync value");
    const error = new Error("exact error");
    await expect(breaker.execute(fail(error))).rejects.toBe(error);
    const thrown = new Error("thrown synchronously");
    await expect(
      breaker.execute(() => {
        throw thrown;
      }),
    ).rejects.toBe(thrown);
    expect(breaker.getState()).toBe("CLOSED");
  });

  it("opens after failureThreshold countable failures within the window", async () => {
    const { breaker, transitions } = setup({ failureThreshold: 3 });
    await openCircuit(breaker, 2);
    expect(breaker.getState()).toBe("CLOSED");
    await openCircuit(breaker, 1);
    expect(breaker.getState()).toBe("OPEN");
    expect(transitions).toEqual(["CLOSED->OPEN"]);
  });

  it("opens with the defaults after 5 failures, and successes in between do not reset the count", async () => {
    const { breaker } = setup();
    for (let index = 0; index < 4; index++) {
      await expect(breaker.execute(fail())).rejects.toThrow();
      await breaker.execute(succeed);
    }
    expect(breaker.getState()).toBe("CLOSED");
    expect(breaker.getStats().countedTowardThreshold).toBe(4);
    await expect(breaker.execute(fail())).rejects.toThrow();
    expect(breaker.getState()).toBe("OPEN");
  });

  it("forgets failures older than rollingWindowMs, to the millisecond", () => {
    const { breaker, clock } = setup({ failureThreshold: 3, rollingWindowMs: 1_000 });
    breaker.recordFailure(); // t = 0
    clock.advance(600);
    breaker.recordFailure(); // t = 600
    clock.advance(400); // t = 1000: the first failure is exactly 1000 ms old
    breaker.recordFailure();
    expect(breaker.getState()).toBe("CLOSED");
    expect(breaker.getStats().countedTowardThreshold).toBe(2);
    clock.advance(599); // t = 1599: the failures at 600 and 1000 are still in
    breaker.recordFailure();
    expect(breaker.getState()).toBe("OPEN");
  });

  it("never counts expected failures, and not permanent ones by default", async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    for (let index = 0; index < 50; index++) {
      breaker.recordFailure("expected");
      breaker.recordFailure("permanent");
    }
    await expect(breaker.execute(fail({ status: 404, response: notFound }))).rejects.toBeDefined();
    expect(breaker.getState()).toBe("CLOSED");
    expect(breaker.getStats()).toMatchObject({
      failures: { expected: 51, permanent: 50, transient: 0 },
      countableFailures: 0,
    });
  });

  it("counts each class that countableClasses names", () => {
    for (const failureClass of ["transient", "external", "rate_limited"] as const) {
      const { breaker } = setup({ failureThreshold: 1 });
      breaker.recordFailure(failureClass);
      expect(breaker.getState()).toBe("OPEN");
    }
    const { breaker } = setup({ failureThreshold: 1, countableClasses: ["permanent"] });
    breaker.recordFailure("transient");
    expect(breaker.getState()).toBe("CLOSED");
    breaker.recordFailure("permanent");
    expect(breaker.getState()).toBe("OPEN");
  });

  it("treats a call that started before the circuit opened as stale", async () => {
    const { breaker } = setup({ failureThreshold: 2 });
    const slow = deferred();
    const pending = breaker.execute(() => slow.promise);
    await openCircuit(breaker, 2);
    slow.reject(new Error("late"));
    await expect(pending).rejects.toThrow("late");
    // Counted in the statistics, but it does not reopen or extend anything.
    const stats = breaker.getStats();
    expect(stats.failures.transient).toBe(3);
    expect(stats.state).toBe("OPEN");
  });

  it("reset() forgets the counted failures while CLOSED", () => {
    const { breaker, transitions } = setup({ failureThreshold: 2 });
    breaker.recordFailure();
    breaker.reset();
    breaker.recordFailure();
    expect(breaker.getState()).toBe("CLOSED");
    expect(transitions).toEqual([]);
  });
});

describe("CircuitBreaker: open circuit", () => {
  it("refuses calls with CircuitOpenError carrying retryAt, without running them", async () => {
    const { breaker, clock } = setup({
      failureThreshold: 1,
      openDurationMs: 30 * MINUTE,
      name: "github",
    });
    const openedAt = clock.now();
    breaker.recordFailure("rate_limited");
    const fn = vi.fn(succeed);
    const error = await breaker.execute(fn).catch((caught: unknown) => caught);
    expect(fn).not.toHaveBeenCalled();
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(CircuitOpenError.isInstance(error)).toBe(true);
    const openError = error as CircuitOpenError;
    expect(openError.code).toBe("CIRCUIT_OPEN");
    expect(openError.retryAt).toBe(openedAt + 30 * MINUTE);
    expect(openError.state).toBe("OPEN");
    expect(openError.breakerName).toBe("github");
    expect(openError.message).toContain('circuit "github" is open until');
    expect(breaker.getStats()).toMatchObject({
      rejections: 1,
      openedAt,
      retryAt: openedAt + 30 * MINUTE,
    });
  });

  it("stays OPEN until retryAt, then half-opens", () => {
    const { breaker, clock, transitions } = setup({ failureThreshold: 1, openDurationMs: 1_000 });
    breaker.recordFailure();
    clock.advance(999);
    expect(breaker.getState()).toBe("OPEN");
    clock.advance(1);
    expect(breaker.getState()).toBe("HALF_OPEN");
    expect(transitions).toEqual(["CLOSED->OPEN", "OPEN->HALF_OPEN"]);
    expect(breaker.getStats()).toMatchObject({ halfOpenAt: clock.now(), retryAt: null });
  });

  it("ignores successes and failures recorded while OPEN", () => {
    const { breaker, clock } = setup({ failureThreshold: 1, openDurationMs: 1_000 });
    breaker.recordFailure();
    const { retryAt } = breaker.getStats();
    clock.advance(500);
    breaker.recordFailure();
    breaker.recordSuccess();
    expect(breaker.getStats()).toMatchObject({ state: "OPEN", retryAt });
  });

  it("reset() closes an open circuit", async () => {
    const { breaker, transitions } = setup({ failureThreshold: 1 });
    breaker.recordFailure();
    const closes = record(breaker, "close");
    breaker.reset();
    expect(breaker.getState()).toBe("CLOSED");
    await expect(breaker.execute(succeed)).resolves.toBe("ok");
    expect(transitions).toEqual(["CLOSED->OPEN", "OPEN->CLOSED"]);
    expect(closes[0]).toMatchObject({ from: "OPEN", to: "CLOSED", reason: "reset" });
  });
});

describe("CircuitBreaker: half-open circuit", () => {
  async function halfOpen(options: CircuitBreakerOptions = {}) {
    const context = setup({ failureThreshold: 1, openDurationMs: 1_000, ...options });
    for (let index = 0; index < (options.failureThreshold ?? 1); index++) {
      context.breaker.recordFailure();
    }
    context.clock.advance(1_000);
    return context;
  }

  it("lets halfOpenProbeCount probes through at a time and refuses the rest without queueing", async () => {
    const { breaker, clock } = await halfOpen({ halfOpenProbeCount: 2 });
    const first = deferred();
    const second = deferred();
    const probeA = breaker.execute(() => first.promise);
    const probeB = breaker.execute(() => second.promise);
    const third = vi.fn(succeed);
    const error = (await breaker
      .execute(third)
      .catch((caught: unknown) => caught)) as CircuitOpenError;
    expect(third).not.toHaveBeenCalled();
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error.state).toBe("HALF_OPEN");
    expect(error.retryAt).toBe(clock.now());
    expect(breaker.getStats().probesInFlight).toBe(2);

    // A finished probe frees its slot.
    first.resolve("a");
    await expect(probeA).resolves.toBe("a");
    expect(breaker.getState()).toBe("HALF_OPEN");
    const probeC = breaker.execute(succeed);
    await expect(probeC).resolves.toBe("ok");
    // Two successes: closed. The probe still running is now stale.
    expect(breaker.getState()).toBe("CLOSED");
    second.resolve("b");
    await expect(probeB).resolves.toBe("b");
    expect(breaker.getState()).toBe("CLOSED");
  });

  it("closes after halfOpenProbeCount successes and forgets the old failures", async () => {
    const { breaker, transitions } = await halfOpen({ halfOpenProbeCount: 3, failureThreshold: 2 });
    await breaker.execute(succeed);
    await breaker.execute(succeed);
    expect(breaker.getState()).toBe("HALF_OPEN");
    expect(breaker.getStats().probeSuccesses).toBe(2);
    await breaker.execute(succeed);
    expect(breaker.getState()).toBe("CLOSED");
    expect(transitions).toEqual(["CLOSED->OPEN", "OPEN->HALF_OPEN", "HALF_OPEN->CLOSED"]);
    // Counting starts over: one failure is not enough for a threshold of 2.
    breaker.recordFailure();
    expect(breaker.getState()).toBe("CLOSED");
  });

  it("reopens on a failed probe, with a new retryAt, and ignores the other probe's late result", async () => {
    const { breaker, clock, transitions } = await halfOpen({ halfOpenProbeCount: 2 });
    const slow = deferred();
    const slowProbe = breaker.execute(() => slow.promise);
    await expect(breaker.execute(fail())).rejects.toThrow("boom");
    expect(breaker.getState()).toBe("OPEN");
    expect(breaker.getStats().retryAt).toBe(clock.now() + 1_000);
    slow.resolve("late");
    await expect(slowProbe).resolves.toBe("late");
    expect(breaker.getState()).toBe("OPEN");
    expect(transitions).toEqual(["CLOSED->OPEN", "OPEN->HALF_OPEN", "HALF_OPEN->OPEN"]);
  });

  it("counts a probe that fails with a non-countable class as a sign of health", async () => {
    const { breaker } = await halfOpen({ halfOpenProbeCount: 2 });
    await expect(breaker.execute(fail({ status: 404 }))).rejects.toEqual({ status: 404 });
    breaker.recordFailure("expected");
    expect(breaker.getState()).toBe("CLOSED");
  });

  it("counts recorded successes toward closing, as the old API did", async () => {
    const { breaker } = await halfOpen({ halfOpenProbeCount: 2 });
    breaker.recordSuccess();
    expect(breaker.getState()).toBe("HALF_OPEN");
    breaker.recordSuccess();
    expect(breaker.getState()).toBe("CLOSED");
  });

  it("half-opens on execute() itself when nobody looked at the state", async () => {
    const { breaker, clock } = setup({
      failureThreshold: 1,
      openDurationMs: 1_000,
      halfOpenProbeCount: 1,
    });
    breaker.recordFailure();
    clock.advance(5_000);
    await expect(breaker.execute(succeed)).resolves.toBe("ok");
    expect(breaker.getState()).toBe("CLOSED");
  });

  it("half-opens before applying a recorded failure, which then reopens the circuit", () => {
    const { breaker, clock, transitions } = setup({ failureThreshold: 1, openDurationMs: 1_000 });
    breaker.recordFailure();
    clock.advance(1_000);
    breaker.recordFailure();
    expect(transitions).toEqual(["CLOSED->OPEN", "OPEN->HALF_OPEN", "HALF_OPEN->OPEN"]);
    expect(breaker.getStats().retryAt).toBe(clock.now() + 1_000);
  });
});

describe("CircuitBreaker: timeouts", () => {
  it("rejects with CircuitTimeoutError, aborts the function's signal and counts an external failure", async () => {
    const { breaker, clock } = setup({ failureThreshold: 1, name: "api" });
    let seen: AbortSignal | undefined;
    const pending = breaker.execute(
      (signal) => {
        seen = signal;
        return new Promise(() => {});
      },
      { timeoutMs: 500 },
    );
    const failures = record(breaker, "failure");
    clock.advance(499);
    expect(seen?.aborted).toBe(false);
    clock.advance(1);
    const error = await pending.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CircuitTimeoutError);
    expect(error).toMatchObject({ code: "CIRCUIT_TIMEOUT", timeoutMs: 500, breakerName: "api" });
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(error);
    expect(failures).toEqual([
      expect.objectContaining({
        reason: "timeout",
        failureClass: "external",
        counted: true,
        error,
      }),
    ]);
    expect(breaker.getState()).toBe("OPEN");
  });

  it("counts a timeout as external even when a classifier says otherwise", async () => {
    const { breaker, clock } = setup({ failureThreshold: 1, classify: () => "expected" });
    const pending = breaker.execute(() => new Promise(() => {}), {
      timeoutMs: 10,
      classify: () => "expected",
    });
    clock.advance(10);
    await expect(pending).rejects.toBeInstanceOf(CircuitTimeoutError);
    expect(breaker.getStats().failures.external).toBe(1);
  });

  it("drops a result or an error that arrives after the timeout", async () => {
    const { breaker, clock } = setup();
    const late = deferred();
    const pending = breaker.execute(() => late.promise, { timeoutMs: 10 });
    clock.advance(10);
    await expect(pending).rejects.toBeInstanceOf(CircuitTimeoutError);
    late.reject(new Error("too late"));
    await new Promise((resolve) => setImmediate(resolve));
    expect(breaker.getStats()).toMatchObject({
      failures: { external: 1, transient: 0 },
      successes: 0,
    });
  });

  it("clears its timer when the function settles first", async () => {
    const { breaker, clock } = setup();
    await expect(breaker.execute(succeed, { timeoutMs: 1_000 })).resolves.toBe("ok");
    await expect(breaker.execute(fail(), { timeoutMs: 1_000 })).rejects.toThrow("boom");
    await expect(
      breaker.execute(
        () => {
          throw new Error("sync");
        },
        { timeoutMs: 1_000 },
      ),
    ).rejects.toThrow("sync");
    expect(clock.pendingTimers).toBe(0);
    expect(breaker.getStats()).toMatchObject({ successes: 1, failures: { transient: 2 } });
  });

  it("treats timeoutMs: Infinity as no limit", async () => {
    const { breaker, clock } = setup();
    const slow = deferred();
    const pending = breaker.execute(() => slow.promise, { timeoutMs: Number.POSITIVE_INFINITY });
    expect(clock.pendingTimers).toBe(0);
    slow.resolve(1);
    await expect(pending).resolves.toBe(1);
  });

  it("unrefs the timer of the real clock", async () => {
    const breaker = new CircuitBreaker();
    const unref = vi.spyOn(globalThis, "setTimeout");
    await breaker.execute(succeed, { timeoutMs: 60_000 });
    const handle = unref.mock.results.at(-1)?.value as NodeJS.Timeout;
    unref.mockRestore();
    expect(handle.hasRef()).toBe(false);
  });
});

describe("CircuitBreaker: cancellation", () => {
  it("rejects with the reason of an already aborted signal without running the function", async () => {
    const { breaker } = setup();
    const controller = new AbortController();
    controller.abort(new Error("not needed any more"));
    const fn = vi.fn(succeed);
    await expect(breaker.execute(fn, { signal: controller.signal })).rejects.toThrow(
      "not needed any more",
    );
    expect(fn).not.toHaveBeenCalled();
    expect(breaker.getStats()).toMatchObject({ successes: 0, countableFailures: 0, rejections: 0 });
  });

  it("rejects at once when the caller aborts, aborts the function's signal, and counts nothing", async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const never = new Promise(() => {});
    const pending = breaker.execute(
      (signal) => {
        seen = signal;
        return never;
      },
      { signal: controller.signal },
    );
    const reason = new Error("user cancelled");
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(seen?.aborted).toBe(true);
    expect(breaker.getState()).toBe("CLOSED");
    expect(breaker.getStats().countableFailures).toBe(0);
  });

  it("aborts the function's signal with the caller's reason when a timeout is also set", async () => {
    const { breaker, clock } = setup();
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const pending = breaker.execute(
      (signal) => {
        seen = signal;
        return new Promise((_resolve, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason));
        });
      },
      { signal: controller.signal, timeoutMs: 1_000 },
    );
    controller.abort("stop");
    await expect(pending).rejects.toBe("stop");
    expect(seen?.reason).toBe("stop");
    expect(clock.pendingTimers).toBe(0);
    expect(breaker.getStats().countableFailures).toBe(0);
  });

  it("removes its abort listener once the call settles", async () => {
    const { breaker } = setup();
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, "removeEventListener");
    await breaker.execute(succeed, { signal: controller.signal });
    expect(remove).toHaveBeenCalledWith("abort", expect.any(Function));
    // A later abort changes nothing.
    controller.abort();
    expect(breaker.getStats().successes).toBe(1);
  });

  it("frees a probe slot when the probe is cancelled", async () => {
    const { breaker, clock } = setup({
      failureThreshold: 1,
      openDurationMs: 10,
      halfOpenProbeCount: 1,
    });
    breaker.recordFailure();
    clock.advance(10);
    const controller = new AbortController();
    const probe = breaker.execute(() => new Promise(() => {}), { signal: controller.signal });
    await expect(breaker.execute(succeed)).rejects.toBeInstanceOf(CircuitOpenError);
    controller.abort();
    await expect(probe).rejects.toBeDefined();
    expect(breaker.getStats().probesInFlight).toBe(0);
    await expect(breaker.execute(succeed)).resolves.toBe("ok");
    expect(breaker.getState()).toBe("CLOSED");
  });
});

describe("CircuitBreaker: classification inside execute()", () => {
  it("uses classifyFailure by default, so a GitHub 404 does not count", async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    const notFoundError = Object.assign(new Error("Not Found"), { status: 404 });
    await expect(breaker.execute(fail(notFoundError))).rejects.toBe(notFoundError);
    expect(breaker.getState()).toBe("CLOSED");
    const rateLimited = Object.assign(new Error("limit"), { status: 429 });
    await expect(breaker.execute(fail(rateLimited))).rejects.toBe(rateLimited);
    expect(breaker.getState()).toBe("OPEN");
  });

  it("prefers the call's classify over the breaker's", async () => {
    const { breaker } = setup({ failureThreshold: 1, classify: () => "expected" });
    await expect(breaker.execute(fail())).rejects.toThrow();
    expect(breaker.getState()).toBe("CLOSED");
    await expect(breaker.execute(fail(), { classify: () => "external" })).rejects.toThrow();
    expect(breaker.getState()).toBe("OPEN");
    expect(breaker.getStats().failures).toMatchObject({ expected: 1, external: 1 });
  });

  it("counts a failure as transient, and warns, when classify throws or answers nonsense", async () => {
    const warn = vi.fn();
    const { breaker } = setup({ failureThreshold: 2, logger: { warn } });
    const broken = () => {
      throw new Error("classifier bug");
    };
    await expect(breaker.execute(fail(), { classify: broken })).rejects.toThrow("boom");
    await expect(
      breaker.execute(fail(), { classify: () => "fatal" as unknown as "transient" }),
    ).rejects.toThrow("boom");
    expect(breaker.getState()).toBe("OPEN");
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[0]?.[0]).toMatch(/classify threw/);
    expect(warn.mock.calls[1]?.[1]).toMatchObject({ failureClass: "fatal" });
  });
});

describe("CircuitBreaker: events", () => {
  it("reports open, halfOpen and close with reasons and times", async () => {
    const { breaker, clock } = setup({
      failureThreshold: 1,
      openDurationMs: 100,
      halfOpenProbeCount: 1,
    });
    const changes: unknown[] = [];
    for (const event of ["open", "halfOpen", "close"] as const) {
      breaker.on(event, (payload) => changes.push({ event, ...payload }));
    }
    const start = clock.now();
    breaker.recordFailure();
    clock.advance(100);
    await breaker.execute(succeed);
    expect(changes).toEqual([
      {
        event: "open",
        from: "CLOSED",
        to: "OPEN",
        reason: "failure_threshold",
        at: start,
        retryAt: start + 100,
      },
      {
        event: "halfOpen",
        from: "OPEN",
        to: "HALF_OPEN",
        reason: "open_duration_elapsed",
        at: start + 100,
        retryAt: null,
      },
      {
        event: "close",
        from: "HALF_OPEN",
        to: "CLOSED",
        reason: "probes_succeeded",
        at: start + 100,
        retryAt: null,
      },
    ]);
  });

  it("reports a failed probe as an open with reason probe_failed", async () => {
    const { breaker, clock } = setup({ failureThreshold: 1, openDurationMs: 100 });
    breaker.recordFailure();
    clock.advance(100);
    const opens = record(breaker, "open");
    await expect(breaker.execute(fail())).rejects.toThrow();
    expect(opens).toEqual([expect.objectContaining({ from: "HALF_OPEN", reason: "probe_failed" })]);
  });

  it("reports success, failure and reject", async () => {
    const { breaker, clock } = setup({ failureThreshold: 1 });
    const successes = record(breaker, "success");
    const failures = record(breaker, "failure");
    const rejects = record(breaker, "reject");
    await breaker.execute(succeed);
    breaker.recordSuccess();
    const error = new Error("boom");
    await expect(breaker.execute(fail(error))).rejects.toBe(error);
    await expect(breaker.execute(succeed)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(successes).toEqual([
      { reason: "call", state: "CLOSED", at: clock.now() },
      { reason: "recorded", state: "CLOSED", at: clock.now() },
    ]);
    expect(failures).toEqual([
      {
        reason: "error",
        failureClass: "transient",
        counted: true,
        error,
        state: "CLOSED",
        at: clock.now(),
      },
    ]);
    expect(rejects).toEqual([
      { reason: "open", state: "OPEN", retryAt: clock.now() + 1_800_000, at: clock.now() },
    ]);
  });

  it("stops delivering after the disposer runs, and a second dispose is harmless", () => {
    const { breaker } = setup();
    const listener = vi.fn();
    const other = vi.fn();
    const stop = breaker.on("failure", listener);
    breaker.on("failure", other);
    breaker.recordFailure();
    stop();
    stop();
    breaker.recordFailure();
    expect(listener).toHaveBeenCalledTimes(1);
    expect(other).toHaveBeenCalledTimes(2);
  });

  it("lets the same function subscribe twice and unsubscribe once", () => {
    const { breaker } = setup();
    const listener = vi.fn();
    const stopFirst = breaker.on("success", listener);
    breaker.on("success", listener);
    stopFirst();
    breaker.recordSuccess();
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it("keeps working when listeners and onStateChange throw, and logs each", async () => {
    const warn = vi.fn();
    const { breaker, clock } = setup({
      failureThreshold: 1,
      openDurationMs: 10,
      halfOpenProbeCount: 1,
      logger: { warn },
      onStateChange: () => {
        throw new Error("hook bug");
      },
    });
    const after = vi.fn();
    for (const event of ["open", "halfOpen", "close", "success", "failure", "reject"] as const) {
      breaker.on(event, () => {
        throw new Error(`${event} listener bug`);
      });
    }
    breaker.on("open", after);
    await expect(breaker.execute(fail())).rejects.toThrow("boom");
    expect(after).toHaveBeenCalledTimes(1);
    await expect(breaker.execute(succeed)).rejects.toBeInstanceOf(CircuitOpenError);
    clock.advance(10);
    await expect(breaker.execute(succeed)).resolves.toBe("ok");
    expect(breaker.getState()).toBe("CLOSED");
    const messages = warn.mock.calls.map((call) => call[0]);
    expect(messages.filter((message) => message.includes("listener threw"))).toHaveLength(6);
    expect(messages.filter((message) => message.includes("onStateChange threw"))).toHaveLength(3);
    expect(warn.mock.calls[0]?.[1]).toHaveProperty("error");
  });

  it("survives a logger that throws too", async () => {
    const { breaker } = setup({
      logger: {
        warn: () => {
          throw new Error("logger bug");
        },
      },
    });
    breaker.on("success", () => {
      throw new Error("listener bug");
    });
    await expect(breaker.execute(succeed)).resolves.toBe("ok");
  });

  it("lets a listener reset the circuit from inside the open event", async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    breaker.on("open", () => breaker.reset());
    await expect(breaker.execute(fail())).rejects.toThrow();
    expect(breaker.getState()).toBe("CLOSED");
    await expect(breaker.execute(succeed)).resolves.toBe("ok");
  });

  it("lets a failure listener reset the circuit before the failure is applied", async () => {
    const { breaker } = setup({ failureThreshold: 1, openDurationMs: 10 });
    breaker.recordFailure();
    breaker.on("failure", () => breaker.reset());
    breaker.recordFailure();
    expect(breaker.getState()).toBe("CLOSED");
  });

  it("lets a halfOpen listener close the circuit before the call is admitted", async () => {
    const { breaker, clock } = setup({
      failureThreshold: 1,
      openDurationMs: 10,
      halfOpenProbeCount: 1,
    });
    breaker.recordFailure();
    breaker.on("halfOpen", () => breaker.reset());
    clock.advance(10);
    await expect(breaker.execute(succeed)).resolves.toBe("ok");
    expect(breaker.getStats()).toMatchObject({ state: "CLOSED", probesInFlight: 0 });
  });

  it("refuses unknown events and listeners that are not functions", () => {
    const { breaker } = setup();
    expect(() => breaker.on("opened" as "open", () => {})).toThrow(TypeError);
    expect(() => breaker.on("open", "nope" as unknown as () => void)).toThrow(TypeError);
  });
});

describe("CircuitBreaker: statistics", () => {
  it("reports the window's counts by class, successes and rejections", async () => {
    const { breaker } = setup({ failureThreshold: 3, name: "stats" });
    breaker.recordFailure("expected");
    breaker.recordFailure("permanent");
    breaker.recordFailure("rate_limited");
    breaker.recordFailure("external");
    await breaker.execute(succeed);
    expect(breaker.getStats()).toEqual({
      name: "stats",
      state: "CLOSED",
      failures: { transient: 0, permanent: 1, expected: 1, external: 1, rate_limited: 1 },
      countableFailures: 2,
      countedTowardThreshold: 2,
      successes: 1,
      rejections: 0,
      openedAt: null,
      halfOpenAt: null,
      retryAt: null,
      probesInFlight: 0,
      probeSuccesses: 0,
      failureThreshold: 3,
      rollingWindowMs: 3_600_000,
    });
  });

  it("drops an event from the totals between rollingWindowMs and 61/60 of it after it happened", () => {
    const { breaker, clock } = setup({ rollingWindowMs: 60_000, failureThreshold: 100 });
    clock.set(6_000_000); // at a bucket boundary (buckets of 1 s)
    breaker.recordFailure();
    clock.advance(59_999);
    expect(breaker.getStats().failures.transient).toBe(1);
    clock.advance(1);
    // Exactly one window later: gone from the threshold count, still in the bucketed totals.
    expect(breaker.getStats()).toMatchObject({ countedTowardThreshold: 0, countableFailures: 1 });
    clock.advance(1_000);
    expect(breaker.getStats().failures.transient).toBe(0);
  });

  it("keeps counting across many buckets and after long idle periods", () => {
    const { breaker, clock } = setup({ rollingWindowMs: 60_000, failureThreshold: 1_000 });
    for (let second = 0; second < 120; second++) {
      breaker.recordFailure("expected");
      clock.advance(1_000);
    }
    // The last 60 s (plus the straddling bucket) hold 60 or 61 of the 120.
    expect(breaker.getStats().failures.expected).toBeGreaterThanOrEqual(60);
    expect(breaker.getStats().failures.expected).toBeLessThanOrEqual(61);
    clock.advance(10 * 60_000);
    expect(breaker.getStats().failures.expected).toBe(0);
  });
});

describe("CircuitBreaker: argument checks", () => {
  it("rejects (not throws) for a bad function or bad execute options", async () => {
    const { breaker } = setup();
    const call = (fn: unknown, options?: unknown) =>
      breaker.execute(fn as () => number, options as undefined);
    await expect(call("nope")).rejects.toThrow(TypeError);
    await expect(call(succeed, null)).rejects.toThrow(/options must be an object/);
    await expect(call(succeed, { timeoutMs: 0 })).rejects.toThrow(RangeError);
    await expect(call(succeed, { timeoutMs: -1 })).rejects.toThrow(/timeoutMs/);
    await expect(call(succeed, { timeoutMs: "5" })).rejects.toThrow(/timeoutMs/);
    await expect(call(succeed, { signal: {} })).rejects.toThrow(/signal/);
    await expect(call(succeed, { classify: "x" })).rejects.toThrow(/classify/);
    expect(breaker.getStats().successes).toBe(0);
  });

  it("refuses an unknown failure class in recordFailure", () => {
    const { breaker } = setup();
    expect(() => breaker.recordFailure("fatal" as "transient")).toThrow(TypeError);
  });

  it("exposes its name", () => {
    expect(setup({ name: "x" }).breaker.name).toBe("x");
    expect(new CircuitBreaker().name).toBeUndefined();
  });

  it("accepts a plain now() function instead of a clock", () => {
    let time = 0;
    const states: CircuitState[] = [];
    const breaker = new CircuitBreaker({
      now: () => time,
      failureThreshold: 1,
      openDurationMs: 50,
      onStateChange: (_from, to) => states.push(to),
    });
    breaker.recordFailure();
    time = 49;
    expect(breaker.getState()).toBe("OPEN");
    time = 50;
    expect(breaker.getState()).toBe("HALF_OPEN");
    expect(states).toEqual(["OPEN", "HALF_OPEN"]);
  });
});

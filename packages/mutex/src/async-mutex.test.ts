import { ManualClock } from "@beauvoir/core";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { AsyncMutex } from "./async-mutex.js";
import { MutexTimeoutError } from "./errors.js";

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("AsyncMutex", () => {
  it("serializes concurrent critical sections", async () => {
    const mutex = new AsyncMutex();
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 50 }, () =>
        mutex.runExclusive(async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await tick();
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(1);
    expect(mutex.isHeld()).toBe(false);
  });

  it("hands the lock to 1 000 waiters in strict arrival order", async () => {
    const mutex = new AsyncMutex();
    const release = await mutex.acquire();
    const order: number[] = [];
    const waiters = Array.from({ length: 1000 }, (_, index) =>
      mutex.acquire().then((releaseNext) => {
        order.push(index);
        releaseNext();
      }),
    );
    expect(mutex.waiting).toBe(1000);
    release();
    await Promise.all(waiters);
    expect(order).toEqual(Array.from({ length: 1000 }, (_, index) => index));
  });

  it("does not let a newcomer jump ahead of queued waiters", async () => {
    const mutex = new AsyncMutex();
    const release = await mutex.acquire();
    const order: string[] = [];
    const queued = mutex.acquire().then((next) => {
      order.push("queued");
      next();
    });
    release();
    const newcomer = mutex.acquire().then((next) => {
      order.push("newcomer");
      next();
    });
    await Promise.all([queued, newcomer]);
    expect(order).toEqual(["queued", "newcomer"]);
  });

  it("treats release() without acquire() and double release as harmless", async () => {
    const mutex = new AsyncMutex();
    mutex.release();
    const release = await mutex.acquire();
    release();
    release();
    expect(mutex.isHeld()).toBe(false);
    const again = await mutex.acquire(0);
    expect(mutex.isHeld()).toBe(true);
    again();
  });

  it("lets the plain release() free the current holder", async () => {
    const mutex = new AsyncMutex();
    await mutex.acquire();
    const next = mutex.acquire();
    mutex.release();
    const releaseNext = await next;
    expect(mutex.isHeld()).toBe(true);
    releaseNext();
    expect(mutex.isHeld()).toBe(false);
  });

  it("reports the holder and how long it has held the lock", async () => {
    const clock = new ManualClock(1_000);
    const mutex = new AsyncMutex({ clock });
    expect(mutex.isHeld()).toBe(false);
    expect(mutex.holdDuration()).toBe(0);
    const release = await mutex.acquire();
    clock.advance(250);
    expect(mutex.isHeld()).toBe(true);
    expect(mutex.holdDuration()).toBe(250);
    release();
    expect(mutex.holdDuration()).toBe(0);
  });

  it("rejects a waiter with MutexTimeoutError once its timeout runs out", async () => {
    const clock = new ManualClock();
    const mutex = new AsyncMutex({ clock });
    const release = await mutex.acquire();
    const waiter = mutex.acquire(100);
    clock.advance(99);
    await tick();
    expect(mutex.waiting).toBe(1);
    clock.advance(1);
    const error = await waiter.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MutexTimeoutError);
    expect(MutexTimeoutError.isInstance(error)).toBe(true);
    expect((error as MutexTimeoutError).code).toBe("MUTEX_TIMEOUT");
    expect((error as MutexTimeoutError).timeoutMs).toBe(100);
    expect(mutex.waiting).toBe(0);
    release();
    expect(mutex.isHeld()).toBe(false);
  });

  it("uses a 30 s default timeout and a fresh error each time", async () => {
    const clock = new ManualClock();
    const mutex = new AsyncMutex({ clock });
    await mutex.acquire();
    const first = mutex.acquire().catch((caught: unknown) => caught);
    const second = mutex.acquire().catch((caught: unknown) => caught);
    clock.advance(29_999);
    await tick();
    expect(mutex.waiting).toBe(2);
    clock.advance(1);
    const [firstError, secondError] = await Promise.all([first, second]);
    expect((firstError as MutexTimeoutError).timeoutMs).toBe(30_000);
    expect(firstError).not.toBe(secondError);
  });

  it("expires waiters with different timeouts independently", async () => {
    const clock = new ManualClock();
    const mutex = new AsyncMutex({ clock });
    const release = await mutex.acquire();
    const long = mutex.acquire(500);
    const short = mutex.acquire(100).catch((caught: unknown) => caught);
    clock.advance(100);
    expect(await short).toBeInstanceOf(MutexTimeoutError);
    expect(mutex.waiting).toBe(1);
    release();
    const releaseLong = await long;
    releaseLong();
    expect(clock.pendingTimers).toBeLessThanOrEqual(1); // only the unref'd lease watchdog may remain
  });

  it("makes re-entry time out instead of hanging", async () => {
    const clock = new ManualClock();
    const mutex = new AsyncMutex({ clock });
    const outcome = mutex.runExclusive(async () => {
      const inner = mutex.acquire(50);
      clock.advance(50);
      return inner.then(
        () => "re-entered",
        (error: unknown) => error,
      );
    });
    expect(await outcome).toBeInstanceOf(MutexTimeoutError);
    expect(mutex.isHeld()).toBe(false);
  });

  it("removes an aborted waiter from the queue and rejects with the signal's reason", async () => {
    const mutex = new AsyncMutex();
    const release = await mutex.acquire();
    const controller = new AbortController();
    const aborted = mutex.acquire(undefined, { signal: controller.signal });
    const after = mutex.acquire();
    const reason = new Error("caller gave up");
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    expect(mutex.waiting).toBe(1);
    release();
    const releaseAfter = await after;
    expect(mutex.isHeld()).toBe(true);
    releaseAfter();
  });

  it("rejects at once when the signal is already aborted", async () => {
    const mutex = new AsyncMutex();
    const controller = new AbortController();
    controller.abort(new Error("already"));
    await expect(mutex.acquire(100, { signal: controller.signal })).rejects.toThrow("already");
    expect(mutex.isHeld()).toBe(false);
  });

  it("ignores an abort that comes after the lock was granted", async () => {
    const mutex = new AsyncMutex();
    const controller = new AbortController();
    const release = await mutex.acquire(100, { signal: controller.signal });
    controller.abort();
    expect(mutex.isHeld()).toBe(true);
    release();
  });

  it("revokes a lease held too long, warns, and hands the lock to the next waiter", async () => {
    const clock = new ManualClock();
    const warn = vi.fn();
    const mutex = new AsyncMutex({ clock, maxHoldMs: 1_000, logger: { warn } });
    const staleRelease = await mutex.acquire();
    const next = mutex.acquire(5_000);
    clock.advance(1_000);
    const nextRelease = await next;
    expect(warn).toHaveBeenCalledOnce();
    expect(warn.mock.calls[0]?.[1]).toMatchObject({ heldMs: 1_000, maxHoldMs: 1_000 });
    // The stale holder wakes up and releases: it must not free the new holder's lock.
    staleRelease();
    expect(mutex.isHeld()).toBe(true);
    nextRelease();
    expect(mutex.isHeld()).toBe(false);
  });

  it("re-arms the lease watchdog for a later holder", async () => {
    const clock = new ManualClock();
    const warn = vi.fn();
    const mutex = new AsyncMutex({ clock, maxHoldMs: 1_000, logger: { warn } });
    const first = await mutex.acquire();
    clock.advance(600);
    first();
    await mutex.acquire();
    clock.advance(600); // the watchdog armed for the first holder fires; the second is not due
    expect(mutex.isHeld()).toBe(true);
    expect(warn).not.toHaveBeenCalled();
    clock.advance(400);
    expect(mutex.isHeld()).toBe(false);
    expect(warn).toHaveBeenCalledOnce();
  });

  it("never revokes when leases are off", async () => {
    const clock = new ManualClock();
    const mutex = new AsyncMutex({ clock, maxHoldMs: Number.POSITIVE_INFINITY });
    await mutex.acquire();
    clock.advance(10 * 60_000);
    expect(mutex.isHeld()).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it("releases after runExclusive's function throws, and passes the error on", async () => {
    const mutex = new AsyncMutex();
    const failure = new Error("boom");
    await expect(
      mutex.runExclusive(() => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(mutex.isHeld()).toBe(false);
    await expect(mutex.runExclusive(async () => 42)).resolves.toBe(42);
  });

  it("honours runExclusive's timeout and signal", async () => {
    const mutex = new AsyncMutex();
    const release = await mutex.acquire();
    await expect(mutex.runExclusive(() => 1, { timeoutMs: 5 })).rejects.toBeInstanceOf(
      MutexTimeoutError,
    );
    await expect(
      mutex.runExclusive(() => 1, { signal: AbortSignal.abort(new Error("no")) }),
    ).rejects.toThrow("no");
    release();
  });

  it("refuses bad options with errors that name the option", () => {
    expect(() => new AsyncMutex({ maxHoldMs: -1 })).toThrow(/maxHoldMs/);
    expect(() => new AsyncMutex({ defaultTimeoutMs: Number.NaN })).toThrow(/defaultTimeoutMs/);
    expect(() => new AsyncMutex().acquire(-5)).toThrow(RangeError);
  });

  it("keeps no timer alive once the work is done", async () => {
    const clock = new ManualClock();
    const mutex = new AsyncMutex({ clock, maxHoldMs: Number.POSITIVE_INFINITY });
    const release = await mutex.acquire();
    const waiters = [mutex.acquire(100), mutex.acquire(200)];
    expect(clock.pendingTimers).toBe(1);
    release();
    for (const waiter of waiters) (await waiter)();
    expect(clock.pendingTimers).toBe(0);
  });

  it("never lets two holders overlap under random acquire/release/abort/timeout interleavings", async () => {
    type Step =
      | { kind: "acquire"; timeoutMs: number }
      | { kind: "abortable" }
      | { kind: "abort"; index: number }
      | { kind: "release"; index: number }
      | { kind: "advance"; ms: number };
    const step = fc.oneof(
      fc.record({
        kind: fc.constant("acquire" as const),
        timeoutMs: fc.integer({ min: 0, max: 300 }),
      }),
      fc.record({ kind: fc.constant("abortable" as const) }),
      fc.record({ kind: fc.constant("abort" as const), index: fc.nat(40) }),
      fc.record({ kind: fc.constant("release" as const), index: fc.nat(40) }),
      fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 400 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60 }), async (steps: Step[]) => {
        const clock = new ManualClock();
        // The model: who holds the lock. A lease revocation (the warning) ends the
        // current holding; a grant while someone still holds it is an overlap.
        let holder: number | null = null;
        let overlaps = 0;
        const mutex = new AsyncMutex({
          clock,
          maxHoldMs: 500,
          logger: {
            warn: () => {
              holder = null;
            },
          },
        });
        const releases: Array<() => void> = [];
        const controllers: AbortController[] = [];
        let nextId = 0;
        const track = (promise: Promise<() => void>) =>
          promise.then(
            (release) => {
              const id = nextId++;
              if (holder !== null) overlaps++;
              holder = id;
              releases.push(() => {
                if (holder === id) holder = null;
                release();
              });
            },
            () => undefined,
          );
        for (const current of steps) {
          if (current.kind === "acquire") void track(mutex.acquire(current.timeoutMs));
          if (current.kind === "abortable") {
            const controller = new AbortController();
            controllers.push(controller);
            void track(mutex.acquire(1_000, { signal: controller.signal }));
          }
          if (current.kind === "abort")
            controllers[current.index % (controllers.length || 1)]?.abort();
          if (current.kind === "release") releases[current.index % (releases.length || 1)]?.();
          if (current.kind === "advance") clock.advance(current.ms);
          await tick();
          expect(mutex.isHeld()).toBe(holder !== null);
        }
        expect(overlaps).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

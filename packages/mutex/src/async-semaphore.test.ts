import { ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { AsyncSemaphore } from "./async-semaphore.js";
import { MutexTimeoutError } from "./errors.js";

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("AsyncSemaphore", () => {
  it("admits at most `permits` holders at once", async () => {
    const semaphore = new AsyncSemaphore(3);
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 30 }, () =>
        semaphore.runExclusive(async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await tick();
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(3);
    expect(semaphore.available).toBe(3);
    expect(semaphore.permits).toBe(3);
  });

  it("serves waiters in arrival order as permits free up", async () => {
    const semaphore = new AsyncSemaphore(2);
    const first = await semaphore.acquire();
    const second = await semaphore.acquire();
    const order: number[] = [];
    const waiters = [0, 1, 2].map((index) =>
      semaphore.acquire().then((release) => {
        order.push(index);
        return release;
      }),
    );
    expect(semaphore.waiting).toBe(3);
    second();
    first();
    const [release0, release1] = await Promise.all(waiters.slice(0, 2));
    release0!();
    const release2 = await waiters[2]!;
    expect(order).toEqual([0, 1, 2]);
    release1!();
    release2();
    expect(semaphore.available).toBe(2);
  });

  it("revokes each expired lease among several holders", async () => {
    const clock = new ManualClock();
    const semaphore = new AsyncSemaphore(2, { clock, maxHoldMs: 100 });
    await semaphore.acquire();
    clock.advance(50);
    await semaphore.acquire();
    clock.advance(50);
    expect(semaphore.available).toBe(1);
    clock.advance(50);
    expect(semaphore.available).toBe(2);
  });

  it("times out waiters of a semaphore as well", async () => {
    const clock = new ManualClock();
    const semaphore = new AsyncSemaphore(1, { clock });
    await semaphore.acquire();
    const waiter = semaphore.acquire(10);
    clock.advance(10);
    await expect(waiter).rejects.toBeInstanceOf(MutexTimeoutError);
  });

  it("waits forever with an infinite timeout", async () => {
    const clock = new ManualClock();
    const semaphore = new AsyncSemaphore(1, { clock, maxHoldMs: Number.POSITIVE_INFINITY });
    const release = await semaphore.acquire();
    const waiter = semaphore.acquire(Number.POSITIVE_INFINITY);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(24 * 3_600_000);
    release();
    (await waiter)();
  });

  it("refuses a permit count that is not a whole number >= 1", () => {
    expect(() => new AsyncSemaphore(0)).toThrow(/permits/);
    expect(() => new AsyncSemaphore(1.5)).toThrow(RangeError);
  });
});

import { describe, expect, it } from "vitest";
import { delay } from "./abort.js";
import { systemClock } from "./clock.js";
import { ManualClock } from "./manual-clock.js";

describe("ManualClock", () => {
  it("fires due timers in order of due time, including ones scheduled while firing", () => {
    const clock = new ManualClock(100);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push("b@300"), 200);
    clock.setTimeout(() => {
      fired.push("a@150");
      clock.setTimeout(() => fired.push("c@200"), 50);
    }, 50);
    clock.advance(150);
    expect(fired).toEqual(["a@150", "c@200"]);
    expect(clock.now()).toBe(250);
    clock.set(300);
    expect(fired).toEqual(["a@150", "c@200", "b@300"]);
    expect(clock.pendingTimers).toBe(0);
  });

  it("does not fire cleared timers and ignores unknown handles", () => {
    const clock = new ManualClock();
    let fired = false;
    const handle = clock.setTimeout(() => {
      fired = true;
    }, 10);
    clock.clearTimeout(handle);
    clock.clearTimeout({});
    clock.advance(20);
    expect(fired).toBe(false);
  });

  it("never moves backwards", () => {
    const clock = new ManualClock(1_000);
    clock.set(500);
    expect(clock.now()).toBe(1_000);
  });
});

describe("delay", () => {
  it("resolves after the delay on the given clock", async () => {
    const clock = new ManualClock();
    let done = false;
    const waiting = delay(100, { clock }).then(() => {
      done = true;
    });
    clock.advance(99);
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(1);
    await waiting;
    expect(done).toBe(true);
  });

  it("rejects with the signal's reason when aborted, and clears its timer", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const waiting = delay(100, { clock, signal: controller.signal });
    controller.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
    expect(clock.pendingTimers).toBe(0);
    await expect(delay(1, { signal: controller.signal })).rejects.toThrow("stop");
  });

  it("works on the system clock, unref'd", async () => {
    const started = systemClock.now();
    await delay(5, { unref: true });
    expect(systemClock.now() - started).toBeGreaterThanOrEqual(4);
    const handle = systemClock.setTimeout(() => {}, 1_000);
    systemClock.clearTimeout(handle);
  });
});

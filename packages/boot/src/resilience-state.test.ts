import { CircuitBreakerGroup } from "@beauvoir/breaker";
import { ManualClock } from "@beauvoir/core";
import { RateLimiter } from "@beauvoir/rate-limiter";
import { describe, expect, it } from "vitest";
import { octokitError } from "../test/executor-harness.js";
import { CountingRateLimiter, capturingLogger, MemoryStoreFactory } from "../test/fakes.js";
import {
  RESILIENCE_STATE_STORE,
  type ResilienceState,
  ResilienceStateKeeper,
} from "./resilience-state.js";

function keeper(stores = new MemoryStoreFactory(), clock = new ManualClock(1_800_000_000_000)) {
  const breakers = new CircuitBreakerGroup({ clock, failureThreshold: 1 });
  const limiter = new RateLimiter({ clock, cleanupIntervalMs: Number.POSITIVE_INFINITY });
  const { lines, logger } = capturingLogger();
  const state = new ResilienceStateKeeper({
    store: stores.create<ResilienceState>(RESILIENCE_STATE_STORE),
    breakers,
    limiter,
    logger,
  });
  return { stores, clock, breakers, limiter, lines, state };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("ResilienceStateKeeper", () => {
  it("saves after every change and restores breakers and blocks in a new process", async () => {
    const first = keeper();
    first.state.watch();
    first.breakers.get("add_labels").recordFailure("transient");
    first.limiter.recordRateLimitFailure(
      octokitError(403, "secondary rate limit", { "retry-after": "30" }),
    );
    await first.state.close();
    expect(first.stores.writes).toBeGreaterThanOrEqual(1);
    const second = keeper(first.stores, first.clock);
    await second.state.restore();
    expect(second.breakers.get("add_labels").getState()).toBe("OPEN");
    expect(second.limiter.blockedUntil).toBe(first.clock.now() + 30_000);
  });

  it("coalesces changes made while a save is running into one more save", async () => {
    const { stores, breakers, limiter, state } = keeper();
    state.watch();
    for (let index = 0; index < 5; index++) limiter.recordRateLimit("x", "secondary", 10 + index);
    breakers.get("a").recordFailure("transient");
    await settle();
    await state.close();
    expect(stores.writes).toBeLessThanOrEqual(2);
    const saved = await stores.create<ResilienceState>(RESILIENCE_STATE_STORE).get();
    expect(Object.keys(saved?.breakers ?? {})).toEqual(["a"]);
    // No more saves once closed.
    limiter.recordRateLimit("x", "secondary", 99);
    await settle();
    expect(stores.writes).toBeLessThanOrEqual(2);
  });

  it("warns and goes on when the state cannot be read, restored or saved", async () => {
    const stores = new MemoryStoreFactory();
    const broken = keeper(stores);
    broken.state.watch();
    stores.failNextSet = new Error("disk full");
    broken.limiter.recordRateLimit("x", "secondary", 5);
    await broken.state.close();
    expect(broken.lines.map((line) => line.message)).toContain(
      "the breaker and rate-limit state could not be saved",
    );
    await stores.create<ResilienceState>(RESILIENCE_STATE_STORE).set({
      version: 1,
      breakers: { add_labels: { version: 99 } },
      limiterBlocks: { version: 1, blockedUntil: "soon" },
    });
    const restored = keeper(stores);
    await restored.state.restore();
    expect(restored.breakers.get("add_labels").getState()).toBe("CLOSED");
    expect(restored.lines.map((line) => line.message)).toContain(
      "boot: some saved breaker states were not restored",
    );
    const unreadable = new ResilienceStateKeeper({
      store: {
        get: async () => {
          throw new Error("EIO");
        },
        set: async () => {},
      },
      breakers: undefined,
      limiter: undefined,
      logger: capturingLogger().logger,
    });
    await expect(unreadable.restore()).resolves.toMatchObject({ restored: false, problem: "EIO" });
  });

  it("tells a limiter that refuses a snapshot apart", async () => {
    const stores = new MemoryStoreFactory();
    await stores
      .create<ResilienceState>(RESILIENCE_STATE_STORE)
      .set({ version: 1, breakers: {}, limiterBlocks: { any: 1 } });
    const limiter = new CountingRateLimiter();
    limiter.restoreBlocks = () => {
      throw new Error("not a snapshot");
    };
    const { lines, logger } = capturingLogger();
    await new ResilienceStateKeeper({
      store: stores.create<ResilienceState>(RESILIENCE_STATE_STORE),
      breakers: undefined,
      limiter,
      logger,
    }).restore();
    expect(lines.map((line) => line.message)).toEqual([
      "boot: the saved rate-limit blocks were not restored",
    ]);
  });
});

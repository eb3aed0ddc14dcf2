import { type Clock, systemClock } from "@beauvoir/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { PostgresBackend } from "../src/backend.js";
import { withAddress } from "./support/database-url.js";
import { TcpProxy } from "./support/tcp-proxy.js";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase();
const proxies: TcpProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

/** A wall clock `offset` ms away from the real one; the offset can change mid-test. */
function skewedClock(offsetMs: number): Clock & { offsetMs: number } {
  const clock = {
    offsetMs,
    now: () => Date.now() + clock.offsetMs,
    setTimeout: systemClock.setTimeout,
    clearTimeout: systemClock.clearTimeout,
  };
  return clock;
}

const LEASE = { ttlMs: 2_500, heartbeatIntervalMs: 300, safetyMarginMs: 800 };

/** A replica that reaches the database through a proxy the test can partition. */
async function partitionableReplica(clock: Clock = systemClock) {
  const proxy = await TcpProxy.start(Number(new URL(db.url).port));
  proxies.push(proxy);
  const backend = db.backend({
    clock,
    instance: LEASE,
    sealer: { enabled: false },
    queryTimeoutMs: 400,
    retry: { budgetMs: 1_500 },
    poolOptions: {
      url: withAddress(db.url, "127.0.0.1", proxy.port),
      settings: { queryTimeoutMs: 400, statementTimeoutMs: 300, connectionTimeoutMs: 400 },
    },
  });
  await backend.start();
  return { backend, proxy };
}

async function directReplica(clock: Clock = systemClock) {
  const backend = db.backend({ clock, instance: LEASE, sealer: { enabled: false } });
  await backend.start();
  return backend;
}

async function databaseSaysLive(backend: PostgresBackend): Promise<boolean> {
  const { rows } = await db.admin.query(
    "SELECT lease_expires_at > now() AS live FROM beauvoir.instances WHERE id = $1",
    [backend.instance.id],
  );
  return rows[0].live;
}

let keys = 0;
const freshKey = () =>
  `add_issue_comment:acme/app/issue-${++keys}:${String(keys).padStart(16, "0")}`;

/**
 * The whole story: a replica holding a key, a lock and a fenced document is cut
 * off past its lease; it stops on its own before the database lets go; a live
 * replica takes over; the network heals; everything the stale replica then
 * sends changes nothing.
 */
async function partitionPastTheLease(
  stale: PostgresBackend,
  proxy: TcpProxy,
  live: PostgresBackend,
) {
  const key = freshKey();
  const tag = `${keys}`;
  const claim = await stale.idempotency.claim({
    key,
    target: "acme/app#1",
    params: { body: "hi" },
  });
  if (claim.status !== "claimed") throw new Error("not claimed");
  const lock = await stale.locks.acquire(`deploy-${tag}`, { ttlMs: 2_000 });
  const document = stale.stores.create<{ owner: string }>(`deploy-state-${tag}`);
  await document.set({ owner: "stale" }, { fence: lock.fence });
  await stale.advanceFence(`deploy-target-${tag}`, lock.fence);

  // While the stale replica is live, nobody takes anything from it.
  expect(await live.idempotency.takeOver()).toEqual([]);
  await expect(live.locks.acquire(`deploy-${tag}`)).rejects.toMatchObject({ code: "LOCK_HELD" });

  proxy.mode = "blackhole";
  const lost = await new Promise<unknown>((resolve) =>
    stale.signal.addEventListener("abort", () => resolve(stale.signal.reason), { once: true }),
  );
  expect(lost).toMatchObject({ code: "LEASE_LOST", reason: "renewal_failed" });
  // It gave up before the database would let anyone take over.
  expect(await databaseSaysLive(stale)).toBe(true);
  expect(lock.signal.aborted).toBe(true);

  // The live replica takes over once the lease has ended on the database clock.
  let taken: Awaited<ReturnType<PostgresBackend["idempotency"]["takeOver"]>> = [];
  await vi.waitFor(
    async () => {
      taken = await live.idempotency.takeOver();
      expect(taken).toHaveLength(1);
    },
    { timeout: 15_000, interval: 100 },
  );
  expect(await databaseSaysLive(stale)).toBe(false);
  expect(taken[0]!.entry.fence).toBeGreaterThan(claim.fence);
  const successor = await live.locks.acquire(`deploy-${tag}`, { waitMs: 10_000 });
  expect(successor.fence).toBeGreaterThan(lock.fence);
  const liveDocument = live.stores.create<{ owner: string }>(`deploy-state-${tag}`);
  await liveDocument.get();
  await liveDocument.set({ owner: "live" }, { fence: successor.fence });
  await live.advanceFence(`deploy-target-${tag}`, successor.fence);
  await live.idempotency.settle({
    key,
    attemptId: taken[0]!.entry.attemptId,
    status: "completed",
    result: "posted by the live replica",
  });

  // Heal. The stale replica's writes change nothing.
  proxy.mode = "pass";
  expect(
    await stale.idempotency.settle({
      key,
      attemptId: claim.attemptId,
      status: "completed",
      result: "posted by the stale replica",
    }),
  ).toMatchObject({ status: "superseded", entry: { ownerId: live.instance.id } });
  await expect(
    document.set({ owner: "stale again" }, { expectedEpoch: 2, fence: lock.fence }),
  ).rejects.toMatchObject({ code: "FENCE_STALE" });
  await expect(stale.advanceFence(`deploy-target-${tag}`, lock.fence)).rejects.toMatchObject({
    code: "FENCE_STALE",
  });
  await expect(lock.renew()).rejects.toMatchObject({ code: "LOCK_LOST" });
  expect(await lock.release()).toBe(false);
  await expect(
    stale.idempotency.claim({ key: freshKey(), target: "t", params: {} }),
  ).rejects.toMatchObject({
    code: "LEASE_LOST",
  });
  await expect(stale.idempotency.takeOver()).rejects.toMatchObject({ code: "LEASE_LOST" });
  await expect(stale.locks.acquire("other")).rejects.toMatchObject({ code: "LEASE_LOST" });

  // Exactly one result for the intent, the live replica's; the document is the live one's.
  const { rows } = await db.admin.query(
    "SELECT result FROM beauvoir.audit_records WHERE intent_id = $1",
    [claim.intentId],
  );
  expect(rows).toEqual([{ result: '"posted by the live replica"' }]);
  expect(await liveDocument.get()).toEqual({ owner: "live" });
  const entry = await live.idempotency.check(key);
  expect(entry).toMatchObject({ status: "completed", result: "posted by the live replica" });
  await successor.release();
}

describe("a partition past the lease", () => {
  it("the cut-off replica stops itself, a live one takes over, and after the heal the stale writes change nothing", async () => {
    const { backend: stale, proxy } = await partitionableReplica();
    const live = await directReplica();
    await partitionPastTheLease(stale, proxy, live);
  });

  it("ends the same way when the replicas' clocks disagree by minutes and one is stepped back mid-partition", async () => {
    const ahead = skewedClock(5 * 60_000);
    const { backend: stale, proxy } = await partitionableReplica(ahead);
    const behind = skewedClock(-7 * 60_000);
    const live = await directReplica(behind);
    // Lease and lock times are the database's, whatever the local clocks say.
    const { rows } = await db.admin.query(
      "SELECT now() AS now, lease_expires_at FROM beauvoir.instances WHERE id = $1",
      [stale.instance.id],
    );
    expect(
      Math.abs(rows[0].lease_expires_at.getTime() - rows[0].now.getTime()),
    ).toBeLessThanOrEqual(LEASE.ttlMs);
    const probe = await live.locks.acquire("probe", { ttlMs: 5_000 });
    const skewSeen = probe.expiresAt.getTime() - rows[0].now.getTime();
    expect(skewSeen).toBeGreaterThan(0);
    expect(skewSeen).toBeLessThan(60_000);
    await probe.release();
    // A wall clock stepped back ten minutes must not stretch the stale replica's lease.
    setTimeout(() => {
      ahead.offsetMs -= 10 * 60_000;
    }, 100);
    await partitionPastTheLease(stale, proxy, live);
  });
});

describe("a blackholed connection", () => {
  it("fails a step's statements in bounded time instead of hanging them, and a resend after the heal resolves them", async () => {
    const { backend, proxy } = await partitionableReplica();
    const key = freshKey();
    const claim = await backend.idempotency.claim({ key, target: "t", params: {} });
    if (claim.status !== "claimed") throw new Error("not claimed");
    proxy.mode = "blackhole";
    const settle = () =>
      backend.idempotency.settle({
        key,
        attemptId: claim.attemptId,
        status: "completed",
        result: 1,
      });
    await expect(settle()).rejects.toMatchObject({ code: "DATABASE_UNAVAILABLE" });
    await expect(
      backend.idempotency.claim({ key: freshKey(), target: "t", params: {} }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^(DATABASE_UNAVAILABLE|LEASE_LOST)$/) });
    proxy.mode = "pass";
    // The same attempt id, resent: settled exactly once (the lease is not needed to settle).
    expect(await settle()).toMatchObject({ status: "settled", entry: { status: "completed" } });
    const { rows } = await db.admin.query(
      "SELECT count(*)::int AS n FROM beauvoir.audit_records WHERE intent_id = $1",
      [claim.intentId],
    );
    expect(rows[0].n).toBe(1);
  });
});

import { afterEach, describe, expect, it, vi } from "vitest";
import { withAddress } from "../test/support/database-url.js";
import { TcpProxy } from "../test/support/tcp-proxy.js";
import { useTestDatabase } from "../test/support/test-database.js";
import { LeaseLostError } from "./errors.js";

const db = useTestDatabase();
const proxies: TcpProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

async function leaseRow(id: string) {
  const { rows } = await db.admin.query(
    `SELECT (extract(epoch FROM lease_expires_at - heartbeat_at) * 1000)::float8 AS ttl_ms,
            heartbeat_at, lease_expires_at > now() AS live, stopped_at
       FROM beauvoir.instances WHERE id = $1`,
    [id],
  );
  return rows[0];
}

describe("InstanceLease", () => {
  it("registers with a lease computed on the database clock and keeps renewing it", async () => {
    const backend = db.backend({
      instance: { ttlMs: 3_000, heartbeatIntervalMs: 200, name: "pod-a" },
    });
    await backend.start();
    const first = await leaseRow(backend.instance.id);
    expect(first).toMatchObject({ ttl_ms: 3_000, live: true, stopped_at: null });
    expect(backend.instance.live).toBe(true);
    expect(backend.instance.expiresAt).toBeInstanceOf(Date);
    await vi.waitFor(
      async () =>
        expect((await leaseRow(backend.instance.id)).heartbeat_at.getTime()).toBeGreaterThan(
          first.heartbeat_at.getTime(),
        ),
      { timeout: 10_000, interval: 50 },
    );
    const { rows } = await db.admin.query(
      "SELECT name, pid FROM beauvoir.instances WHERE id = $1",
      [backend.instance.id],
    );
    expect(rows[0]).toEqual({ name: "pod-a", pid: process.pid });
  });

  it("renews on its own connection while every pooled one is busy", async () => {
    const pool = db.pool({
      max: 2,
      settings: { statementTimeoutMs: 20_000, queryTimeoutMs: 25_000 },
    });
    const backend = db.backend({ pool, instance: { ttlMs: 3_000, heartbeatIntervalMs: 150 } });
    await backend.start();
    await backend.instance.renew();
    const before = (await leaseRow(backend.instance.id)).heartbeat_at.getTime();
    // The heartbeat holds one of the two connections; the other sleeps.
    let slept = false;
    const sleeping = pool.query("SELECT pg_sleep(3)").then(() => {
      slept = true;
    });
    await vi.waitFor(
      async () =>
        expect((await leaseRow(backend.instance.id)).heartbeat_at.getTime()).toBeGreaterThan(
          before,
        ),
      { timeout: 10_000, interval: 50 },
    );
    expect(slept).toBe(false);
    await sleeping;
  });

  it("ends the lease at once on stop, so others may take over", async () => {
    const backend = db.backend();
    await backend.start();
    await backend.stop();
    expect(await leaseRow(backend.instance.id)).toMatchObject({ live: false });
    expect((await leaseRow(backend.instance.id)).stopped_at).toBeInstanceOf(Date);
    expect(backend.signal.aborted).toBe(true);
    expect(backend.signal.reason).toMatchObject({ code: "LEASE_LOST", reason: "stopped" });
    expect(() => backend.instance.assertLive()).toThrow(LeaseLostError);
    await backend.stop();
  });

  it("gives up when the database says the lease is gone", async () => {
    const backend = db.backend({ instance: { ttlMs: 3_000, heartbeatIntervalMs: 100 } });
    await backend.start();
    await db.admin.query(
      "UPDATE beauvoir.instances SET lease_expires_at = now() - interval '1 second' WHERE id = $1",
      [backend.instance.id],
    );
    await vi.waitFor(() => expect(backend.signal.aborted).toBe(true), { timeout: 10_000 });
    expect(backend.signal.reason).toMatchObject({ code: "LEASE_LOST", reason: "expired" });
    // It stays dead: a later renewal does not resurrect it.
    await backend.instance.renew();
    expect(backend.instance.live).toBe(false);
    await expect(
      backend.idempotency.claim({ key: "skip:a/b:1", target: "t", params: {} }),
    ).rejects.toMatchObject({ code: "LEASE_LOST" });
  });

  it("aborts its signal before the database lets the lease expire when it cannot renew", async () => {
    const proxy = await TcpProxy.start(Number(new URL(db.url).port));
    proxies.push(proxy);
    const backend = db.backend({
      instance: { ttlMs: 4_000, heartbeatIntervalMs: 300, safetyMarginMs: 1_500 },
      poolOptions: {
        url: withAddress(db.url, "127.0.0.1", proxy.port),
        settings: { queryTimeoutMs: 500, connectionTimeoutMs: 500 },
      },
      queryTimeoutMs: 500,
    });
    await backend.start();
    const aborted = new Promise<unknown>((resolve) =>
      backend.signal.addEventListener("abort", () => resolve(backend.signal.reason)),
    );
    proxy.mode = "blackhole";
    const reason = await aborted;
    // Checked at once over a direct connection: the database still counts it live.
    const { rows } = await db.admin.query(
      "SELECT lease_expires_at > now() AS live FROM beauvoir.instances WHERE id = $1",
      [backend.instance.id],
    );
    expect(rows[0].live).toBe(true);
    expect(reason).toMatchObject({ code: "LEASE_LOST", reason: "renewal_failed" });
    expect(backend.instance.live).toBe(false);
    proxy.mode = "pass";
  });

  it("names a bad option", () => {
    expect(() => db.backend({ instance: { ttlMs: 0 } })).toThrow(/ttlMs/);
    expect(() =>
      db.backend({ instance: { ttlMs: 1_000, heartbeatIntervalMs: 900, safetyMarginMs: 200 } }),
    ).toThrow(/less than instance.ttlMs/);
  });

  it("refuses to be used before it is registered", async () => {
    const backend = db.backend();
    expect(() => backend.instance.assertLive()).toThrow(
      expect.objectContaining({ code: "LEASE_LOST", reason: "not_registered" }),
    );
    await expect(backend.locks.acquire("x")).rejects.toMatchObject({ reason: "not_registered" });
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PostgresBackend } from "../src/backend.js";
import { countRows, startProxiedReplica, stepKeys } from "./support/proxied-replica.js";
import { containsReadyForQuery, type TcpProxy } from "./support/tcp-proxy.js";
import { useTestDatabase } from "./support/test-database.js";

/**
 * Group commit: concurrent claims, settlements and audit records of one
 * replica go out as one multi-row statement. Each caller must still get its
 * own row's outcome, exactly, also when the batch's commit reply is lost.
 */
const db = useTestDatabase();
let proxy: TcpProxy;
let replica: PostgresBackend;
let other: PostgresBackend;

beforeAll(async () => {
  ({ proxy, replica } = await startProxiedReplica(db));
  other = db.backend({ sealer: { enabled: false } });
  await other.start();
});
afterAll(async () => {
  await replica.stop();
  await proxy.close();
});

const count = (sql: string, values: unknown[] = []) => countRows(db, sql, values);

/** The row count in the (first) `SELECT n` command tag of a reply. */
function answeredRows(reply: Buffer): number | undefined {
  const tag = /SELECT (\d+)\0/.exec(reply.toString("latin1"));
  return tag === null ? undefined : Number(tag[1]);
}

const freshKey = stepKeys();

/** Callers started in one tick share one batch: the first statement carries all of them. */
function claimAll(backend: PostgresBackend, claimKeys: string[]) {
  return Promise.all(
    claimKeys.map((key, index) =>
      backend.idempotency.claim({ key, target: `acme/app#${index}`, params: { index } }),
    ),
  );
}

describe("statements of concurrent steps share one commit", () => {
  it("gives each concurrent claim its own outcome: claimed, completed, held by another, or claimed again", async () => {
    const [completed, held, released, ...fresh] = Array.from({ length: 8 }, freshKey);
    const done = await replica.idempotency.claim({ key: completed!, target: "t", params: {} });
    if (done.status !== "claimed") throw new Error("not claimed");
    await replica.idempotency.settle({
      key: completed!,
      attemptId: done.attemptId,
      status: "completed",
      result: { n: 1 },
    });
    await other.idempotency.claim({ key: held!, target: "t", params: {} });
    const toRelease = await replica.idempotency.claim({ key: released!, target: "t", params: {} });
    if (toRelease.status !== "claimed") throw new Error("not claimed");
    await replica.idempotency.settle({
      key: released!,
      attemptId: toRelease.attemptId,
      status: "released",
      error: "sent nothing",
    });
    const batch = [completed!, held!, released!, ...fresh];
    const outcomes = await claimAll(replica, batch);
    expect(outcomes.map((outcome) => [outcome.key, outcome.status])).toEqual([
      [completed, "completed"],
      [held, "pending"],
      [released, "claimed"],
      ...fresh.map((key) => [key, "claimed"]),
    ]);
    const attempts = new Set(
      outcomes.flatMap((outcome) => (outcome.status === "claimed" ? [outcome.attemptId] : [])),
    );
    expect(attempts.size).toBe(1 + fresh.length);
    for (const outcome of outcomes) {
      if (outcome.status !== "claimed") continue;
      const entry = await replica.idempotency.check(outcome.key);
      expect(entry).toMatchObject({ attemptId: outcome.attemptId, fence: outcome.fence });
      expect(
        await count(
          "SELECT 1 FROM beauvoir.audit_records WHERE id = $1 AND attempt_id = $2 AND phase = 'intent'",
          [outcome.intentId, outcome.attemptId],
        ),
      ).toBe(1);
    }
    expect((await other.idempotency.check(held!))?.ownerId).toBe(other.instance.id);
  });

  it("settles each member of a batch by its own attempt: a stale attempt changes nothing", async () => {
    const batchKeys = Array.from({ length: 6 }, freshKey);
    const claims = await claimAll(replica, batchKeys);
    const settled = await Promise.all(
      claims.map((claim, index) => {
        if (claim.status !== "claimed") throw new Error("not claimed");
        return replica.idempotency.settle({
          key: claim.key,
          // The first member carries an attempt that is not the key's: it is fenced out.
          attemptId: index === 0 ? "00000000-0000-4000-8000-000000000000" : claim.attemptId,
          status: "completed",
          result: { index },
        });
      }),
    );
    expect(settled.map((outcome) => outcome.status)).toEqual([
      "superseded",
      ...batchKeys.slice(1).map(() => "settled"),
    ]);
    expect((await replica.idempotency.check(batchKeys[0]!))?.status).toBe("pending");
    for (const [index, key] of batchKeys.entries()) {
      if (index === 0) continue;
      expect(await replica.idempotency.check(key)).toMatchObject({
        status: "completed",
        result: { index },
      });
    }
    expect(
      await count(
        "SELECT 1 FROM beauvoir.audit_records WHERE dedupe_key = ANY ($1) AND phase = 'result'",
        [batchKeys],
      ),
    ).toBe(batchKeys.length - 1);
  });

  it("resolves every member exactly when the reply to a batch's commit is lost", async () => {
    const batchKeys = Array.from({ length: 5 }, freshKey);
    const lostClaims = proxy.dropReplyTo("fresh AS (");
    const claims = await claimAll(replica, batchKeys);
    expect(lostClaims.triggered).toBe(true);
    expect(containsReadyForQuery(lostClaims.bytes())).toBe(true);
    // One statement answered for all five: its reply carried every key's row.
    expect(answeredRows(lostClaims.bytes())).toBe(batchKeys.length);
    for (const key of batchKeys) expect(lostClaims.bytes().includes(key)).toBe(true);
    expect(claims.every((claim) => claim.status === "claimed")).toBe(true);
    expect(
      await count("SELECT 1 FROM beauvoir.audit_records WHERE dedupe_key = ANY ($1)", [batchKeys]),
    ).toBe(batchKeys.length);

    const lostSettlements = proxy.dropReplyTo("settled AS (");
    const settled = await Promise.all(
      claims.map((claim, index) => {
        if (claim.status !== "claimed") throw new Error("not claimed");
        return replica.idempotency.settle({
          key: claim.key,
          attemptId: claim.attemptId,
          status: "completed",
          result: { index },
        });
      }),
    );
    expect(lostSettlements.triggered).toBe(true);
    expect(containsReadyForQuery(lostSettlements.bytes())).toBe(true);
    expect(answeredRows(lostSettlements.bytes())).toBe(batchKeys.length);
    expect(settled.every((outcome) => outcome.status === "settled")).toBe(true);
    expect(
      await count(
        "SELECT 1 FROM beauvoir.audit_records WHERE dedupe_key = ANY ($1) AND phase = 'result'",
        [batchKeys],
      ),
    ).toBe(batchKeys.length);

    const lostRecords = proxy.dropReplyTo("ON CONFLICT (request_id) DO NOTHING");
    const ids = await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        replica.audit.recordIntent({ action: "batched_record", target: "t", params: { index } }),
      ),
    );
    expect(lostRecords.triggered).toBe(true);
    expect(answeredRows(lostRecords.bytes())).toBe(6);
    expect(new Set(ids).size).toBe(6);
    expect(
      await count("SELECT 1 FROM beauvoir.audit_records WHERE action = 'batched_record'"),
    ).toBe(6);
    expect(
      await count(
        "SELECT 1 FROM beauvoir.audit_records WHERE id = ANY ($1) AND action = 'batched_record'",
        [ids],
      ),
    ).toBe(6);
  });

  it("never sends a claim whose caller gave up while it was queued", async () => {
    proxy.latencyMs = 150;
    try {
      const [first, second, abandoned] = [freshKey(), freshKey(), freshKey()];
      const tick = () => new Promise((resolve) => setImmediate(resolve));
      // Two batches in flight (the most there are), slowed by the proxy: the next claim queues.
      const inFlight = [replica.idempotency.claim({ key: first, target: "t", params: {} })];
      await tick();
      inFlight.push(replica.idempotency.claim({ key: second, target: "t", params: {} }));
      await tick();
      const controller = new AbortController();
      const queued = replica.idempotency.claim({
        key: abandoned,
        target: "t",
        params: {},
        signal: controller.signal,
      });
      controller.abort(new Error("the caller gave up"));
      await expect(queued).rejects.toThrow("the caller gave up");
      const outcomes = await Promise.all(inFlight);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(["claimed", "claimed"]);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(await replica.idempotency.check(abandoned)).toBeNull();
    } finally {
      proxy.latencyMs = 0;
    }
  });
});

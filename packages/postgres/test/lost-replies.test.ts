import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyAuditFile } from "@beauvoir/audit-trail";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportAuditHistory } from "../src/audit-export.js";
import { AUDIT_SEALER_LOCK } from "../src/audit-sealer.js";
import type { PostgresBackend } from "../src/backend.js";
import { countRows, startProxiedReplica, stepKeys } from "./support/proxied-replica.js";
import { containsReadyForQuery, type DroppedReply, type TcpProxy } from "./support/tcp-proxy.js";
import { useTestDatabase } from "./support/test-database.js";

/**
 * The reply to a statement (for a single statement, the reply to its commit)
 * is lost after the server committed: the client only sees a timeout. Every
 * operation must resend and read its own outcome back, ending exactly as if
 * the reply had arrived: nothing twice, nothing lost.
 */
const db = useTestDatabase();
let proxy: TcpProxy;
let replica: PostgresBackend;
let directory: string;

beforeAll(async () => {
  ({ proxy, replica } = await startProxiedReplica(db));
  directory = await mkdtemp(join(tmpdir(), "beauvoir-pg-lost-"));
});
afterAll(async () => {
  await replica.stop();
  await proxy.close();
  await rm(directory, { recursive: true, force: true });
});

/** The reply was lost after the server had finished (and committed) the statement. */
function expectLostAfterCommit(dropped: DroppedReply): void {
  expect(dropped.triggered).toBe(true);
  expect(containsReadyForQuery(dropped.bytes())).toBe(true);
}

const count = (sql: string, values: unknown[] = []) => countRows(db, sql, values);

const freshKey = stepKeys();

describe("a lost reply to a committed statement is resolved exactly", () => {
  it("claim: one intent, the key held by this attempt", async () => {
    const key = freshKey();
    const dropped = proxy.dropReplyTo("fresh AS (");
    const claim = await replica.idempotency.claim({
      key,
      target: "acme/app#1",
      params: { body: "x" },
    });
    expectLostAfterCommit(dropped);
    expect(claim.status).toBe("claimed");
    if (claim.status !== "claimed") return;
    expect(await count("SELECT 1 FROM beauvoir.audit_records WHERE dedupe_key = $1", [key])).toBe(
      1,
    );
    expect((await replica.idempotency.check(key))?.attemptId).toBe(claim.attemptId);
  });

  it("settle: one result, the key completed", async () => {
    const key = freshKey();
    const claim = await replica.idempotency.claim({ key, target: "t", params: {} });
    if (claim.status !== "claimed") throw new Error("not claimed");
    const dropped = proxy.dropReplyTo("settled AS (");
    const settled = await replica.idempotency.settle({
      key,
      attemptId: claim.attemptId,
      status: "completed",
      result: { commentId: 1 },
    });
    expectLostAfterCommit(dropped);
    expect(settled).toMatchObject({ status: "settled", entry: { status: "completed" } });
    expect(
      await count("SELECT 1 FROM beauvoir.audit_records WHERE intent_id = $1", [claim.intentId]),
    ).toBe(1);
  });

  it("takeover: the keys it took are handed out, not stranded", async () => {
    const other = db.backend({ sealer: { enabled: false } });
    await other.start();
    const taken = [freshKey(), freshKey()];
    for (const key of taken) await other.idempotency.claim({ key, target: "t", params: {} });
    await other.stop();
    const dropped = proxy.dropReplyTo("victims AS (");
    const result = await replica.idempotency.takeOver({ keys: taken });
    expectLostAfterCommit(dropped);
    expect(result.map((item) => item.entry.key)).toEqual([...taken].sort());
    expect(result.every((item) => item.entry.ownerId === replica.instance.id)).toBe(true);
  });

  it("audit intent and result: each recorded once", async () => {
    const lostIntent = proxy.dropReplyTo("ON CONFLICT (request_id) DO NOTHING");
    const intent = await replica.audit.recordIntent({
      action: "lost_reply",
      target: "t",
      params: {},
    });
    expectLostAfterCommit(lostIntent);
    const lostResult = proxy.dropReplyTo("i.id = $3 AND i.phase = 'intent'");
    await replica.audit.recordResult(intent, { ok: true });
    expectLostAfterCommit(lostResult);
    expect(await count("SELECT 1 FROM beauvoir.audit_records WHERE action = 'lost_reply'")).toBe(2);
  });

  it("lock acquire: one grant, whose fence the handle carries", async () => {
    const dropped = proxy.dropReplyTo("granted AS (");
    const lock = await replica.locks.acquire("lost-reply-lock");
    expectLostAfterCommit(dropped);
    const { rows } = await db.admin.query(
      "SELECT fence::int, holder_id FROM beauvoir.locks WHERE name = 'lost-reply-lock'",
    );
    expect(rows).toEqual([{ fence: lock.fence, holder_id: lock.holderId }]);
    const lostRenewal = proxy.dropReplyTo("SET expires_at = now() + $4");
    await lock.renew();
    expectLostAfterCommit(lostRenewal);
    expect(lock.held).toBe(true);
    await lock.release();
  });

  it("store write: the epoch moves by exactly one, and no false conflict", async () => {
    const store = replica.stores.create<{ n: number }>("lost-reply-store");
    const lostInsert = proxy.dropReplyTo("ON CONFLICT (name) DO NOTHING");
    expect(await store.set({ n: 1 })).toBe(1);
    expectLostAfterCommit(lostInsert);
    const lostUpdate = proxy.dropReplyTo("write_epoch = d.write_epoch + 1");
    expect(await store.set({ n: 2 })).toBe(2);
    expectLostAfterCommit(lostUpdate);
    expect(await replica.stores.create("lost-reply-store").read()).toEqual({
      value: { n: 2 },
      writeEpoch: 2,
    });
  });

  it("operator reset: done once, recorded once", async () => {
    const key = freshKey();
    await replica.idempotency.claim({ key, target: "t", params: {} });
    const dropped = proxy.dropReplyTo("operator_intent AS (");
    const outcome = await replica.idempotency.resetKey(key, { reason: "lost reply" });
    expectLostAfterCommit(dropped);
    expect(outcome).toMatchObject({ changed: true, entry: { status: "released" } });
    expect(
      await count(
        "SELECT 1 FROM beauvoir.audit_records WHERE action = 'beauvoir.reset_key' AND target = $1",
        [key],
      ),
    ).toBe(2);
  });

  it("rate-limit block: recorded, and as long as asked", async () => {
    const limiter = replica.createRateLimiter({ scope: "lost-reply" });
    const dropped = proxy.dropReplyTo("rate_blocks AS b");
    await limiter.recordRateLimit("w", "secondary", 60);
    expectLostAfterCommit(dropped);
    expect(await limiter.exportBlocks()).toHaveLength(1);
  });

  it("the sealer's COMMIT: every record sealed once, the chain gap-free", async () => {
    for (let index = 0; index < 5; index++) {
      await replica.audit.recordDryRun({ action: "seal", target: "t", params: { index } });
    }
    const lock = await replica.locks.acquire(AUDIT_SEALER_LOCK, { waitMs: 10_000 });
    const dropped = proxy.dropReplyTo("COMMIT");
    await replica.sealer.sealBatch(lock);
    expectLostAfterCommit(dropped);
    await lock.release();
    await replica.sealer.sealPending();
    const { rows } = await db.admin.query(
      "SELECT count(*)::int AS n, count(seq)::int AS sealed, max(seq)::int AS high FROM beauvoir.audit_records",
    );
    expect(rows[0].sealed).toBe(rows[0].n);
    expect(rows[0].high).toBe(rows[0].n);
    const path = join(directory, "after-lost-commit.jsonl");
    await exportAuditHistory({ pool: db.admin, path });
    expect(await verifyAuditFile(path)).toMatchObject({ valid: true, records: rows[0].n });
  });
});

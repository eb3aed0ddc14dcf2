import { generateIdempotencyKey } from "@beauvoir/idempotency";
import { SecretRedactor } from "@beauvoir/redactor";
import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../test/support/test-database.js";
import type { PostgresBackendOptions } from "./backend.js";
import type { ClaimOutcome } from "./idempotency-index.js";
import { createKeyGenerator } from "./idempotency-key.js";

const db = useTestDatabase();
const TOKEN = "ghp_0123456789abcdefghijklmnopqrstuvwxyz01";

async function replica(options: Partial<PostgresBackendOptions> = {}) {
  const backend = db.backend({ sealer: { enabled: false }, ...options });
  await backend.start();
  return backend;
}

let counter = 0;
function freshKey(action = "add_issue_comment"): string {
  counter++;
  return `${action}:acme/app/issue-${counter}:${counter.toString(16).padStart(16, "0")}`;
}

function claimed(outcome: ClaimOutcome) {
  if (outcome.status !== "claimed") throw new Error(`expected a claim, got ${outcome.status}`);
  return outcome;
}

async function auditRows(key: string) {
  const { rows } = await db.admin.query(
    `SELECT id::int, phase, intent_id::int, params, result, error, attempt_id, action, target
       FROM beauvoir.audit_records WHERE dedupe_key = $1 ORDER BY id`,
    [key],
  );
  return rows;
}

describe("claim and settle: the two statements of a durable step", () => {
  it("claims a key and records its intent in one statement", async () => {
    const a = await replica();
    const key = freshKey();
    const claim = claimed(
      await a.idempotency.claim({
        key,
        target: "acme/app#12",
        params: { body: "hello", token: TOKEN },
        runId: "run-1",
      }),
    );
    expect(claim.entry).toMatchObject({
      status: "pending",
      action: "add_issue_comment",
      strategy: "check_then_retry",
      ownerId: a.instance.id,
      ownerLive: true,
      attemptId: claim.attemptId,
      attempts: 1,
      runId: "run-1",
    });
    const rows = await auditRows(key);
    expect(rows).toEqual([
      expect.objectContaining({
        id: claim.intentId,
        phase: "intent",
        attempt_id: claim.attemptId,
        action: "add_issue_comment",
        target: "acme/app#12",
      }),
    ]);
    expect(rows[0].params).not.toContain(TOKEN);
    expect(JSON.parse(rows[0].params).body).toBe("hello");
  });

  it("settles with the result and deduplicates later claims, from any replica", async () => {
    const [a, b] = [await replica(), await replica()];
    const key = freshKey();
    const claim = claimed(await a.idempotency.claim({ key, target: "t", params: {} }));
    const settled = await a.idempotency.settle({
      key,
      attemptId: claim.attemptId,
      status: "completed",
      result: { commentId: 991 },
    });
    expect(settled).toMatchObject({ status: "settled", entry: { status: "completed" } });
    const again = await b.idempotency.claim({ key, target: "t", params: {} });
    expect(again).toMatchObject({ status: "completed", entry: { result: { commentId: 991 } } });
    const rows = await auditRows(key);
    expect(rows.map((row) => row.phase)).toEqual(["intent", "result"]);
    expect(rows[1]).toMatchObject({ intent_id: claim.intentId, result: '{"commentId":991}' });
    if (settled.status === "settled") expect(settled.resultRecordId).toBe(rows[1].id);
  });

  it("lets only one of many concurrent claims of a key win", async () => {
    const replicas = [await replica(), await replica(), await replica()];
    const key = freshKey();
    const outcomes = await Promise.all(
      Array.from({ length: 24 }, (_, index) =>
        replicas[index % 3]!.idempotency.claim({ key, target: "t", params: { index } }),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.status === "claimed")).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.status === "pending")).toHaveLength(23);
    expect((await auditRows(key)).filter((row) => row.phase === "intent")).toHaveLength(1);
  });

  it("answers a resent claim or settle (same attempt id) with its first outcome", async () => {
    const a = await replica();
    const key = freshKey();
    const attemptId = crypto.randomUUID();
    const first = claimed(await a.idempotency.claim({ key, attemptId, target: "t", params: {} }));
    const resent = claimed(await a.idempotency.claim({ key, attemptId, target: "t", params: {} }));
    expect(resent.intentId).toBe(first.intentId);
    expect(resent.fence).toBe(first.fence);
    const input = { key, attemptId, status: "completed" as const, result: 1 };
    expect((await a.idempotency.settle(input)).status).toBe("settled");
    expect(await a.idempotency.settle(input)).toMatchObject({
      status: "settled",
      entry: { result: 1 },
    });
    expect((await auditRows(key)).map((row) => row.phase)).toEqual(["intent", "result"]);
  });

  it("changes nothing for an attempt that is not the key's", async () => {
    const a = await replica();
    const key = freshKey();
    const claim = claimed(await a.idempotency.claim({ key, target: "t", params: {} }));
    const stale = await a.idempotency.settle({
      key,
      attemptId: crypto.randomUUID(),
      status: "completed",
      result: "not mine",
    });
    expect(stale).toMatchObject({ status: "superseded", entry: { status: "pending" } });
    expect(
      await a.idempotency.settle({ key: freshKey(), attemptId: claim.attemptId, status: "failed" }),
    ).toEqual({ status: "superseded", entry: null });
    expect((await auditRows(key)).map((row) => row.phase)).toEqual(["intent"]);
    expect((await a.idempotency.check(key))?.status).toBe("pending");
  });

  it("keeps a failure terminal, and lets a released key be claimed again with a higher fence", async () => {
    const a = await replica();
    const failedKey = freshKey();
    const failing = claimed(await a.idempotency.claim({ key: failedKey, target: "t", params: {} }));
    await a.idempotency.settle({
      key: failedKey,
      attemptId: failing.attemptId,
      status: "failed",
      error: new Error(`422 with ${TOKEN}`),
    });
    const terminal = await a.idempotency.claim({ key: failedKey, target: "t", params: {} });
    expect(terminal.status).toBe("failed");
    expect(terminal.entry.error).toMatch(/^Error: 422 with /);
    expect(terminal.entry.error).not.toContain(TOKEN);

    const releasedKey = freshKey();
    const notSent = claimed(
      await a.idempotency.claim({ key: releasedKey, target: "t", params: {} }),
    );
    await a.idempotency.settle({
      key: releasedKey,
      attemptId: notSent.attemptId,
      status: "released",
      error: "connection refused before sending",
    });
    const retried = claimed(
      await a.idempotency.claim({ key: releasedKey, target: "t", params: {} }),
    );
    expect(retried.fence).toBeGreaterThan(notSent.fence);
    expect(retried.intentId).not.toBe(notSent.intentId);
    expect(retried.entry.attempts).toBe(2);
    const phases = (await auditRows(releasedKey)).map((row) => [row.phase, row.intent_id]);
    expect(phases).toEqual([
      ["intent", null],
      ["result", notSent.intentId],
      ["intent", null],
    ]);
  });

  it("deduplicates only within the ttl", async () => {
    const a = await replica({ idempotency: { ttlMs: 150 } });
    const key = freshKey();
    const first = claimed(await a.idempotency.claim({ key, target: "t", params: {} }));
    await a.idempotency.settle({ key, attemptId: first.attemptId, status: "completed" });
    expect((await a.idempotency.claim({ key, target: "t", params: {} })).status).toBe("completed");
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await a.idempotency.claim({ key, target: "t", params: {} })).status).toBe("claimed");
  });

  it("still completes a key whose result JSON cannot represent", async () => {
    const a = await replica({ redactor: { redact: (text) => text, redactAny: (value) => value } });
    const key = freshKey();
    const claim = claimed(await a.idempotency.claim({ key, target: "t", params: {} }));
    const outcome = await a.idempotency.settle({
      key,
      attemptId: claim.attemptId,
      status: "completed",
      result: { id: 10n, seen: new Set(["a"]) },
    });
    expect(outcome).toMatchObject({ status: "settled", entry: { status: "completed" } });
    // The index's JSON-safe form, the same as the file backend stores.
    expect(outcome.entry?.result).toEqual({ id: "10", seen: ["a"] });
  });
});

describe("takeover", () => {
  it("takes over, in bulk, the pending keys of a replica that stopped, with new attempts and fences", async () => {
    const [a, b] = [await replica(), await replica()];
    const keys = [freshKey(), freshKey(), freshKey()];
    const claims = [];
    for (const key of keys) {
      claims.push(claimed(await a.idempotency.claim({ key, target: `t-${key}`, params: { key } })));
    }
    expect(await b.idempotency.takeOver()).toEqual([]); // its owner is alive
    await a.stop();
    const taken = await b.idempotency.takeOver();
    expect(taken.map((item) => item.entry.key)).toEqual([...keys].sort());
    for (const item of taken) {
      const before = claims.find((claim) => claim.key === item.entry.key)!;
      expect(item.entry.ownerId).toBe(b.instance.id);
      expect(item.entry.attemptId).not.toBe(before.attemptId);
      expect(item.entry.fence).toBeGreaterThan(before.fence);
      expect(item.entry.intentId).toBe(before.intentId);
      expect(item.previousAttemptId).toBe(before.attemptId);
      expect(item.previousOwnerId).toBe(a.instance.id);
      expect(item.target).toBe(`t-${item.entry.key}`);
      expect(item.params).toEqual({ key: item.entry.key });
    }
    // The old owner's result changes nothing; the new owner's settles the intent once.
    const stale = await a.idempotency.settle({
      key: keys[0]!,
      attemptId: claims[0]!.attemptId,
      status: "completed",
    });
    expect(stale.status).toBe("superseded");
    const fresh = await b.idempotency.settle({
      key: keys[0]!,
      attemptId: taken.find((item) => item.entry.key === keys[0])!.entry.attemptId,
      status: "completed",
      result: "done by b",
    });
    expect(fresh.status).toBe("settled");
    const rows = await auditRows(keys[0]!);
    expect(rows.filter((row) => row.phase === "result")).toEqual([
      expect.objectContaining({ intent_id: claims[0]!.intentId, result: '"done by b"' }),
    ]);
    expect(await b.idempotency.takeOver()).toEqual([]);
  });

  it("takes over the keys of an expired lease only, and only what it is asked for", async () => {
    const [a, b] = [await replica(), await replica()];
    const [first, second] = [freshKey(), freshKey()];
    await a.idempotency.claim({ key: first, target: "t", params: {} });
    await a.idempotency.claim({ key: second, target: "t", params: {} });
    await db.admin.query(
      "UPDATE beauvoir.instances SET lease_expires_at = now() - interval '10 seconds' WHERE id = $1",
      [a.instance.id],
    );
    expect(await b.idempotency.takeOver({ graceMs: 60_000 })).toEqual([]);
    const one = await b.idempotency.takeOver({ keys: [second] });
    expect(one.map((item) => item.entry.key)).toEqual([second]);
    const limited = await b.idempotency.takeOver({ limit: 1 });
    expect(limited.map((item) => item.entry.key)).toEqual([first]);
    expect((await b.idempotency.listPending({ ownerId: b.instance.id })).map((e) => e.key)).toEqual(
      [first, second].sort(),
    );
    await expect(b.idempotency.takeOver({ limit: 0 })).rejects.toThrow(/limit/);
    await expect(b.idempotency.takeOver({ graceMs: -1 })).rejects.toThrow(/graceMs/);
  });

  it("refuses to take over without a live lease of its own", async () => {
    const a = await replica();
    await a.stop();
    await expect(a.idempotency.takeOver()).rejects.toMatchObject({ code: "LEASE_LOST" });
  });
});

describe("operators", () => {
  it("reset makes a completed key runnable again and records why", async () => {
    const a = await replica();
    const key = freshKey();
    const claim = claimed(await a.idempotency.claim({ key, target: "t", params: {} }));
    await a.idempotency.settle({ key, attemptId: claim.attemptId, status: "completed" });
    const reset = await a.idempotency.resetKey(key, { reason: "comment was deleted" });
    expect(reset).toMatchObject({
      changed: true,
      previousStatus: "completed",
      entry: { status: "released" },
    });
    expect((await a.idempotency.claim({ key, target: "t", params: {} })).status).toBe("claimed");
    const operator = await auditRows(key);
    expect(operator.filter((row) => row.action === "beauvoir.reset_key")).toEqual([
      expect.objectContaining({ phase: "intent", params: '{"reason":"comment was deleted"}' }),
      expect.objectContaining({ phase: "result", result: '{"status":"released"}' }),
    ]);
  });

  it("reset of a pending key closes its intent and fences out the running attempt", async () => {
    const a = await replica();
    const key = freshKey();
    const claim = claimed(await a.idempotency.claim({ key, target: "t", params: {} }));
    await a.idempotency.resetKey(key);
    expect(
      (await a.idempotency.settle({ key, attemptId: claim.attemptId, status: "completed" })).status,
    ).toBe("superseded");
    const closing = (await auditRows(key)).filter((row) => row.intent_id === claim.intentId);
    expect(closing).toEqual([
      expect.objectContaining({
        phase: "result",
        error: expect.stringMatching(/^reset by an operator/),
      }),
    ]);
    expect(await a.idempotency.resetKey(freshKey())).toEqual({ changed: false, entry: null });
  });

  it("resolve settles a pending key as done or not done, and leaves settled keys alone", async () => {
    const a = await replica();
    const [doneKey, notDoneKey] = [freshKey(), freshKey()];
    const done = claimed(await a.idempotency.claim({ key: doneKey, target: "t", params: {} }));
    claimed(await a.idempotency.claim({ key: notDoneKey, target: "t", params: {} }));
    expect(
      await a.idempotency.resolveKey(doneKey, "done", {
        result: { commentId: 5 },
        reason: "seen on GitHub",
      }),
    ).toMatchObject({
      changed: true,
      previousStatus: "pending",
      entry: { status: "completed", result: { commentId: 5 } },
    });
    expect(await a.idempotency.resolveKey(notDoneKey, "not_done")).toMatchObject({
      changed: true,
      entry: { status: "released" },
    });
    expect(await a.idempotency.resolveKey(doneKey, "not_done")).toMatchObject({
      changed: false,
      entry: { status: "completed" },
    });
    const intentResult = (await auditRows(doneKey)).find((row) => row.intent_id === done.intentId);
    expect(intentResult).toMatchObject({ phase: "result", result: '{"commentId":5}', error: null });
    await expect(a.idempotency.resolveKey(doneKey, "maybe" as never)).rejects.toThrow(TypeError);
  });
});

describe("keys", () => {
  it("puts no secret in a key, yet keys calls that differ only in a secret apart", () => {
    const generate = createKeyGenerator(new SecretRedactor());
    const one = generate("add_labels", `acme/${TOKEN}`, "issue-1", { labels: ["bug"] });
    const two = generate("add_labels", `acme/${TOKEN.replace("01", "02")}`, "issue-1", {
      labels: ["bug"],
    });
    expect(one).not.toContain(TOKEN);
    expect(one).toMatch(/^add_labels:acme\/.+\/issue-1:[0-9a-f]{16}$/);
    expect(one).not.toBe(two);
    expect(generate("a", "s", "r", { b: 1, a: 2 })).toBe(generate("a", "s", "r", { a: 2, b: 1 }));
    expect(() => generate("a:b", "s", "r", {})).toThrow(TypeError);
    expect(() => generate("a", 1 as never, "r", {})).toThrow(TypeError);
    expect(() => generate("a", "s", 1 as never, {})).toThrow(TypeError);
    expect(() => generate("a", "s", "r", { n: 1n })).toThrow(TypeError);
    expect(generate("add_labels", "acme/widgets", "issue-12", { labels: ["bug"] })).toBe(
      generateIdempotencyKey("add_labels", "acme/widgets", "issue-12", { labels: ["bug"] }),
    );
  });

  it("uses the caller's key rule and compensation table", async () => {
    const a = await replica({
      idempotency: {
        generateKey: (action, scope, resource) => `${action}:${scope}/${resource}:custom`,
        compensation: { add_issue_comment: "skip", deploy: "safe_retry" },
      },
    });
    expect(a.idempotency.generateKey("deploy", "s", "r", {})).toBe("deploy:s/r:custom");
    expect(a.idempotency.getStrategy("deploy")).toBe("safe_retry");
    expect(a.idempotency.getStrategy("add_issue_comment")).toBe("skip");
    expect(a.idempotency.getStrategy("create_branch")).toBe("safe_retry");
    expect(a.idempotency.getStrategy("unknown")).toBe("skip");
    expect(await a.idempotency.check("deploy:s/r:custom")).toBeNull();
  });

  it("refuses bad input before writing anything", async () => {
    const a = await replica();
    await expect(a.idempotency.claim({ key: "", target: "t", params: {} })).rejects.toThrow(
      TypeError,
    );
    await expect(
      a.idempotency.claim({ key: freshKey(), target: "t", params: [] as never }),
    ).rejects.toMatchObject({ code: "AUDIT_INVALID_ENTRY" });
    await expect(
      a.idempotency.claim({ key: freshKey(), strategy: "yolo" as never, target: "t", params: {} }),
    ).rejects.toThrow(TypeError);
    await expect(
      a.idempotency.settle({ key: "k", attemptId: crypto.randomUUID(), status: "done" as never }),
    ).rejects.toThrow(TypeError);
    expect(() => db.backend({ idempotency: { ttlMs: -1 } })).toThrow(/ttlMs/);
    expect(() => db.backend({ idempotency: { generateKey: 1 as never } })).toThrow(/generateKey/);
  });
});

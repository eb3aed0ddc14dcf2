import { CircuitBreakerGroup } from "@beauvoir/breaker";
import { ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { octokitError } from "../test/executor-harness.js";
import { CountingRateLimiter, MemoryAuditTrail, MemoryIdempotencyIndex } from "../test/fakes.js";
import type { DurablePoint } from "./executor-context.js";
import { DurableStepExecutor, type StepExecutorOptions } from "./step-executor.js";
import type { StepRequest } from "./step-request.js";

function setup(options: Partial<StepExecutorOptions> = {}) {
  const audit = new MemoryAuditTrail();
  const index = new MemoryIdempotencyIndex(audit);
  const clock = new ManualClock(1_000_000);
  audit.now = () => clock.now();
  const breakers = new CircuitBreakerGroup({
    clock,
    failureThreshold: 2,
    openDurationMs: 60_000,
  });
  const breaker = breakers.get("add_issue_comment");
  const limiter = new CountingRateLimiter();
  const points: DurablePoint[] = [];
  const executor = new DurableStepExecutor({
    auditTrail: audit,
    idempotencyIndex: index,
    circuitBreakers: breakers,
    rateLimiter: limiter,
    clock,
    onDurablePoint: ({ point }) => {
      points.push(point);
    },
    ...options,
  });
  return { audit, index, clock, breaker, breakers, limiter, points, executor };
}

function comment(
  run: StepRequest<unknown>["run"],
  extra: Partial<StepRequest<unknown>> = {},
): StepRequest<unknown> {
  return {
    action: "add_issue_comment",
    scope: "acme/widgets",
    resource: "issue-12",
    params: { body: "Thanks!" },
    run,
    ...extra,
  };
}

describe("DurableStepExecutor: the five durable steps", () => {
  it("records intent, marks pending, runs, records result, marks completed, in that order", async () => {
    const { audit, index, points, executor } = setup();
    const seen: unknown[] = [];
    const outcome = await executor.execute(
      comment(async ({ signal, idempotencyKey }) => {
        seen.push(
          signal instanceof AbortSignal,
          idempotencyKey,
          index.entries.get(idempotencyKey)?.status,
        );
        return { id: 7 };
      }),
    );
    expect(points).toEqual(["intent", "pending", "execute", "result", "completed"]);
    expect(outcome.status).toBe("executed");
    expect(outcome.result).toEqual({ id: 7 });
    expect(outcome.idempotencyKey).toMatch(
      /^add_issue_comment:acme\/widgets\/issue-12:[0-9a-f]{16}$/,
    );
    // The side effect ran with the key already pending: a crash now is reconciled, not forgotten.
    expect(seen).toEqual([true, outcome.idempotencyKey, "pending"]);
    expect(audit.records.map((record) => record.phase)).toEqual(["intent", "result"]);
    expect(audit.records[0]?.dedupeKey).toBe(outcome.idempotencyKey);
    expect(audit.records[1]).toMatchObject({ intentSeq: 1, result: { id: 7 } });
    expect(index.entries.get(outcome.idempotencyKey)).toMatchObject({
      status: "completed",
      intentSeq: 1,
    });
  });

  it("skips a completed step and returns the first result", async () => {
    const { audit, executor } = setup();
    let calls = 0;
    const run = async () => ({ call: ++calls });
    await executor.execute(comment(run));
    const again = await executor.execute(comment(run));
    expect(again).toMatchObject({ status: "deduplicated", result: { call: 1 } });
    expect(calls).toBe(1);
    expect(audit.records).toHaveLength(2);
  });

  it("falls back to the audit trail for the result of an entry promoted without one", async () => {
    const { audit, index, executor } = setup();
    const key = index.generateKey("add_issue_comment", "acme/widgets", "issue-12", {
      body: "Thanks!",
    });
    const seq = await audit.recordIntent({ action: "add_issue_comment", target: "t", params: {} });
    await audit.recordResult(seq, { id: 99 });
    index.entries.set(key, { key, status: "completed", intentSeq: seq });
    const outcome = await executor.execute(comment(async () => ({ id: 1 })));
    expect(outcome).toMatchObject({ status: "deduplicated", result: { id: 99 } });
    index.entries.set(key, { key, status: "completed" });
    expect((await executor.execute(comment(async () => 1))).result).toBeUndefined();
  });

  it("runs one side effect for concurrent calls with the same key", async () => {
    const { executor } = setup();
    let calls = 0;
    const run = async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return "done";
    };
    const [first, second] = await Promise.all([
      executor.execute(comment(run)),
      executor.execute(comment(run)),
    ]);
    expect(calls).toBe(1);
    expect([first.status, second.status].sort()).toEqual(["deduplicated", "executed"]);
    expect(second.result).toBe("done");
  });

  it("records no result for a side effect that returns nothing", async () => {
    const { audit, executor } = setup();
    await executor.execute(comment(async () => undefined));
    expect(audit.records[1]).not.toHaveProperty("result");
    expect(audit.records[1]?.error).toBeUndefined();
  });
});

describe("DurableStepExecutor: error path", () => {
  it("records a rejection, marks the key failed and rethrows; the step is never retried", async () => {
    const { audit, index, executor } = setup();
    const boom = Object.assign(new Error("Validation Failed"), { status: 422, headers: {} });
    let calls = 0;
    const run = async () => {
      calls++;
      throw boom;
    };
    const failure = await executor.execute(comment(run)).catch((error: unknown) => error);
    expect(failure).toBe(boom);
    expect(executor.isTerminalFailure(failure)).toBe(true);
    const recorded = "REJECTED: attempt 1 of 3 rejected: HTTP 422: Validation Failed";
    expect(audit.records[1]).toMatchObject({ phase: "result", intentSeq: 1, error: recorded });
    const key = audit.records[0]?.dedupeKey as string;
    expect(index.entries.get(key)).toMatchObject({ status: "failed", error: recorded });
    const again = await executor.execute(comment(run)).catch((error: unknown) => error);
    expect(again).toMatchObject({
      code: "STEP_FAILED",
      previousError: recorded,
      idempotencyKey: key,
    });
    expect(executor.isTerminalFailure(again)).toBe(true);
    expect(calls).toBe(1);
  });

  it("rethrows a thrown non-error unchanged; executeSettled tells that it is terminal", async () => {
    const { audit, executor } = setup();
    const failure = await executor
      .execute(comment(() => Promise.reject("plain string")))
      .catch((error) => error);
    expect(failure).toBe("plain string");
    expect(audit.records[1]?.error).toBe("OUTCOME_UNKNOWN: attempt 1 of 3 ambiguous: plain string");
    expect(executor.isTerminalFailure("plain string")).toBe(false);
    expect(executor.isTerminalFailure(new Error("other"))).toBe(false);
    const settled = await executor.executeSettled(
      comment(() => Promise.reject("again"), { resource: "issue-13" }),
    );
    expect(settled).toEqual({ ok: false, error: "again", terminal: true });
    const refused = await executor.executeSettled(comment(async () => 1));
    expect(refused).toMatchObject({ ok: false, terminal: true, error: { code: "STEP_FAILED" } });
    // Two failures opened this action's breaker (threshold 2); another breaker is untouched.
    const fine = await executor.executeSettled(
      comment(async () => 1, { resource: "issue-14", breakerKey: "elsewhere" }),
    );
    expect(fine).toMatchObject({ ok: true, outcome: { status: "executed", result: 1 } });
  });

  it("fails the step when the breaker's timeout runs out and nothing can check it", async () => {
    const { index, executor } = setup({
      clock: undefined,
      circuitBreakers: new CircuitBreakerGroup(),
    });
    const failure = await executor
      .execute(
        comment(
          ({ signal }) =>
            new Promise((_, reject) =>
              signal.addEventListener("abort", () => reject(signal.reason)),
            ),
          { timeoutMs: 20 },
        ),
      )
      .catch((error) => error);
    expect(failure).toMatchObject({ code: "CIRCUIT_TIMEOUT" });
    expect([...index.entries.values()][0]?.status).toBe("failed");
  });

  it("leaves nothing half-done when the intent cannot be recorded", async () => {
    const { audit, index, executor } = setup();
    audit.failNext = { phase: "intent", error: new Error("ENOSPC") };
    let calls = 0;
    await expect(executor.execute(comment(async () => ++calls))).rejects.toThrow("ENOSPC");
    expect(calls).toBe(0);
    expect(index.entries.size).toBe(0);
    expect(executor.isTerminalFailure(new Error("ENOSPC"))).toBe(false);
    await executor.execute(comment(async () => ++calls));
    expect(calls).toBe(1);
  });
});

describe("DurableStepExecutor: gates", () => {
  it("refuses writes in degraded mode and runs reads", async () => {
    const { audit, executor } = setup({ mode: "degraded", failedSubsystems: ["idempotencyIndex"] });
    const refused = await executor.execute(comment(async () => 1)).catch((error) => error);
    expect(refused).toMatchObject({ code: "DEGRADED_MODE", action: "add_issue_comment" });
    expect((refused as Error).message).toContain("idempotencyIndex");
    const read = await executor.execute(
      comment(async ({ idempotencyKey }) => `read:${idempotencyKey}`, { kind: "read" }),
    );
    expect(read).toEqual({ status: "read", idempotencyKey: "", result: "read:", attempts: 1 });
    expect(audit.records).toHaveLength(0);
    expect(executor.mode).toBe("degraded");
  });

  it("refuses with RATE_LIMITED when the bucket is empty, before recording anything", async () => {
    const { audit, limiter, executor } = setup();
    limiter.budget = 1;
    await executor.execute(comment(async () => 1, { workflowId: "triage" }));
    const refused = await executor
      .execute(comment(async () => 2, { resource: "issue-13" }))
      .catch((error) => error);
    expect(refused).toMatchObject({ code: "RATE_LIMITED", retryAfterMs: 1234 });
    expect(limiter.consumed).toEqual(["triage"]);
    expect(audit.records).toHaveLength(2);
    await expect(executor.execute(comment(async () => 3, { kind: "read" }))).rejects.toMatchObject({
      code: "RATE_LIMITED",
    });
  });

  it("refuses with CIRCUIT_OPEN before recording anything, and runs again once the circuit half-opens", async () => {
    const { audit, clock, breaker, executor } = setup();
    breaker.recordFailure("transient");
    breaker.recordFailure("transient");
    expect(breaker.getState()).toBe("OPEN");
    let calls = 0;
    const refused = await executor.execute(comment(async () => ++calls)).catch((error) => error);
    expect(refused).toMatchObject({ code: "CIRCUIT_OPEN", retryAt: 1_000_000 + 60_000 });
    expect(audit.records).toHaveLength(0);
    expect(executor.isTerminalFailure(refused)).toBe(false);
    clock.advance(60_000);
    expect((await executor.execute(comment(async () => ++calls))).status).toBe("executed");
    expect(calls).toBe(1);
  });

  it("feeds side-effect failures to the breaker with the step's classification", async () => {
    const { breaker, executor } = setup();
    const fail = (resource: string, classify?: StepRequest<unknown>["classify"]) =>
      executor
        .execute(
          comment(() => Promise.reject(new Error("404")), {
            resource,
            ...(classify ? { classify } : {}),
          }),
        )
        .catch(() => undefined);
    await fail("a", () => "expected");
    await fail("b", () => "expected");
    expect(breaker.getState()).toBe("CLOSED");
    await fail("c");
    await fail("d");
    expect(breaker.getState()).toBe("OPEN");
  });

  it("classifies GitHub HTTP failures by default: 404 does not count, 503 does", async () => {
    const { breaker, executor } = setup();
    const httpError = (status: number) =>
      Object.assign(new Error(`HTTP ${status}`), { status, headers: {} });
    for (const resource of ["a", "b", "c"]) {
      await executor
        .execute(comment(() => Promise.reject(httpError(404)), { resource }))
        .catch(() => undefined);
    }
    expect(breaker.getState()).toBe("CLOSED");
    for (const resource of ["d", "e"]) {
      await executor
        .execute(comment(() => Promise.reject(httpError(503)), { resource }))
        .catch(() => undefined);
    }
    expect(breaker.getState()).toBe("OPEN");
  });

  it("keeps a step runnable when the breaker refuses it after the intent was recorded", async () => {
    const { audit, index, breaker, clock, executor } = setup({
      onDurablePoint: ({ point }) => {
        // Another caller's failures open the circuit while this step records its intent.
        if (point === "pending" && breaker.getState() === "CLOSED") {
          breaker.recordFailure("transient");
          breaker.recordFailure("transient");
        }
      },
    });
    let calls = 0;
    await expect(executor.execute(comment(async () => ++calls))).rejects.toMatchObject({
      code: "CIRCUIT_OPEN",
    });
    expect(calls).toBe(0);
    const key = audit.records[0]?.dedupeKey as string;
    // Nothing was sent: the key is runnable again, and the intent says why it ended.
    expect(index.entries.has(key)).toBe(false);
    expect(audit.findResultByIntentSeq(1)?.error).toMatch(
      /^NOT_SENT: the side effect did not start: CIRCUIT_OPEN/,
    );
    clock.advance(60_000);
    const outcome = await executor.execute(comment(async () => ++calls));
    expect(outcome.status).toBe("executed");
    expect(calls).toBe(1);
    expect(index.entries.get(key)).toMatchObject({ status: "completed", intentSeq: 3 });
    expect(audit.getPendingIntents()).toEqual([]);
  });

  it("keeps a step runnable when the caller aborts it before it starts", async () => {
    const { executor } = setup({ circuitBreakers: undefined });
    const controller = new AbortController();
    controller.abort(new Error("caller gave up"));
    let calls = 0;
    await expect(
      executor.execute(comment(async () => ++calls, { signal: controller.signal })),
    ).rejects.toThrow("caller gave up");
    expect((await executor.execute(comment(async () => ++calls))).status).toBe("executed");
    expect(calls).toBe(1);
  });

  it("runs writes directly in dev mode when the index and audit trail are missing", async () => {
    const executor = new DurableStepExecutor({ mode: "dev" });
    expect(
      await executor.execute(comment(async ({ idempotencyKey }) => `ran${idempotencyKey}`)),
    ).toEqual({
      status: "executed",
      idempotencyKey: "",
      result: "ran",
      attempts: 1,
    });
  });

  it("rejects malformed requests and options with errors naming the field", () => {
    const { executor } = setup();
    expect(() => executor.execute(null as never)).toThrow(TypeError);
    expect(() => executor.execute(comment(async () => 1, { action: "" }))).toThrow(/action/);
    expect(() => executor.execute(comment(async () => 1, { scope: 3 as never }))).toThrow(/scope/);
    expect(() => executor.execute(comment(undefined as never))).toThrow(/run/);
    expect(() => executor.execute(comment(async () => 1, { params: null as never }))).toThrow(
      /params/,
    );
    expect(() => executor.execute(comment(async () => 1, { kind: "delete" as never }))).toThrow(
      RangeError,
    );
    expect(() => new DurableStepExecutor({ mode: "turbo" as never })).toThrow(/mode/);
    expect(() => new DurableStepExecutor({ reconcilers: { x: 1 as never } })).toThrow(
      /reconcilers.x/,
    );
  });
});

describe("DurableStepExecutor.reconcilePending", () => {
  async function leavePending(
    context: ReturnType<typeof setup>,
    action: string,
    resource: string,
  ): Promise<{ key: string; intentSeq: number }> {
    const key = context.index.generateKey(action, "acme/widgets", resource, {});
    const intentSeq = await context.audit.recordIntent({
      action,
      target: "t",
      params: {},
      dedupeKey: key,
    });
    await context.index.markPending(key, intentSeq);
    return { key, intentSeq };
  }

  it("applies each strategy and closes orphan intents", async () => {
    const checked: string[] = [];
    const context = setup({
      reconcilers: {
        add_issue_comment: async (entry) => {
          checked.push(entry.key);
          return entry.key.includes("posted") ? "done" : "not_done";
        },
      },
    });
    const { audit, index, executor } = context;
    const safe = await leavePending(context, "create_branch", "branch");
    const posted = await leavePending(context, "add_issue_comment", "posted");
    const notPosted = await leavePending(context, "add_issue_comment", "lost");
    const skipped = await leavePending(context, "merge_pull_request", "pr");
    const unchecked = await leavePending(context, "create_pull_request", "pr");
    const finished = await leavePending(context, "add_labels", "labels");
    await audit.recordResult(finished.intentSeq, { ok: true });
    const orphan = await audit.recordIntent({ action: "add_labels", target: "t", params: {} });

    const report = await executor.reconcilePending();
    expect(report.rerun.sort()).toEqual([notPosted.key, safe.key].sort());
    expect(report.promoted).toEqual([posted.key]);
    expect(report.failed.sort()).toEqual([skipped.key, unchecked.key].sort());
    expect(report.unresolved).toEqual([]);
    expect(report.closedIntents).toEqual([orphan]);
    expect(checked.sort()).toEqual([notPosted.key, posted.key].sort());
    expect(index.entries.get(posted.key)).toMatchObject({
      status: "completed",
      result: { $reconciled: "done", by: "hook" },
    });
    expect(index.entries.get(finished.key)?.status).toBe("completed");
    expect(index.entries.get(skipped.key)?.error).toMatch(/strategy is skip/);
    expect(index.entries.get(unchecked.key)?.error).toMatch(/no reconcile hook/);
    expect(audit.findResultByIntentSeq(orphan)?.error).toMatch(/^ABANDONED/);
    // Only the steps cleared to re-run still have an open intent.
    expect(
      audit
        .getPendingIntents()
        .map((intent) => intent.seq)
        .sort(),
    ).toEqual([safe.intentSeq, notPosted.intentSeq].sort());
  });

  it("re-runs a cleared step once, under a new intent", async () => {
    const context = setup({ reconcilers: { add_issue_comment: async () => "not_done" } });
    const pending = await leavePending(context, "add_issue_comment", "issue-12");
    await context.executor.reconcilePending();
    let calls = 0;
    const outcome = await context.executor.execute({
      action: "add_issue_comment",
      scope: "acme/widgets",
      resource: "issue-12",
      params: {},
      run: async () => ++calls,
    });
    expect(outcome).toMatchObject({ status: "executed", idempotencyKey: pending.key, result: 1 });
    expect(context.index.entries.get(pending.key)).toMatchObject({
      status: "completed",
      intentSeq: pending.intentSeq + 1,
    });
    expect(context.audit.findResultByIntentSeq(pending.intentSeq)?.error).toMatch(/^SUPERSEDED/);
  });

  it("asks a hook again when GitHub's answer to it was transient, and feeds its limits to the limiter", async () => {
    const answers: unknown[] = [
      octokitError(502, "Server Error"),
      octokitError(403, "You have exceeded a secondary rate limit.", { "retry-after": "1" }),
      Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", syscall: "read" }),
    ];
    let asked = 0;
    const context = setup({
      retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 10 },
      reconcilers: {
        add_issue_comment: async () => {
          asked++;
          const answer = answers.shift();
          if (answer) throw answer;
          return "done";
        },
      },
    });
    const pending = await leavePending(context, "add_issue_comment", "issue-12");
    const ticking = setInterval(() => context.clock.advance(500), 1);
    try {
      const report = await context.executor.reconcilePending();
      expect(report.promoted).toEqual([pending.key]);
    } finally {
      clearInterval(ticking);
    }
    expect(asked).toBe(4);
    expect(context.limiter.failures).toHaveLength(1);
  });

  it("does not ask a hook again after a rejection or an unknown error", async () => {
    for (const failure of [octokitError(404, "Not Found"), new Error("GitHub down")]) {
      let asked = 0;
      const context = setup({
        retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 10 },
        reconcilers: {
          add_issue_comment: async () => {
            asked++;
            throw failure;
          },
        },
      });
      const pending = await leavePending(context, "add_issue_comment", "issue-12");
      const report = await context.executor.reconcilePending();
      expect(report.unresolved).toEqual([pending.key]);
      expect(asked).toBe(1);
    }
  });

  it("leaves a step in doubt when its hook throws or answers nonsense", async () => {
    const context = setup({
      reconcilers: {
        add_issue_comment: async () => {
          throw new Error("GitHub down");
        },
        create_pull_request: async () => "maybe" as never,
      },
    });
    const comment = await leavePending(context, "add_issue_comment", "issue-12");
    const pull = await leavePending(context, "create_pull_request", "pr-1");
    const report = await context.executor.reconcilePending();
    expect(report.unresolved).toEqual([comment.key, pull.key]);
    expect(context.index.entries.get(comment.key)?.status).toBe("pending");
    let calls = 0;
    const refused = await context.executor
      .execute({
        action: "add_issue_comment",
        scope: "acme/widgets",
        resource: "issue-12",
        params: {},
        run: async () => ++calls,
      })
      .catch((error) => error);
    expect(refused).toMatchObject({ code: "STEP_IN_DOUBT", idempotencyKey: comment.key });
    expect(calls).toBe(0);
  });

  it("leaves the intents of steps running now alone when called after boot", async () => {
    const { audit, executor } = setup();
    let finish: (value: string) => void = () => {};
    const running = executor.execute(
      comment(() => new Promise<string>((resolve) => (finish = resolve))),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    const report = await executor.reconcilePending();
    expect(report.closedIntents).toEqual([]);
    finish("ok");
    expect((await running).status).toBe("executed");
    expect(audit.findResultByIntentSeq(1)?.result).toBe("ok");
  });

  it("does nothing without an index or an audit trail", async () => {
    const report = await new DurableStepExecutor({ mode: "dev" }).reconcilePending();
    expect(report).toEqual({
      promoted: [],
      rerun: [],
      failed: [],
      unresolved: [],
      awaitingHook: [],
      closedIntents: [],
    });
  });
});

describe("DurableStepExecutor: stop and drain", () => {
  it("refuses new steps after stop() and drains running ones", async () => {
    const { executor } = setup();
    let finish: (value: string) => void = () => {};
    const running = executor.execute(
      comment(() => new Promise<string>((resolve) => (finish = resolve))),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(executor.inFlightCount).toBe(1);
    executor.stop();
    await expect(executor.execute(comment(async () => 1, { resource: "x" }))).rejects.toMatchObject(
      { code: "SHUTTING_DOWN" },
    );
    const drained = executor.drain(5_000);
    finish("ok");
    expect(await drained).toBe(true);
    expect((await running).result).toBe("ok");
    expect(executor.inFlightCount).toBe(0);
    expect(await executor.drain(0)).toBe(true);
  });

  it("aborts steps still running at the drain timeout and leaves their key pending", async () => {
    const { executor, index } = setup({ clock: undefined, circuitBreakers: undefined });
    const running = executor
      .execute(
        comment(
          ({ signal }) =>
            new Promise((_, reject) =>
              signal.addEventListener("abort", () => reject(signal.reason)),
            ),
        ),
      )
      .catch((error) => error);
    await new Promise((resolve) => setTimeout(resolve, 5));
    executor.stop();
    expect(await executor.drain(20)).toBe(false);
    expect(await running).toMatchObject({ code: "SHUTTING_DOWN" });
    expect([...index.entries.values()][0]?.status).toBe("pending");
  });
});

describe("DurableStepExecutor: a claim lost between check and markPending", () => {
  it.each([
    ["completed", { status: "deduplicated", result: { id: 5 } }],
    ["failed", "STEP_FAILED"],
    ["pending", "STEP_IN_DOUBT"],
  ] as const)(
    "when the key turned %s, the side effect does not run and the intent is closed",
    async (reason, expected) => {
      const { audit, index, executor } = setup();
      index.markPending = async (key) => ({
        claimed: false,
        reason,
        entry: { key, status: reason, result: { id: 5 }, error: "earlier" },
      });
      let calls = 0;
      const outcome = await executor.execute(comment(async () => ++calls)).catch((error) => error);
      if (typeof expected === "string") expect(outcome).toMatchObject({ code: expected });
      else expect(outcome).toMatchObject(expected);
      expect(calls).toBe(0);
      expect(audit.findResultByIntentSeq(1)?.error).toBe(`NOT_CLAIMED: the key was ${reason}`);
    },
  );
});

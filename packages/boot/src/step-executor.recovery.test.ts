// The executor's recovery paths: the audit trail as a second source of truth,
// keys left pending in this process, operators' decisions, shutdown and
// cancellation in the middle of a step, and the edges of the failure model.
import { describe, expect, it } from "vitest";
import {
  failingThen,
  harness,
  octokitError,
  START,
  socketError,
  step,
  withClock,
} from "../test/executor-harness.js";
import { CountingRateLimiter, capturingLogger, MemoryAuditTrail } from "../test/fakes.js";
import { DurableStepExecutor } from "./step-executor.js";

async function leavePending(
  context: ReturnType<typeof harness>,
  action: string,
  resource: string,
  options: { result?: unknown } = {},
) {
  const request = step(action, resource, async () => "unused");
  const key = context.index.generateKey(action, request.scope, resource, request.params);
  const intentSeq = await context.audit.recordIntent({
    action,
    target: `acme/widgets/${resource}`,
    params: { scope: "acme/widgets", resource, params: request.params },
    dedupeKey: key,
  });
  await context.index.markPending(key, intentSeq, { action });
  if ("result" in options) await context.audit.recordResult(intentSeq, options.result);
  return { key, intentSeq };
}

describe("two sources of truth: a key the index lost", () => {
  async function withLostIndex(record: (seq: number, audit: MemoryAuditTrail) => Promise<void>) {
    const context = harness();
    const request = step("add_issue_comment", "issue-1", async () => "posted again");
    const key = context.index.generateKey(
      request.action,
      request.scope,
      request.resource,
      request.params,
    );
    const seq = await context.audit.recordIntent({
      action: request.action,
      target: "t",
      params: {},
      dedupeKey: key,
    });
    await record(seq, context.audit);
    return { ...context, request, key, seq };
  }

  it("does not run a step the audit trail says completed, and repairs the index", async () => {
    const { index, executor, request, key, seq } = await withLostIndex(async (seq, audit) => {
      await audit.recordResult(seq, { id: 7 });
    });
    let calls = 0;
    const outcome = await executor.execute({ ...request, run: async () => ++calls });
    expect(outcome).toEqual({ status: "deduplicated", idempotencyKey: key, result: { id: 7 } });
    expect(calls).toBe(0);
    expect(index.entries.get(key)).toMatchObject({
      status: "completed",
      intentSeq: seq,
      result: { id: 7 },
    });
  });

  it("fails a step the audit trail says failed, and reports it reconciled when a hook had said done", async () => {
    const failed = await withLostIndex(async (seq, audit) => {
      await audit.recordResult(seq, undefined, "REJECTED: attempt 1 of 3 rejected: HTTP 422");
    });
    await expect(failed.executor.execute(failed.request)).rejects.toMatchObject({
      code: "STEP_FAILED",
      previousError: "REJECTED: attempt 1 of 3 rejected: HTTP 422",
    });
    expect(failed.index.entries.get(failed.key)?.status).toBe("failed");
    const reconciled = await withLostIndex(async (seq, audit) => {
      await audit.recordResult(seq, { $reconciled: "done", by: "hook" });
    });
    expect((await reconciled.executor.execute(reconciled.request)).status).toBe("reconciled");
  });

  it("runs a step whose latest result left it runnable, or that is older than the TTL", async () => {
    const runnable = await withLostIndex(async (seq, audit) => {
      await audit.recordResult(seq, undefined, "NOT_SENT: attempt 3 of 3 not sent: ECONNREFUSED");
    });
    expect((await runnable.executor.execute(runnable.request)).status).toBe("executed");
    const old = await withLostIndex(async (seq, audit) => {
      await audit.recordResult(seq, { id: 1 });
    });
    old.clock.advance(old.index.ttlMs + 1);
    expect((await old.executor.execute(old.request)).status).toBe("executed");
  });

  it("stays in doubt when the latest result says nothing about the key", async () => {
    const { executor, request } = await withLostIndex(async (seq, audit) => {
      await audit.recordResult(seq, undefined, "NOT_CLAIMED: the key was pending");
    });
    await expect(executor.execute(request)).rejects.toMatchObject({ code: "STEP_IN_DOUBT" });
  });

  it("still deduplicates when the repair itself fails", async () => {
    const { index, executor, request } = await withLostIndex(async (seq, audit) => {
      await audit.recordResult(seq, { id: 9 });
    });
    index.settle = async () => {
      throw new Error("index disk full");
    };
    expect(await executor.execute(request)).toMatchObject({
      status: "deduplicated",
      result: { id: 9 },
    });
  });
});

describe("a key left pending in this process", () => {
  it("is promoted from its audit result when the index could not complete it", async () => {
    const context = harness();
    const { key } = await leavePending(context, "add_labels", "issue-2", { result: { ok: true } });
    const outcome = await context.executor.execute(
      step("add_labels", "issue-2", async () => "again"),
    );
    expect(outcome).toEqual({ status: "deduplicated", idempotencyKey: key, result: { ok: true } });
  });

  it("runs again under safe_retry, asks the hook under check_then_retry, fails under skip", async () => {
    const context = harness({ reconcilers: { add_issue_comment: async () => "done" } });
    const branch = await leavePending(context, "create_branch", "branch-1");
    const created = await context.executor.execute(
      step("create_branch", "branch-1", async () => "created"),
    );
    expect(created).toMatchObject({ status: "executed", idempotencyKey: branch.key });
    expect(context.audit.findResultByIntentSeq(branch.intentSeq)?.error).toMatch(/^SUPERSEDED: /);
    await leavePending(context, "add_issue_comment", "issue-3");
    expect(
      (await context.executor.execute(step("add_issue_comment", "issue-3", async () => "again")))
        .status,
    ).toBe("reconciled");
    await leavePending(context, "merge_pull_request", "pr-1");
    await expect(
      context.executor.execute(step("merge_pull_request", "pr-1", async () => "merged")),
    ).rejects.toMatchObject({
      code: "STEP_FAILED",
      previousError: expect.stringMatching(/^OUTCOME_UNKNOWN/),
    });
  });

  it("is left pending when the caller aborts while it runs, then settled by its strategy", async () => {
    const { executor, index } = harness();
    const controller = new AbortController();
    const running = executor
      .execute(
        step(
          "create_branch",
          "branch-2",
          ({ signal }) =>
            new Promise((_, reject) =>
              signal.addEventListener("abort", () => reject(signal.reason)),
            ),
          { signal: controller.signal },
        ),
      )
      .catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(new Error("caller gave up"));
    expect(await running).toMatchObject({ message: "caller gave up" });
    expect([...index.entries.values()][0]?.status).toBe("pending");
    expect(
      (await executor.execute(step("create_branch", "branch-2", async () => "now"))).status,
    ).toBe("executed");
  });

  it("stays in doubt when the hook cannot tell after an ambiguous failure", async () => {
    const { clock, index, executor } = harness({
      reconcilers: {
        add_issue_comment: async () => {
          throw new Error("GitHub is down");
        },
      },
    });
    const reset = socketError("ECONNRESET");
    const failure = await withClock(
      clock,
      executor.execute(step("add_issue_comment", "issue-4", () => Promise.reject(reset))),
    ).catch((error: unknown) => error);
    expect(failure).toBe(reset);
    expect([...index.entries.values()][0]?.status).toBe("pending");
    await expect(
      executor.execute(step("add_issue_comment", "issue-4", async () => "again")),
    ).rejects.toMatchObject({ code: "STEP_IN_DOUBT" });
  });
});

describe("operators", () => {
  it("resolve a pending key done or not done by closing its open intent", async () => {
    const context = harness();
    const done = await leavePending(context, "merge_pull_request", "pr-2");
    const before = await context.executor.resolveKey(done.key, "done", {
      reason: "merged by hand",
    });
    expect(before?.status).toBe("pending");
    expect(context.audit.findResultByIntentSeq(done.intentSeq)?.result).toEqual({
      $reconciled: "done",
      by: "operator",
      reason: "merged by hand",
    });
    expect(context.index.entries.get(done.key)?.status).toBe("completed");
    expect(
      (await context.executor.execute(step("merge_pull_request", "pr-2", async () => 1))).status,
    ).toBe("reconciled");
    const notDone = await leavePending(context, "merge_pull_request", "pr-3");
    await context.executor.resolveKey(notDone.key, "not_done");
    expect(context.index.entries.has(notDone.key)).toBe(false);
    expect(context.audit.findResultByIntentSeq(notDone.intentSeq)?.error).toBe(
      "NOT_DONE: an operator said the side effect did not happen",
    );
    expect(context.index.journal.slice(-1)).toEqual([`reset:${notDone.key}`]);
    expect(
      (await context.executor.execute(step("merge_pull_request", "pr-3", async () => 1))).status,
    ).toBe("executed");
    expect(context.audit.getPendingIntents()).toEqual([]);
  });

  it("can decide about a key the index does not know", async () => {
    const context = harness();
    expect(
      await context.executor.resolveKey("add_labels:acme/widgets/issue-5:0123456789abcdef", "done"),
    ).toBeNull();
    const record = context.audit.records.at(-2);
    expect(record).toMatchObject({
      phase: "intent",
      action: "add_labels",
      params: { operator: { command: "resolveKey", verdict: "done" } },
    });
  });

  it("are refused for a running key, without an index, and for a bad verdict or key", async () => {
    const context = harness();
    let finish: (value: string) => void = () => {};
    const running = context.executor.execute(
      step("add_labels", "issue-6", () => new Promise<string>((resolve) => (finish = resolve))),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    const key = [...context.index.entries.keys()][0]!;
    await expect(context.executor.resetKey(key)).rejects.toMatchObject({ code: "KEY_IN_FLIGHT" });
    finish("ok");
    await running;
    expect(() => context.executor.resolveKey(key, "maybe" as never)).toThrow(RangeError);
    await expect(context.executor.resetKey("")).rejects.toThrow(TypeError);
    await expect(context.executor.resetKey(key, { reason: 3 as never })).rejects.toThrow(TypeError);
    await expect(new DurableStepExecutor({ mode: "dev" }).resetKey(key)).rejects.toMatchObject({
      code: "SUBSYSTEM_UNAVAILABLE",
    });
    await expect(
      new DurableStepExecutor({ mode: "dev", idempotencyIndex: context.index }).resetKey(key),
    ).rejects.toMatchObject({ code: "SUBSYSTEM_UNAVAILABLE", subsystem: "auditTrail" });
  });
});

describe("waits and their ends", () => {
  it("stops waiting at stop(): the key stays runnable", async () => {
    const { executor, index } = harness({ clock: undefined });
    const effect = failingThen([octokitError(502, "Server Error")], "labelled");
    const running = executor
      .execute(
        step("add_labels", "issue-7", effect.run({ now: () => Date.now() } as never), {
          retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
        }),
      )
      .catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 20));
    executor.stop();
    expect(await running).toMatchObject({ code: "SHUTTING_DOWN" });
    expect(index.entries.size).toBe(0);
  });

  it("ends a step whose server asks for more than maxWaitMs, leaving it runnable", async () => {
    const { clock, index, executor } = harness();
    const limited = octokitError(429, "Too Many Requests", { "retry-after": "120" });
    const failure = await withClock(
      clock,
      executor.execute(
        step("add_labels", "issue-8", () => Promise.reject(limited), { maxWaitMs: 60_000 }),
      ),
    ).catch((error: unknown) => error);
    expect(failure).toBe(limited);
    expect(index.entries.size).toBe(0);
  });

  it("fails an ambiguous safe_retry step for good when its attempts run out", async () => {
    const { clock, index, executor } = harness();
    const badGateway = octokitError(502, "Server Error");
    const failure = await withClock(
      clock,
      executor.execute(
        step("add_labels", "issue-9", () => Promise.reject(badGateway), {
          retry: { maxAttempts: 2 },
        }),
      ),
    ).catch((error: unknown) => error);
    expect(failure).toBe(badGateway);
    expect(executor.isTerminalFailure(failure)).toBe(true);
    expect([...index.entries.values()][0]?.error).toMatch(
      /^FAILED: attempt 2 of 2 ambiguous: HTTP 502/,
    );
  });
});

describe("the edges of an attempt", () => {
  it("counts a returned non-2xx Response as a failed attempt and hands 2xx answers to the limiter", async () => {
    const limiter = new CountingRateLimiter();
    const { clock, executor } = harness({ rateLimiter: limiter });
    let calls = 0;
    const outcome = await withClock(
      clock,
      executor.execute(
        step("add_labels", "issue-10", async () =>
          ++calls === 1
            ? new Response(JSON.stringify({ message: "Server Error" }), { status: 502 })
            : new Response("[]", { status: 200, headers: { "x-ratelimit-remaining": "4999" } }),
        ),
      ),
    );
    expect(outcome).toMatchObject({ status: "executed", attempts: 2 });
    expect(limiter.failures).toHaveLength(1);
    expect(limiter.observed).toHaveLength(1);
  });

  it("retries reads, but not a rejected one", async () => {
    const { clock, audit, executor } = harness();
    const flaky = failingThen([socketError("ECONNRESET")], ["issue"]);
    const read = await withClock(
      clock,
      executor.execute(step("list_issues", "issues", flaky.run(clock), { kind: "read" })),
    );
    expect(read).toEqual({ status: "read", idempotencyKey: "", result: ["issue"], attempts: 2 });
    const missing = octokitError(404, "Not Found");
    await expect(
      executor.execute(
        step("get_issue", "issue-404", () => Promise.reject(missing), { kind: "read" }),
      ),
    ).rejects.toBe(missing);
    expect(audit.records).toEqual([]);
  });

  it("enforces timeoutMs without a breaker, and records every attempt in dev mode without an index", async () => {
    const audit = new MemoryAuditTrail();
    const executor = new DurableStepExecutor({
      mode: "dev",
      auditTrail: audit,
      retry: { baseDelayMs: 1 },
    });
    let calls = 0;
    const outcome = await executor.execute(
      step(
        "create_branch",
        "branch-3",
        ({ signal }) =>
          ++calls === 1
            ? new Promise((_, reject) =>
                signal.addEventListener("abort", () => reject(signal.reason)),
              )
            : Promise.resolve("created"),
        // Without an index there is no strategy table: the step says its own.
        { timeoutMs: 10, strategy: "safe_retry" },
      ),
    );
    expect(outcome).toMatchObject({ status: "executed", idempotencyKey: "", attempts: 2 });
    expect(audit.phase("result").map((record) => record.error?.split(":")[0] ?? "ok")).toEqual([
      "RETRYING",
      "ok",
    ]);
    expect(audit.records.every((record) => record.dedupeKey === undefined)).toBe(true);
  });

  it("logs a limiter that cannot read an answer and goes on", async () => {
    const limiter = new CountingRateLimiter();
    limiter.recordRateLimitFailure = () => {
      throw new Error("limiter broke");
    };
    limiter.observeResponse = () => {
      throw new Error("limiter broke again");
    };
    const { lines, logger } = capturingLogger();
    const { clock, executor } = harness({ rateLimiter: limiter, logger });
    const effect = failingThen([octokitError(429, "Too Many Requests")], { headers: {} });
    expect(
      (await withClock(clock, executor.execute(step("add_labels", "issue-11", effect.run(clock)))))
        .status,
    ).toBe("executed");
    expect(lines.map((line) => line.message)).toContain(
      "step: the rate limiter could not read a rate-limit answer",
    );
  });

  it("completes a step whose index cannot be written after the result is recorded", async () => {
    const { index, audit, executor } = harness();
    index.markCompleted = async () => {
      throw new Error("journal full");
    };
    const outcome = await executor.execute(step("add_labels", "issue-12", async () => ({ id: 3 })));
    expect(outcome).toMatchObject({ status: "executed", result: { id: 3 } });
    expect(audit.phase("result")[0]?.result).toEqual({ id: 3 });
  });
});

describe("executor options", () => {
  it("names a bad option", () => {
    expect(() => new DurableStepExecutor({ maxWaitMs: -1 })).toThrow(/maxWaitMs/);
    expect(() => new DurableStepExecutor({ reconcileTimeoutMs: 0 })).toThrow(/reconcileTimeoutMs/);
    expect(() => new DurableStepExecutor({ dryRun: 1 as never })).toThrow(/dryRun/);
    expect(() => new DurableStepExecutor({ random: 4 as never })).toThrow(/random/);
    expect(() => new DurableStepExecutor({ retry: { maxAttempts: 0 } })).toThrow(
      /retry.maxAttempts/,
    );
  });

  it("waits for each attempt's token with the step's maxWaitMs", async () => {
    const limiter = new CountingRateLimiter();
    const { executor } = harness({ rateLimiter: limiter, maxWaitMs: 5_000 });
    await executor.execute(step("add_labels", "issue-13", async () => 1, { workflowId: "triage" }));
    await executor.execute(step("add_labels", "issue-14", async () => 1, { maxWaitMs: 10 }));
    expect(limiter.waits).toEqual([
      { workflowId: "triage", maxWaitMs: 5_000 },
      { workflowId: "default", maxWaitMs: 10 },
    ]);
    expect(START).toBeGreaterThan(0);
  });
});

describe("many steps at once", () => {
  it("adds no listeners to the executor's shared signals (no MaxListenersExceededWarning)", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const { executor } = harness({ clock: undefined, rateLimiter: undefined });
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const steps = Array.from({ length: 40 }, (_, index) =>
        executor.execute(step("add_labels", `issue-${index}`, () => gate.then(() => index))),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      release();
      expect((await Promise.all(steps)).every((outcome) => outcome.status === "executed")).toBe(
        true,
      );
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((warning) => warning.name)).not.toContain("MaxListenersExceededWarning");
    } finally {
      process.off("warning", onWarning);
    }
  });
});

// One test per finding of "The durable executor handles GitHub's real
// failures itself" (issue 13), and the executor half of issue 12's finding 9.
// Each one failed on the executor this branch replaces.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { RateLimiter } from "@beauvoir/rate-limiter";
import { describe, expect, it } from "vitest";
import {
  failingThen,
  failWithBadGateways,
  harness,
  octokitError,
  START,
  socketError,
  step,
  withClock,
} from "../test/executor-harness.js";
import { ToolValidator } from "./tool-validator.js";

const SECONDARY =
  "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";

describe("finding 1: a failure after run() started no longer fails the key for good", () => {
  it("retries a 502, a connection reset and a secondary limit inside execute(), recording every attempt", async () => {
    const { clock, audit, index, executor } = harness();
    const cases = [
      ["add_labels", octokitError(502, "Server Error")],
      ["create_branch", socketError("ECONNRESET")],
      ["add_issue_comment", octokitError(403, SECONDARY, { "retry-after": "1" })],
    ] as const;
    for (const [action, error] of cases) {
      const effect = failingThen([error], { ok: action });
      const outcome = await withClock(
        clock,
        executor.execute(step(action, "issue-1", effect.run(clock))),
      );
      expect(outcome).toMatchObject({ status: "executed", result: { ok: action }, attempts: 2 });
      expect(effect.calls).toHaveLength(2);
      expect(index.entries.get(outcome.idempotencyKey)?.status).toBe("completed");
      const results = audit
        .phase("result")
        .filter((record) => record.dedupeKey === outcome.idempotencyKey);
      expect(results.map((record) => record.error?.split(":")[0])).toEqual(["RETRYING", undefined]);
    }
    expect(audit.getPendingIntents()).toEqual([]);
  });

  it("leaves a key runnable when attempts run out on a failure that sent nothing", async () => {
    const { clock, index, executor } = harness();
    const refused = socketError("ECONNREFUSED");
    const down = failingThen([refused, refused], "never");
    const failure = await withClock(
      clock,
      executor.execute(
        step("add_issue_comment", "issue-2", down.run(clock), { retry: { maxAttempts: 2 } }),
      ),
    ).catch((error: unknown) => error);
    expect(failure).toBe(refused);
    expect(executor.isTerminalFailure(failure)).toBe(false);
    expect(index.entries.size).toBe(0);
    const later = await executor.execute(
      step("add_issue_comment", "issue-2", async () => "posted"),
    );
    expect(later).toMatchObject({ status: "executed", result: "posted" });
  });

  it("handles an ambiguous failure by the action's strategy", async () => {
    const reconciled: string[] = [];
    const { clock, index, executor } = harness({
      reconcilers: {
        add_issue_comment: async ({ key }) => {
          reconciled.push(key);
          return "done";
        },
      },
    });
    const badGateway = () => octokitError(502, "Server Error");
    // check_then_retry: the hook says it landed; it is not posted again.
    const comment = failingThen([badGateway()], "second post");
    const commented = await withClock(
      clock,
      executor.execute(step("add_issue_comment", "issue-3", comment.run(clock))),
    );
    expect(commented).toEqual({
      status: "reconciled",
      idempotencyKey: reconciled[0],
      result: undefined,
    });
    expect(comment.calls).toHaveLength(1);
    // skip: not retried, failed as OUTCOME_UNKNOWN.
    const merge = failingThen([badGateway()], "merged");
    const merged = await executor
      .execute(step("merge_pull_request", "pr-4", merge.run(clock)))
      .catch((error: unknown) => error);
    expect(merge.calls).toHaveLength(1);
    expect(executor.isTerminalFailure(merged)).toBe(true);
    const [mergeKey] = [...index.entries.keys()].filter((key) =>
      key.startsWith("merge_pull_request"),
    );
    expect(index.entries.get(mergeKey as string)?.error).toMatch(/^OUTCOME_UNKNOWN: /);
    // A rejection is terminal at once.
    const labels = failingThen([octokitError(422, "Validation Failed")], "labelled");
    const rejected = await executor
      .execute(step("add_labels", "issue-5", labels.run(clock)))
      .catch((error: unknown) => error);
    expect(labels.calls).toHaveLength(1);
    expect(executor.isTerminalFailure(rejected)).toBe(true);
  });

  it("gives operators resolveKey and resetKey, recorded in the audit trail", async () => {
    const { audit, index, executor } = harness();
    const rejected = await executor
      .execute(
        step("add_labels", "issue-6", () => Promise.reject(octokitError(422, "Validation Failed"))),
      )
      .catch((error: unknown) => error);
    const key = (rejected as never) && [...index.entries.keys()][0]!;
    await expect(
      executor.execute(step("add_labels", "issue-6", async () => 1)),
    ).rejects.toMatchObject({
      code: "STEP_FAILED",
    });
    expect((await executor.resetKey(key, { reason: "label created by hand" }))?.status).toBe(
      "failed",
    );
    expect(await executor.execute(step("add_labels", "issue-6", async () => 2))).toMatchObject({
      status: "executed",
      result: 2,
    });
    await executor.resolveKey(key, "done");
    expect(await executor.execute(step("add_labels", "issue-6", async () => 3))).toMatchObject({
      status: "reconciled",
    });
    const decisions = audit.phase("result").filter((record) => record.dedupeKey === key);
    expect(decisions.map((record) => record.error ?? record.result)).toEqual([
      expect.stringMatching(/^REJECTED: /),
      "RESET: an operator reset the key (label created by hand)",
      2,
      { $reconciled: "done", by: "operator" },
    ]);
  });
});

describe("finding 2: rate limits reach the limiter from inside a step", () => {
  it("feeds a secondary limit thrown by run() to the limiter, which holds the next attempt back as asked", async () => {
    const { clock, limiter, executor } = harness();
    const effect = failingThen(
      [
        octokitError(403, SECONDARY, { "retry-after": "7" }),
        octokitError(403, SECONDARY, { "retry-after": "7" }),
      ],
      "posted",
    );
    const outcome = await withClock(
      clock,
      executor.execute(step("add_issue_comment", "issue-7", effect.run(clock))),
    );
    expect(outcome).toMatchObject({ status: "executed", attempts: 3 });
    const [first, second, third] = effect.calls.map((call) => call.at);
    expect(second! - first!).toBeGreaterThanOrEqual(7_000);
    expect(third! - second!).toBeGreaterThanOrEqual(7_000);
    expect(third! - first!).toBeLessThan(20_000);
    // The block was the limiter's too: any other step waited for it.
    expect(limiter.blockedUntil).toBeNull();
  });

  it("blocks other steps through the limiter until a primary limit's reset", async () => {
    const { clock, limiter, executor } = harness();
    const reset = String(Math.floor(START / 1000) + 90);
    const quota = octokitError(403, "API rate limit exceeded for user ID 1.", {
      "x-ratelimit-remaining": "0",
      "x-ratelimit-reset": reset,
    });
    const effect = failingThen([quota], "labelled");
    const other: number[] = [];
    const first = executor.execute(step("add_labels", "issue-8", effect.run(clock)));
    await withClock(clock, new Promise((resolve) => setTimeout(resolve, 5)), 1);
    expect(limiter.blockedUntil).toBe(Number(reset) * 1000);
    const second = executor.execute(
      step("create_branch", "branch-8", async () => other.push(clock.now())),
    );
    await withClock(clock, Promise.all([first, second]), 1_000);
    expect(effect.calls[1]!.at).toBeGreaterThanOrEqual(Number(reset) * 1000);
    expect(other[0]).toBeGreaterThanOrEqual(Number(reset) * 1000);
  });
});

describe("finding 3: deduplicated steps take no token, and a step waits for its token", () => {
  it("lets a replay through a bucket of 2 without spending it", async () => {
    const limiter = new RateLimiter({ perWorkflow: { capacity: 2, refillPerHour: 0.001 } });
    const { executor } = harness({ rateLimiter: limiter });
    await executor.execute(step("add_labels", "issue-9", async () => "first"));
    expect(
      (await executor.execute(step("add_labels", "issue-9", async () => "again"))).status,
    ).toBe("deduplicated");
    expect(
      (await executor.execute(step("add_labels", "issue-10", async () => "next"))).status,
    ).toBe("executed");
  });

  it("waits for a token instead of throwing RATE_LIMITED", async () => {
    const { clock } = harness();
    const limiter = new RateLimiter({
      clock,
      perWorkflow: { capacity: 1, refillPerHour: 3_600 },
    });
    const { executor } = harness({ clock, rateLimiter: limiter });
    const times: number[] = [];
    await executor.execute(step("add_labels", "issue-11", async () => times.push(clock.now())));
    await withClock(
      clock,
      executor.execute(step("add_labels", "issue-12", async () => times.push(clock.now()))),
    );
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(1_000);
  });
});

describe("finding 4: one breaker per action", () => {
  it("opens add_labels' breaker after its 502s and still runs an unrelated create_review", async () => {
    const { breakers, executor } = harness();
    await failWithBadGateways(executor, "add_labels");
    expect(breakers.get("add_labels").getState()).toBe("OPEN");
    await expect(
      executor.execute(step("add_labels", "issue-6", async () => 1)),
    ).rejects.toMatchObject({
      code: "CIRCUIT_OPEN",
    });
    expect(
      await executor.execute(step("create_review", "pr-1", async () => "reviewed")),
    ).toMatchObject({
      status: "executed",
    });
    // A step may share a breaker with others on purpose.
    await expect(
      executor.execute(step("create_review", "pr-2", async () => 1, { breakerKey: "add_labels" })),
    ).rejects.toMatchObject({ code: "CIRCUIT_OPEN" });
  });
});

describe("finding 5: the reconcile hook learns what the step was about", () => {
  it("gets key, action, scope, resource, params, target, intentSeq and a signal, at boot and after an ambiguous failure", async () => {
    const seen: Array<Record<string, unknown>> = [];
    const { clock, audit, index, executor } = harness({
      reconcilers: {
        add_issue_comment: async (context) => {
          seen.push({ ...context, signal: context.signal instanceof AbortSignal });
          return "not_done";
        },
      },
    });
    // Left pending by a "crash".
    const key = index.generateKey("add_issue_comment", "acme/widgets", "issue-13", { body: "Hi" });
    const intentSeq = await audit.recordIntent({
      action: "add_issue_comment",
      target: "acme/widgets#13",
      params: { scope: "acme/widgets", resource: "issue-13", params: { body: "Hi" } },
      dedupeKey: key,
    });
    await index.markPending(key, intentSeq, { action: "add_issue_comment" });
    await executor.reconcilePending();
    // An ambiguous failure now.
    const effect = failingThen([socketError("ECONNRESET")], "posted");
    await withClock(
      clock,
      executor.execute(
        step("add_issue_comment", "issue-14", effect.run(clock), {
          params: { body: "Hello" },
          target: "acme/widgets#14",
        }),
      ),
    );
    expect(seen).toEqual([
      {
        key,
        action: "add_issue_comment",
        scope: "acme/widgets",
        resource: "issue-13",
        params: { body: "Hi" },
        target: "acme/widgets#13",
        intentSeq,
        signal: true,
      },
      {
        key: expect.stringMatching(/^add_issue_comment:/),
        action: "add_issue_comment",
        scope: "acme/widgets",
        resource: "issue-14",
        params: { body: "Hello" },
        target: "acme/widgets#14",
        intentSeq: expect.any(Number),
        signal: true,
      },
    ]);
  });
});

describe("finding 6: honest outcomes", () => {
  it("reports a step its hook found done as reconciled, with no result typed as run()'s", async () => {
    const { audit, index, executor } = harness({
      reconcilers: { add_issue_comment: async () => "done" },
    });
    const request = step("add_issue_comment", "issue-15", async () => ({ id: 1 }));
    const key = index.generateKey(request.action, request.scope, request.resource, request.params);
    const intentSeq = await audit.recordIntent({
      action: request.action,
      target: "t",
      params: {},
      dedupeKey: key,
    });
    await index.markPending(key, intentSeq);
    expect((await executor.reconcilePending()).promoted).toEqual([key]);
    const outcome = await executor.execute(request);
    expect(outcome).toEqual({ status: "reconciled", idempotencyKey: key, result: undefined });
  });
});

describe("finding 7: what a failed HTTP call was, recorded and rethrown as it is", () => {
  it("records a thrown Response and an Octokit error as HTTP <status> <METHOD> <url>: <message>, redacted", async () => {
    const token = `ghp_${"A1b2C3d4E5".repeat(3)}123456`;
    const server = createServer((_request, response) => {
      response.writeHead(502, { "content-type": "application/json" });
      response.end(JSON.stringify({ message: "Server Error" }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/repos/acme/widgets/issues/16/comments?access_token=${token}`;
    try {
      const { audit, executor } = harness();
      let thrown: Response | undefined;
      const caught = await executor
        .execute(
          step("merge_pull_request", "pr-16", async ({ signal }) => {
            const response = await fetch(url, { method: "POST", signal });
            thrown = response;
            throw response;
          }),
        )
        .catch((error: unknown) => error);
      expect(caught).toBe(thrown);
      expect((caught as Response).status).toBe(502);
      const recorded = audit.phase("result")[0]?.error ?? "";
      expect(recorded).toMatch(
        /^OUTCOME_UNKNOWN: attempt 1 of 3 ambiguous: HTTP 502 http:\/\/127\.0\.0\.1:\d+\/repos\/acme\/widgets\/issues\/16\/comments\?access_token=\[REDACTED:[a-z-]+\]:? ?Server Error$/,
      );
      expect(recorded).not.toContain(token);
      const octokit = octokitError(422, "Validation Failed");
      const rejected = await executor
        .execute(step("add_labels", "issue-16", () => Promise.reject(octokit)))
        .catch((error: unknown) => error);
      expect(rejected).toBe(octokit);
      expect(audit.phase("result")[1]?.error).toBe(
        "REJECTED: attempt 1 of 3 rejected: HTTP 422 POST https://api.github.com/repos/acme/widgets/issues/12/labels: Validation Failed",
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("finding 8: results JSON cannot hold", () => {
  it("completes the key with a documented JSON-safe form, and undefined comes back the same every time", async () => {
    const { index, executor } = harness();
    const big = await executor.execute(
      step("add_labels", "issue-17", async () => 12345678901234567890n),
    );
    expect(big).toMatchObject({ status: "executed", result: 12345678901234567890n });
    expect(index.entries.get(big.idempotencyKey)?.status).toBe("completed");
    expect((await executor.execute(step("add_labels", "issue-17", async () => 0n))).result).toBe(
      "12345678901234567890",
    );
    const map = new Map([["bug", { id: 1 }]]);
    await executor.execute(step("add_labels", "issue-18", async () => map));
    expect(
      (await executor.execute(step("add_labels", "issue-18", async () => map))).result,
    ).toEqual([["bug", { id: 1 }]]);
    const nothing = await executor.execute(step("add_labels", "issue-19", async () => undefined));
    const again = await executor.execute(step("add_labels", "issue-19", async () => undefined));
    expect([nothing.result, again.result]).toEqual([undefined, undefined]);
    expect(again.status).toBe("deduplicated");
  });
});

describe("finding 9: a key of the caller's choosing", () => {
  it("uses idempotencyKey instead of the derived key", async () => {
    const { audit, executor } = harness();
    let posts = 0;
    const delivery = "webhook-delivery:72d3162e-cc78-11e3-81ab-4c9367dc0958";
    const first = await executor.execute(
      step("add_issue_comment", "issue-20", async () => ++posts, {
        idempotencyKey: delivery,
        params: { body: "Thanks!" },
      }),
    );
    const redelivered = await executor.execute(
      step("add_issue_comment", "issue-20", async () => ++posts, {
        idempotencyKey: delivery,
        params: { body: "Thanks!", retried: true },
      }),
    );
    expect([first.status, redelivered.status]).toEqual(["executed", "deduplicated"]);
    expect(first.idempotencyKey).toBe(delivery);
    expect(posts).toBe(1);
    expect(audit.records[0]?.dedupeKey).toBe(delivery);
  });
});

describe("finding 14: the action policy per call, and dry runs", () => {
  const policy = new ToolValidator({
    tools: {
      add_issue_comment: { constraints: { scope: { must_be: "acme/widgets" } } },
      add_labels: { constraints: { labels: { allowlist: [["bug"], ["documentation"]] } } },
    },
  });

  it("records denied and throws PolicyDeniedError for params the policy refuses, before any intent", async () => {
    const { audit, limiter, executor } = harness({ actionPolicy: policy });
    const tokens = () => limiter.getRemainingTokens("default").workflow;
    const before = tokens();
    let calls = 0;
    const denied = await executor
      .execute(
        step("add_labels", "issue-21", async () => ++calls, { params: { labels: ["wontfix"] } }),
      )
      .catch((error: unknown) => error);
    expect(denied).toMatchObject({
      code: "POLICY_DENIED",
      action: "add_labels",
      violations: [{ param: "labels", constraint: "allowlist" }],
    });
    const unknown = await executor
      .execute(step("delete_repository", "repo", async () => ++calls))
      .catch((error: unknown) => error);
    expect(unknown).toMatchObject({
      code: "POLICY_DENIED",
      violations: [{ constraint: "unknown_tool" }],
    });
    expect(calls).toBe(0);
    expect(audit.records.map((record) => record.phase)).toEqual(["denied", "denied"]);
    expect(audit.records[0]?.error).toContain("add_labels.labels must be one of");
    expect(tokens()).toBe(before);
    const allowed = await executor.execute(
      step("add_labels", "issue-21", async () => ++calls, { params: { labels: ["bug"] } }),
    );
    expect(allowed.status).toBe("executed");
  });

  it("records a dry_run instead of running the side effect, per step or for the whole executor", async () => {
    const perStep = harness();
    let calls = 0;
    const outcome = await perStep.executor.execute(
      step("add_labels", "issue-22", async () => ++calls, { dryRun: true }),
    );
    expect(outcome).toMatchObject({ status: "dry_run", result: undefined });
    const everywhere = harness({ dryRun: true });
    await everywhere.executor.execute(step("add_issue_comment", "issue-22", async () => ++calls));
    const read = await everywhere.executor.execute(
      step("list_issues", "issues", async () => "issues", { kind: "read" }),
    );
    expect(read).toMatchObject({ status: "read", result: "issues" });
    expect(calls).toBe(0);
    for (const { audit, index } of [perStep, everywhere]) {
      expect(audit.records.map((record) => record.phase)).toEqual(["dry_run"]);
      expect(index.entries.size).toBe(0);
    }
  });
});

describe("issue 12 finding 9: every step option is checked before the first durable write", () => {
  it.each([
    ["timeoutMs", { timeoutMs: Number.NaN }],
    ["maxWaitMs", { maxWaitMs: -1 }],
    ["retry.maxAttempts", { retry: { maxAttempts: 0 } }],
    ["retry.baseDelayMs", { retry: { baseDelayMs: Number.POSITIVE_INFINITY } }],
    ["idempotencyKey", { idempotencyKey: "" }],
    ["idempotencyKey", { idempotencyKey: "   " }],
    ["idempotencyKey", { idempotencyKey: "delivery-1\ndelivery-2" }],
    ["idempotencyKey", { idempotencyKey: "delivery\u0000" }],
    ["breakerKey", { breakerKey: 7 as never }],
    ["strategy", { strategy: "yolo" as never }],
    ["dryRun", { dryRun: "yes" as never }],
    ["signal", { signal: {} as never }],
  ])("refuses a bad %s with nothing recorded", (name, extra) => {
    const { audit, index, executor } = harness();
    expect(() => executor.execute(step("add_labels", "issue-23", async () => 1, extra))).toThrow(
      new RegExp(name.replace(".", "\\.")),
    );
    expect(audit.records).toEqual([]);
    expect(index.entries.size).toBe(0);
  });
});

import type { SideEffectContext } from "@beauvoir/boot";
import { describe, expect, it } from "vitest";
import { bootReplica, expireLease } from "./support/boot-replica.js";
import { expectHistoryInvariants } from "./support/history-invariants.js";
import { useTestDatabase } from "./support/test-database.js";

const db = useTestDatabase();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A remote side of the steps that never answers: the replica running it looks busy, then dies. */
function never(): Promise<never> {
  return new Promise(() => {});
}

describe("boot({ backend: createPostgresBackend(…) })", () => {
  it("gives the executor, services and health of the file backend, shared by replicas", async () => {
    const first = await bootReplica(db);
    const second = await bootReplica(db);
    expect(first.app.mode).toBe("autonomous");
    expect(first.app.health.subsystems).toMatchObject({
      backend: "ok",
      auditTrail: "ok",
      idempotencyIndex: "ok",
      reconciliation: "ok",
    });
    expect(first.app.health.subsystems.filesystem).toBeUndefined();
    const seen: SideEffectContext[] = [];
    const step = {
      action: "add_labels",
      scope: "acme/widgets",
      resource: "issue-1",
      params: { labels: ["bug"] },
      run: async (context: SideEffectContext) => {
        seen.push(context);
        return { labels: ["bug"], at: 10n };
      },
    };
    const executed = await first.app.executor.execute(step);
    expect(executed).toMatchObject({ status: "executed", result: { labels: ["bug"], at: 10n } });
    // The other replica knows it: deduplicated, in the JSON-safe form recorded.
    const again = await second.app.executor.execute(step);
    expect(again).toEqual({
      status: "deduplicated",
      idempotencyKey: executed.idempotencyKey,
      result: { labels: ["bug"], at: "10" },
    });
    expect(seen).toHaveLength(1);
    // run() got the claim's attempt id and fence, the intent's record id.
    expect(seen[0]).toMatchObject({
      attempt: 1,
      attemptId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      fence: expect.any(Number),
      idempotencyKey: executed.idempotencyKey,
    });
    const { rows } = await db.admin.query(
      "SELECT attempt_id, fence::int, status FROM beauvoir.idempotency_keys WHERE key = $1",
      [executed.idempotencyKey],
    );
    expect(rows).toEqual([
      { attempt_id: seen[0]!.attemptId, fence: seen[0]!.fence, status: "completed" },
    ]);
    // Both backends give a call the same key.
    expect(first.app.services.idempotencyIndex?.generateKey("add_labels", "a/b", "c", {})).toBe(
      second.backend.idempotency.generateKey("add_labels", "a/b", "c", {}),
    );
    expect(await first.app.services.auditTrail?.verifyChain()).toMatchObject({
      valid: true,
      records: 2,
    });
    await first.app.shutdown();
    await second.app.shutdown();
    // Shutdown ended the leases at once.
    const leases = await db.admin.query(
      "SELECT count(*)::int AS live FROM beauvoir.instances WHERE stopped_at IS NULL",
    );
    expect(leases.rows).toEqual([{ live: 0 }]);
  });

  it("makes a replica wait for a key another live replica runs, then deduplicates it", async () => {
    const first = await bootReplica(db);
    const second = await bootReplica(db);
    let release: (value: { id: number }) => void = () => {};
    let runs = 0;
    const step = {
      action: "add_issue_comment",
      scope: "acme/widgets",
      resource: "issue-2",
      params: { body: "hello" },
      run: () => {
        runs++;
        return new Promise<{ id: number }>((resolve) => {
          release = resolve;
        });
      },
    };
    const running = first.app.executor.execute(step);
    await sleep(100);
    const waiting = second.app.executor.execute(step);
    await sleep(300);
    release({ id: 42 });
    expect(await running).toMatchObject({ status: "executed", result: { id: 42 } });
    expect(await waiting).toMatchObject({ status: "deduplicated", result: { id: 42 } });
    expect(runs).toBe(1);
    // A replica that waits longer than maxWaitMs gets KEY_IN_FLIGHT, and runs nothing.
    const slow = first.app.executor.execute({ ...step, resource: "issue-3", run: never });
    await sleep(100);
    await expect(
      second.app.executor.execute({ ...step, resource: "issue-3", maxWaitMs: 200 }),
    ).rejects.toMatchObject({ code: "KEY_IN_FLIGHT", runningAt: "another replica" });
    void slow.catch(() => {});
    await expireLease(db, first.backend);
    await expect(slow).rejects.toMatchObject({ code: "LEASE_LOST" });
    await second.app.shutdown();
    await first.app.shutdown();
  });

  it("takes over a dead replica's keys by their strategy: safe_retry re-runs, check_then_retry asks its hook, skip fails", async () => {
    const hookCalls: unknown[] = [];
    const dead = await bootReplica(db);
    const steps = {
      retry: {
        action: "add_labels",
        scope: "acme/widgets",
        resource: "issue-10",
        params: { labels: ["bug"] },
      },
      check: {
        action: "add_issue_comment",
        scope: "acme/widgets",
        resource: "issue-11",
        params: { body: "hi" },
      },
      skip: { action: "merge_pull_request", scope: "acme/widgets", resource: "pr-12", params: {} },
    } as const;
    const cutOff = Object.values(steps).map((step) =>
      dead.app.executor.execute({ ...step, run: never }).catch((error: unknown) => error),
    );
    await sleep(200);
    await expireLease(db, dead.backend);
    // The replica that lost its lease aborts its side effects (with the lease's
    // reason) and refuses new steps.
    for (const error of await Promise.all(cutOff)) {
      expect(error).toMatchObject({ code: "LEASE_LOST", reason: "expired" });
    }
    await expect(
      dead.app.executor.execute({ ...steps.retry, resource: "other", run: async () => 1 }),
    ).rejects.toMatchObject({ code: "LEASE_LOST" });

    const live = await bootReplica(db, {
      reconcilers: {
        add_issue_comment: async (context) => {
          hookCalls.push({ ...context, signal: undefined });
          return "done";
        },
      },
    });
    // Boot's step 5 took the three keys over and applied each strategy. (The
    // database is the earlier tests' too: a comment an earlier replica left
    // pending, which a boot without its hook leaves waiting for one, is taken
    // over here as well; only this test's keys are looked at.)
    const resources = new Set(Object.values(steps).map((step) => `/${step.resource}:`));
    const ours = (keys: readonly string[] | undefined) =>
      (keys ?? []).filter((key) => [...resources].some((resource) => key.includes(resource)));
    const report = live.app.reconciliation;
    expect({
      rerun: ours(report?.rerun),
      promoted: ours(report?.promoted),
      failed: ours(report?.failed),
    }).toEqual({
      rerun: [expect.stringMatching(/^add_labels:/)],
      promoted: [expect.stringMatching(/^add_issue_comment:/)],
      failed: [expect.stringMatching(/^merge_pull_request:/)],
    });
    expect(
      hookCalls.filter((call) => (call as { resource: string }).resource === steps.check.resource),
    ).toEqual([
      expect.objectContaining({
        action: "add_issue_comment",
        scope: "acme/widgets",
        resource: "issue-11",
        params: { body: "hi" },
        target: "acme/widgets/issue-11",
      }),
    ]);
    let reruns = 0;
    expect(
      await live.app.executor.execute({
        ...steps.retry,
        run: async () => {
          reruns++;
          return "labelled";
        },
      }),
    ).toMatchObject({ status: "executed" });
    expect(reruns).toBe(1);
    expect(await live.app.executor.execute({ ...steps.check, run: never })).toMatchObject({
      status: "reconciled",
    });
    await expect(live.app.executor.execute({ ...steps.skip, run: never })).rejects.toMatchObject({
      code: "STEP_FAILED",
      previousError: expect.stringMatching(/^OUTCOME_UNKNOWN: /),
    });
    await expectHistoryInvariants(db.admin, live.backend);
    await live.app.shutdown();
    await dead.app.shutdown();
  });

  it("gives the hook the step's identity again when it asks about a key it took over earlier", async () => {
    const dead = await bootReplica(db);
    const step = {
      action: "add_issue_comment",
      scope: "acme/widgets",
      resource: "issue-13",
      params: { body: "hello" },
    } as const;
    void dead.app.executor.execute({ ...step, run: never }).catch(() => {});
    await sleep(200);
    await expireLease(db, dead.backend);
    const hookCalls: Array<Record<string, unknown>> = [];
    const live = await bootReplica(db, {
      reconcilers: {
        add_issue_comment: async (context) => {
          hookCalls.push({ ...context, signal: undefined });
          if (hookCalls.length === 1) throw new Error("the listing failed");
          return "done";
        },
      },
    });
    // Boot took the key over, its hook failed: the key is this replica's, in doubt.
    expect(live.app.reconciliation?.unresolved).toEqual([
      expect.stringMatching(/^add_issue_comment:/),
    ]);
    expect(await live.app.executor.execute({ ...step, run: never })).toMatchObject({
      status: "reconciled",
    });
    const identity = {
      scope: "acme/widgets",
      resource: "issue-13",
      params: { body: "hello" },
      target: "acme/widgets/issue-13",
    };
    expect(hookCalls).toEqual([
      expect.objectContaining(identity),
      expect.objectContaining(identity),
    ]);
    await live.app.shutdown();
    await dead.app.shutdown();
  });

  it("takes over, while running, what a replica that dies later left pending", async () => {
    const live = await bootReplica(db, {
      backend: { takeoverIntervalMs: 100 },
      reconcilers: { add_issue_comment: async () => "not_done" },
    });
    const dead = await bootReplica(db);
    void dead.app.executor
      .execute({
        action: "add_issue_comment",
        scope: "acme/widgets",
        resource: "issue-20",
        params: { body: "x" },
        run: never,
      })
      .catch(() => {});
    await sleep(100);
    await expireLease(db, dead.backend);
    // Within a few takeover intervals on a quiet machine; the deadline leaves
    // room for a CI box whose two cores are shared with other suites.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { rows } = await db.admin.query(
        "SELECT status, error FROM beauvoir.idempotency_keys WHERE key LIKE 'add_issue_comment:acme/widgets/issue-20:%'",
      );
      if (rows[0]?.status === "released") {
        expect(rows[0].error).toMatch(/^TAKEN_OVER: /);
        break;
      }
      expect(Date.now(), `still ${rows[0]?.status} after 20 s`).toBeLessThan(deadline);
      await sleep(100);
    }
    await live.app.shutdown();
    await dead.app.shutdown();
  });
});

describe("workflow runs on the PostgreSQL backend", () => {
  const definition = {
    name: "triage",
    steps: [
      {
        name: "label",
        action: "add_labels",
        run: async ({ runId }: { runId: string }) => ({ labelled: runId }),
      },
      { name: "comment", action: "add_issue_comment", run: async () => ({ commented: true }) },
    ],
  };

  it("advances the run in the statement that settles its step, owned by the replica that started it", async () => {
    const replica = await bootReplica(db, {
      boot: {
        workflows: [definition],
        onDurablePoint: async (event) => {
          if (event.point !== "completed") return;
          // The step's settlement already moved the run on: one transaction.
          const { rows } = await db.admin.query(
            "SELECT next_step FROM beauvoir.workflow_runs WHERE run_id = 'run-1'",
          );
          advancedAtSettle.push(rows[0]?.next_step);
        },
      },
    });
    const advancedAtSettle: number[] = [];
    const runId = await replica.app.workflows.start("triage", { issue: 1 }, { runId: "run-1" });
    const state = await replica.app.workflows.run(runId);
    expect(state).toMatchObject({
      status: "completed",
      nextStep: 2,
      outputs: { label: { labelled: "run-1" }, comment: { commented: true } },
    });
    expect(advancedAtSettle).toEqual([1, 2]);
    const { rows } = await db.admin.query(
      "SELECT status, owner_id FROM beauvoir.workflow_runs WHERE run_id = 'run-1'",
    );
    expect(rows).toEqual([{ status: "completed", owner_id: replica.backend.instance.id }]);
    expect(await replica.app.workflows.listUnfinished()).toEqual([]);
    await replica.app.shutdown();
  });

  it("lets another replica take over a run whose owner died, and fences the old owner out", async () => {
    let hang = true;
    const hanging = {
      ...definition,
      steps: [
        definition.steps[0]!,
        {
          name: "comment",
          action: "add_issue_comment",
          run: async () => (hang ? never() : { commented: "by the survivor" }),
        },
      ],
    };
    const dead = await bootReplica(db, { boot: { workflows: [hanging] } });
    const runId = await dead.app.workflows.start("triage", {}, { runId: "run-2" });
    await dead.app.workflows.advance(runId);
    void dead.app.workflows.advance(runId).catch(() => {});
    await sleep(100);
    const live = await bootReplica(db, {
      boot: { workflows: [hanging] },
      reconcilers: { add_issue_comment: async () => "not_done" },
    });
    // Owned by a live replica: not taken.
    expect(await live.app.workflows.resumeUnfinished()).toEqual([]);
    await expireLease(db, dead.backend);
    hang = false;
    await sleep(50);
    const resumed = await live.app.workflows.resumeUnfinished();
    expect(resumed).toEqual([
      expect.objectContaining({
        runId: "run-2",
        status: "completed",
        outputs: { label: { labelled: "run-2" }, comment: { commented: "by the survivor" } },
      }),
    ]);
    const { rows } = await db.admin.query(
      "SELECT owner_id FROM beauvoir.workflow_runs WHERE run_id = 'run-2'",
    );
    expect(rows).toEqual([{ owner_id: live.backend.instance.id }]);
    // The old owner's store cannot write the run any more.
    expect(
      await dead.backend.workflowRuns.save(
        { ...(await dead.backend.workflowRuns.get("run-2"))!, status: "failed" },
        { runId: "run-2", fence: 1 },
      ),
    ).toBe(false);
    await expectHistoryInvariants(db.admin, live.backend);
    await live.app.shutdown();
    await dead.app.shutdown();
  });
});

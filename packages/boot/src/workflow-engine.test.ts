import { ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { MemoryAuditTrail, MemoryIdempotencyIndex, MemoryStoreFactory } from "../test/fakes.js";
import { DurableStepExecutor, type StepExecutorOptions } from "./step-executor.js";
import { type WorkflowDefinition, WorkflowEngine } from "./workflow-engine.js";

function setup(options: Partial<StepExecutorOptions> = {}) {
  const audit = new MemoryAuditTrail();
  const index = new MemoryIdempotencyIndex(audit);
  const stores = new MemoryStoreFactory();
  const clock = new ManualClock(5_000);
  const executor = new DurableStepExecutor({
    auditTrail: audit,
    idempotencyIndex: index,
    clock,
    ...options,
  });
  const engine = new WorkflowEngine({ executor, storeFactory: stores, clock });
  return { audit, index, stores, clock, executor, engine };
}

const calls: string[] = [];
const triage: WorkflowDefinition<{ issue: number }> = {
  name: "triage",
  steps: [
    {
      name: "read",
      action: "get_issue",
      kind: "read",
      run: async ({ input }) => {
        calls.push("read");
        return { title: `issue ${input.issue}` };
      },
    },
    {
      name: "label",
      action: "add_labels",
      identify: ({ input }) => ({
        scope: "acme/widgets",
        resource: `issue-${input.issue}`,
        params: { labels: ["bug"] },
      }),
      run: async ({ outputs, idempotencyKey }) => {
        calls.push("label");
        return { labelled: (outputs.read as { title: string }).title, key: idempotencyKey };
      },
    },
    {
      name: "comment",
      action: "add_issue_comment",
      run: async ({ runId }) => {
        calls.push("comment");
        return { commented: runId };
      },
    },
  ],
};

describe("WorkflowEngine", () => {
  it("runs the steps in order, passing outputs along, and saves progress after each", async () => {
    calls.length = 0;
    const { engine, index } = setup();
    const runId = await engine.start(triage, { issue: 12 }, { runId: "run-1" });
    expect(await engine.listUnfinished()).toEqual(["run-1"]);
    const first = await engine.advance(runId);
    expect(first).toMatchObject({ status: "running", step: "read", outcome: { status: "read" } });
    expect((await engine.getRun(runId))?.nextStep).toBe(1);
    const final = await engine.run(runId);
    expect(calls).toEqual(["read", "label", "comment"]);
    expect(final).toMatchObject({
      status: "completed",
      nextStep: 3,
      outputs: {
        read: { title: "issue 12" },
        label: { labelled: "issue 12" },
        comment: { commented: "run-1" },
      },
      createdAt: 5_000,
    });
    const labelKey = (final.outputs.label as { key: string }).key;
    expect(labelKey).toMatch(/^add_labels:acme\/widgets\/issue-12:/);
    expect(index.entries.get(labelKey)?.status).toBe("completed");
    // The default identity ties a step to its run.
    expect(
      [...index.entries.keys()].some((key) => key.startsWith("add_issue_comment:triage/run-1:")),
    ).toBe(true);
    expect(await engine.listUnfinished()).toEqual([]);
    expect(await engine.advance(runId)).toEqual({ runId, status: "completed" });
  });

  it("resumes unfinished runs without repeating completed side effects", async () => {
    calls.length = 0;
    const first = setup();
    const runId = await first.engine.start(triage, { issue: 3 });
    await first.engine.advance(runId);
    await first.engine.advance(runId);
    // A new engine over the same state, as after a restart; the step that was
    // running when the process died is deduplicated by the index.
    const restarted = new WorkflowEngine({ executor: first.executor, storeFactory: first.stores });
    const state = await first.stores.create<{ nextStep: number }>(`workflow-run.${runId}`).get();
    await first.stores.create(`workflow-run.${runId}`).set({ ...state, nextStep: 1 });
    restarted.register(triage);
    const finished = await restarted.resumeUnfinished();
    expect(finished.map((run) => [run.runId, run.status])).toEqual([[runId, "completed"]]);
    expect(calls).toEqual(["read", "label", "comment"]);
  });

  it("fails the run when a step fails for good, and keeps it running after a refusal", async () => {
    const { engine } = setup();
    engine.register({
      name: "flaky",
      steps: [
        {
          name: "post",
          action: "add_issue_comment",
          run: async () => {
            throw new Error("422 validation failed");
          },
        },
      ],
    });
    const runId = await engine.start("flaky", {});
    expect(await engine.advance(runId)).toEqual({ runId, status: "failed", step: "post" });
    expect(await engine.getRun(runId)).toMatchObject({
      status: "failed",
      error: 'step "post": 422 validation failed',
    });
    expect(await engine.listUnfinished()).toEqual([]);

    const degraded = new WorkflowEngine({
      executor: new DurableStepExecutor({ mode: "degraded" }),
      storeFactory: new MemoryStoreFactory(),
    });
    const waiting = await degraded.start(triage, { issue: 1 });
    await degraded.advance(waiting);
    await expect(degraded.advance(waiting)).rejects.toMatchObject({ code: "DEGRADED_MODE" });
    expect(await degraded.getRun(waiting)).toMatchObject({ status: "running", nextStep: 1 });
    expect(await degraded.resumeUnfinished()).toEqual([]);
  });

  it("starts a run once per run id", async () => {
    const { engine, stores } = setup();
    await engine.start(triage, { issue: 1 }, { runId: "same" });
    const writes = stores.writes;
    expect(await engine.start(triage, { issue: 2 }, { runId: "same" })).toBe("same");
    expect(stores.writes).toBe(writes);
    expect((await engine.getRun("same"))?.input).toEqual({ issue: 1 });
  });

  it("serialises advances of one run", async () => {
    calls.length = 0;
    const { engine } = setup();
    const runId = await engine.start(triage, { issue: 4 });
    const results = await Promise.all([
      engine.advance(runId),
      engine.advance(runId),
      engine.advance(runId),
    ]);
    expect(results.map((result) => result.step)).toEqual(["read", "label", "comment"]);
    expect(calls).toEqual(["read", "label", "comment"]);
  });

  it("skips runs of workflows it does not know when resuming", async () => {
    const { engine, stores, executor } = setup();
    const runId = await engine.start(triage, { issue: 9 });
    const other = new WorkflowEngine({ executor, storeFactory: stores });
    expect(await other.resumeUnfinished()).toEqual([]);
    await expect(other.advance(runId)).rejects.toMatchObject({ code: "WORKFLOW_NOT_FOUND" });
    expect(await other.listUnfinished()).toEqual([runId]);
  });

  it("reports unknown runs and workflows, refuses work after stop, and needs a store", async () => {
    const { engine, executor } = setup();
    await expect(engine.advance("nope")).rejects.toMatchObject({
      code: "WORKFLOW_NOT_FOUND",
      identifier: "nope",
    });
    await expect(engine.start("nope", {})).rejects.toMatchObject({ code: "WORKFLOW_NOT_FOUND" });
    await expect(engine.start(triage, { issue: 0 }, { runId: "../escape" })).rejects.toMatchObject({
      code: "INVALID_NAME",
    });
    expect(await engine.getRun("missing")).toBeNull();
    engine.stop();
    await expect(engine.start(triage, { issue: 0 })).rejects.toMatchObject({
      code: "SHUTTING_DOWN",
    });
    await expect(engine.advance("x")).rejects.toMatchObject({ code: "SHUTTING_DOWN" });
    const storeless = new WorkflowEngine({ executor, storeFactory: undefined });
    await expect(storeless.start(triage, { issue: 0 })).rejects.toMatchObject({
      code: "SUBSYSTEM_UNAVAILABLE",
      subsystem: "store",
    });
  });

  it("rejects malformed definitions", () => {
    const { engine, executor } = setup();
    expect(() => new WorkflowEngine({} as never)).toThrow(/executor/);
    expect(() => new WorkflowEngine({ executor, storeFactory: undefined })).not.toThrow();
    expect(() => engine.register({ name: "", steps: [] })).toThrow(/name/);
    expect(() => engine.register({ name: "w", steps: [] })).toThrow(/at least one step/);
    const step = { name: "a", action: "x", run: async () => 1 };
    expect(() => engine.register({ name: "w", steps: [step, step] })).toThrow(/unique/);
    expect(() =>
      engine.register({ name: "w", steps: [{ name: "a", action: "x" } as never] }),
    ).toThrow(/run function/);
  });

  it("keeps the run where it was when saving progress fails", async () => {
    calls.length = 0;
    const { engine, stores } = setup();
    const runId = await engine.start(triage, { issue: 5 });
    stores.failNextSet = new Error("EIO");
    await expect(engine.advance(runId)).rejects.toThrow("EIO");
    expect((await engine.getRun(runId))?.nextStep).toBe(0);
    await engine.run(runId);
    expect(calls).toEqual(["read", "read", "label", "comment"]);
  });

  it("drops a finished run from the active list when a crash left it there", async () => {
    const { engine, stores } = setup();
    const runId = await engine.start(triage, { issue: 6 });
    await engine.run(runId);
    // As if the process died after saving the final state, before updating the list.
    await stores.create<{ active: string[] }>("workflow-runs").set({ active: [runId] });
    expect(await engine.listUnfinished()).toEqual([runId]);
    const resumed = await engine.resumeUnfinished();
    expect(resumed.map((run) => run.status)).toEqual(["completed"]);
    expect(await engine.listUnfinished()).toEqual([]);
  });

  it("drains running advances so their run state is saved", async () => {
    const { engine, executor, clock } = setup();
    let finish: (value: string) => void = () => {};
    const runId = await engine.start(
      {
        name: "slow",
        steps: [
          {
            name: "wait",
            action: "create_branch",
            run: () => new Promise<string>((resolve) => (finish = resolve)),
          },
        ],
      },
      {},
    );
    const advancing = engine.advance(runId);
    await new Promise((resolve) => setTimeout(resolve, 5));
    engine.stop();
    executor.stop();
    const impatient = engine.drain(10);
    clock.advance(10);
    expect(await impatient).toBe(false);
    const drained = engine.drain(5_000);
    finish("done");
    expect(await drained).toBe(true);
    expect((await advancing).status).toBe("completed");
    expect((await engine.getRun(runId))?.outputs).toEqual({ wait: "done" });
    expect(await engine.drain(0)).toBe(true);
  });
});

describe("WorkflowEngine and the executor's new options", () => {
  it("passes step options through, keeps outputs JSON-safe, and fails a run on a terminal thrown value", async () => {
    const { audit, engine } = setup({ retry: { baseDelayMs: 0 } });
    let attempts = 0;
    const runId = await engine.start(
      {
        name: "options",
        steps: [
          {
            name: "big",
            action: "create_branch",
            identify: () => ({
              scope: "acme/widgets",
              resource: "branch",
              params: {},
              idempotencyKey: "delivery-1",
            }),
            retry: { maxAttempts: 2 },
            failureKind: () => "not_sent",
            run: async () => {
              if (++attempts === 1) throw new Error("first attempt refused");
              return { id: 12345678901234567890n, labels: new Set(["bug"]) };
            },
          },
          {
            name: "doomed",
            action: "merge_pull_request",
            strategy: "skip",
            run: () => Promise.reject("a bare string"),
          },
        ],
      },
      {},
    );
    const state = await engine.run(runId);
    expect(attempts).toBe(2);
    expect(state.outputs.big).toEqual({ id: "12345678901234567890", labels: ["bug"] });
    expect(state.status).toBe("failed");
    expect(state.error).toBe('step "doomed": a bare string');
    expect(audit.records[0]?.dedupeKey).toBe("delivery-1");
  });

  it("leaves the run where it was on a failure that is not terminal", async () => {
    const { engine } = setup({ retry: { maxAttempts: 1 } });
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    let calls = 0;
    const runId = await engine.start(
      {
        name: "flaky",
        steps: [
          {
            name: "post",
            action: "add_issue_comment",
            run: async () => {
              if (++calls === 1) throw refused;
              return "posted";
            },
          },
        ],
      },
      {},
    );
    await expect(engine.run(runId)).rejects.toBe(refused);
    expect((await engine.getRun(runId))?.status).toBe("running");
    expect((await engine.run(runId)).status).toBe("completed");
  });
});

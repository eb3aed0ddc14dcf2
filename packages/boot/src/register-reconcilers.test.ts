// Reconcile hooks registered after construction: what an integration built
// from boot()'s result (such as @beauvoir/octokit) uses, since boot's step 5
// runs before it exists.
import { describe, expect, it } from "vitest";
import { MemoryAuditTrail, MemoryIdempotencyIndex } from "../test/fakes.js";
import type { ReconcileHook } from "./executor-context.js";
import { DurableStepExecutor } from "./step-executor.js";

function setup(reconcilers: Record<string, ReconcileHook> = {}) {
  const audit = new MemoryAuditTrail();
  const index = new MemoryIdempotencyIndex(audit);
  const executor = new DurableStepExecutor({
    auditTrail: audit,
    idempotencyIndex: index,
    reconcilers,
  });
  return { audit, index, executor };
}

async function leavePending(
  context: ReturnType<typeof setup>,
  action: string,
  resource: string,
): Promise<string> {
  const key = context.index.generateKey(action, "acme/widgets", resource, {});
  const intentSeq = await context.audit.recordIntent({
    action,
    target: `acme/widgets/${resource}`,
    params: { scope: "acme/widgets", resource, params: {} },
    dedupeKey: key,
  });
  await context.index.markPending(key, intentSeq);
  return key;
}

describe("a check_then_retry key whose hook comes after boot", () => {
  it("waits for the hook at boot's pass instead of being failed, then is reconciled when one is registered", async () => {
    const context = setup();
    const key = await leavePending(context, "add_issue_comment", "issue-1");
    const boot = await context.executor.reconcilePending({ waitForHooks: true });
    expect(boot).toMatchObject({ awaitingHook: [key], failed: [], unresolved: [] });
    expect(context.index.entries.get(key)?.status).toBe("pending");
    // The intent stays open: the step's outcome is still unknown.
    expect(boot.closedIntents).toEqual([]);

    const asked: Array<{ scope: string; resource: string }> = [];
    const report = await context.executor.registerReconcilers({
      add_issue_comment: async ({ scope, resource }) => {
        asked.push({ scope, resource });
        return "done";
      },
    });
    expect(report).toMatchObject({ registered: ["add_issue_comment"], promoted: [key] });
    expect(asked).toEqual([{ scope: "acme/widgets", resource: "issue-1" }]);
    expect(context.index.entries.get(key)).toMatchObject({
      status: "completed",
      result: { $reconciled: "done", by: "hook" },
    });
    expect(context.executor.hasReconciler("add_issue_comment")).toBe(true);
  });

  it("is failed at its next execute() when no hook ever came, as without waiting", async () => {
    const context = setup();
    await leavePending(context, "create_pull_request", "pr-3");
    await context.executor.reconcilePending({ waitForHooks: true });
    await expect(
      context.executor.execute({
        action: "create_pull_request",
        scope: "acme/widgets",
        resource: "pr-3",
        params: {},
        run: async () => "posted again",
      }),
    ).rejects.toMatchObject({
      code: "STEP_FAILED",
      previousError: expect.stringMatching(/^OUTCOME_UNKNOWN: .*no reconcile hook/),
    });
  });

  it("keeps a hook the caller registered, and only reconciles the actions it added", async () => {
    const own: ReconcileHook = async () => "not_done";
    const context = setup({ add_issue_comment: own });
    const comment = await leavePending(context, "add_issue_comment", "issue-2");
    const review = await leavePending(context, "create_pull_request", "pr-4");
    const boot = await context.executor.reconcilePending({ waitForHooks: true });
    expect(boot).toMatchObject({ rerun: [comment], awaitingHook: [review] });
    let integrationAsked = 0;
    const integration: ReconcileHook = async () => {
      integrationAsked++;
      return "not_done";
    };
    const report = await context.executor.registerReconcilers({
      add_issue_comment: integration,
      create_pull_request: integration,
    });
    expect(report.registered).toEqual(["create_pull_request"]);
    expect(report.rerun).toEqual([review]);
    // The comment was the caller's hook's business; an orphan intent is left to boot's pass.
    expect(integrationAsked).toBe(1);
    const again = await context.executor.registerReconcilers({ create_pull_request: integration });
    expect(again).toMatchObject({ registered: [], rerun: [], promoted: [] });
  });

  it("refuses a hook that is not a function, before registering any", () => {
    const { executor } = setup();
    expect(() =>
      executor.registerReconcilers({
        create_pull_request: async () => "done",
        add_issue_comment: "yes" as unknown as ReconcileHook,
      }),
    ).toThrow(/hooks\.add_issue_comment must be a function/);
    expect(executor.hasReconciler("create_pull_request")).toBe(false);
    expect(() => executor.registerReconcilers(null as never)).toThrow(TypeError);
  });
});

import { describe, expect, it, vi } from "vitest";
import type { DurablePointEvent } from "../src/index.js";
import { boot } from "../src/index.js";
import type { SideEffectContext } from "../src/step-request.js";
import { SharedMemory } from "./shared-memory-backend.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const never = (): Promise<never> => new Promise(() => {});
const quiet = { log: { level: "silent" as const } };

function bootOn(
  replica: ReturnType<SharedMemory["replica"]>,
  config: Record<string, unknown> = {},
) {
  return boot({ backend: replica, ...quiet, ...config });
}

const comment = (resource: string) => ({
  action: "add_issue_comment",
  scope: "acme/widgets",
  resource,
  params: { body: `on ${resource}` },
});

describe("boot({ backend })", () => {
  it("uses the backend's services, takes no single-instance lock and needs no dataDir", async () => {
    const shared = new SharedMemory();
    const replica = shared.replica();
    const app = await bootOn(replica);
    expect(app.mode).toBe("autonomous");
    expect(app.health.subsystems).toMatchObject({ backend: "ok", auditTrail: "ok" });
    expect(app.health.subsystems.filesystem).toBeUndefined();
    expect(app.health.subsystems.instanceLock).toBeUndefined();
    expect(app.services.auditTrail).toBe(shared.audit);
    // A second replica on the same backend boots side by side.
    const other = await bootOn(shared.replica());
    expect(other.mode).toBe("autonomous");
    await app.shutdown();
    await other.shutdown();
    expect(replica.closed).toBe(true);
  });

  it("refuses a malformed backend, and aborts when the backend cannot open (closing nothing it did not open)", async () => {
    await expect(boot({ backend: {} as never, ...quiet })).rejects.toMatchObject({
      code: "BOOT_FAILED",
      step: "config",
    });
    await expect(
      boot({ backend: { name: "", open: async () => ({}) } as never, ...quiet }),
    ).rejects.toMatchObject({ step: "config" });
    const failing = new SharedMemory().replica({ failOpen: new Error("schema missing") });
    await expect(bootOn(failing)).rejects.toMatchObject({
      code: "BOOT_FAILED",
      step: "backend",
      message: expect.stringContaining("schema missing"),
    });
    // A P0 failure after the backend opened closes it.
    const opened = new SharedMemory().replica();
    await expect(
      bootOn(opened, { actionPolicy: { tools: { a: {} } }, toolNames: [] }),
    ).rejects.toMatchObject({ step: "tools" });
    expect(opened.closed).toBe(true);
  });

  it("runs a step as one claim and one settlement, handing run() the attempt id and fence", async () => {
    const shared = new SharedMemory();
    const points: DurablePointEvent["point"][] = [];
    const app = await bootOn(shared.replica(), {
      onDurablePoint: (event: DurablePointEvent) => points.push(event.point),
    });
    const seen: SideEffectContext[] = [];
    const outcome = await app.executor.execute({
      ...comment("issue-1"),
      run: async (context) => {
        seen.push(context);
        return { id: 1 };
      },
    });
    expect(outcome.status).toBe("executed");
    expect(shared.calls).toEqual([
      `claim:${outcome.idempotencyKey}`,
      `settle:${outcome.idempotencyKey}:completed`,
    ]);
    expect(points).toEqual(["intent", "pending", "execute", "result", "completed"]);
    const key = shared.keys.get(outcome.idempotencyKey);
    expect(seen[0]).toMatchObject({ attemptId: key?.attemptId, fence: key?.fence });
    expect(await app.executor.execute({ ...comment("issue-1"), run: never })).toMatchObject({
      status: "deduplicated",
      result: { id: 1 },
    });
    await app.shutdown();
  });

  it("records a retried failure as a released attempt, and a rejection as a failed key", async () => {
    const shared = new SharedMemory();
    const app = await bootOn(shared.replica(), {
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    });
    let calls = 0;
    const outcome = await app.executor.execute({
      ...comment("issue-2"),
      run: async () => {
        calls++;
        if (calls === 1) throw Object.assign(new Error("refused"), { code: "ECONNREFUSED" });
        return "ok";
      },
    });
    expect(outcome.status).toBe("executed");
    const key = outcome.idempotencyKey;
    expect(shared.calls).toEqual([
      `claim:${key}`,
      `settle:${key}:released`,
      `claim:${key}`,
      `settle:${key}:completed`,
    ]);
    const rejected = app.executor.execute({
      ...comment("issue-3"),
      run: async () => {
        throw new Response("{}", { status: 422 });
      },
    });
    await expect(rejected).rejects.toBeInstanceOf(Response);
    expect(shared.calls.at(-1)).toMatch(/:failed$/);
    await app.shutdown();
  });

  it("waits for a key another live replica runs, and gives up with KEY_IN_FLIGHT after maxWaitMs", async () => {
    const shared = new SharedMemory();
    const first = await bootOn(shared.replica());
    const second = await bootOn(shared.replica());
    let finish: (value: string) => void = () => {};
    const running = first.executor.execute({
      ...comment("issue-4"),
      run: () =>
        new Promise<string>((resolve) => {
          finish = resolve;
        }),
    });
    await sleep(20);
    const waiting = second.executor.execute({ ...comment("issue-4"), run: never });
    await sleep(120);
    finish("posted");
    await running;
    expect(await waiting).toMatchObject({ status: "deduplicated", result: "posted" });
    void first.executor.execute({ ...comment("issue-5"), run: never }).catch(() => {});
    await sleep(20);
    await expect(
      second.executor.execute({ ...comment("issue-5"), maxWaitMs: 100, run: never }),
    ).rejects.toMatchObject({ code: "KEY_IN_FLIGHT", runningAt: "another replica" });
    // Another replica claiming first, between the check and the claim: looked at again.
    const third = shared.replica();
    const app = await bootOn(third);
    third.loseNextClaim = true;
    expect(await app.executor.execute({ ...comment("issue-6"), run: never })).toMatchObject({
      status: "deduplicated",
      result: "by the other replica",
    });
    await Promise.all([first.shutdown({ timeoutMs: 10 }), second.shutdown(), app.shutdown()]);
  });

  it("aborts running side effects and refuses new steps once the lease is lost", async () => {
    const shared = new SharedMemory();
    const replica = shared.replica();
    const app = await bootOn(replica);
    let effectSignal: AbortSignal | undefined;
    const running = app.executor.execute({
      ...comment("issue-7"),
      run: (context) => {
        effectSignal = context.signal;
        return never();
      },
    });
    await sleep(20);
    replica.loseLease();
    await expect(running).rejects.toMatchObject({ code: "LEASE_LOST" });
    expect(effectSignal?.aborted).toBe(true);
    await expect(
      app.executor.execute({ ...comment("issue-8"), run: async () => 1 }),
    ).rejects.toMatchObject({ code: "LEASE_LOST" });
    // The key stays pending, for the replica that takes it over.
    expect([...shared.keys.values()].map((entry) => entry.status)).toEqual(["pending"]);
    await app.shutdown();
    // An executor given a lease that is already gone starts nothing.
    const gone = shared.replica();
    gone.lease.abort(new Error("gone"));
    const late = await bootOn(gone);
    await expect(late.executor.execute({ ...comment("x"), run: async () => 1 })).rejects.toThrow(
      "gone",
    );
    await late.shutdown();
  });

  it("takes over a dead replica's key when a step meets it, by its strategy", async () => {
    const shared = new SharedMemory();
    const hook = vi.fn(async ({ resource }: { resource: string }) =>
      resource === "issue-10" ? ("done" as const) : ("not_done" as const),
    );
    // Booted before the other one dies: its boot takes nothing over.
    const live = await bootOn(shared.replica(), { reconcilers: { add_issue_comment: hook } });
    const dead = shared.replica();
    const deadApp = await bootOn(dead);
    const labels = { action: "add_labels", scope: "acme/widgets", resource: "issue-9", params: {} };
    const skipped = {
      action: "merge_pull_request",
      scope: "acme/widgets",
      resource: "pr-1",
      params: {},
    };
    for (const step of [labels, comment("issue-10"), comment("issue-11"), skipped]) {
      void deadApp.executor.execute({ ...step, run: never }).catch(() => {});
    }
    await sleep(30);
    dead.die();
    const reran = await live.executor.execute({ ...labels, run: async () => "again" });
    expect(reran).toMatchObject({ status: "executed", result: "again" });
    expect(shared.calls).toContain(`takeOver:${reran.idempotencyKey}`);
    expect(shared.calls).toContain(`claim:${reran.idempotencyKey}:supersede`);
    expect(await live.executor.execute({ ...comment("issue-10"), run: never })).toMatchObject({
      status: "reconciled",
    });
    expect(hook).toHaveBeenCalledWith(
      expect.objectContaining({ resource: "issue-10", params: { body: "on issue-10" } }),
    );
    expect(
      await live.executor.execute({ ...comment("issue-11"), run: async () => "posted" }),
    ).toMatchObject({ status: "executed" });
    await expect(live.executor.execute({ ...skipped, run: never })).rejects.toMatchObject({
      code: "STEP_FAILED",
      previousError: expect.stringMatching(/^OUTCOME_UNKNOWN: /),
    });
    await live.shutdown();
    await deadApp.shutdown({ timeoutMs: 10 });
  });

  it("releases at boot, and while running, what dead replicas left to run again", async () => {
    const shared = new SharedMemory();
    const dead = shared.replica();
    const deadApp = await bootOn(dead);
    const labels = {
      action: "add_labels",
      scope: "acme/widgets",
      resource: "issue-12",
      params: {},
    };
    void deadApp.executor.execute({ ...labels, run: never }).catch(() => {});
    await sleep(20);
    dead.die();
    const live = await bootOn(shared.replica({ takeoverIntervalMs: 20 }));
    expect(live.reconciliation?.rerun).toHaveLength(1);
    const [entry] = shared.keys.values();
    expect(entry).toMatchObject({
      status: "released",
      error: expect.stringMatching(/^TAKEN_OVER: /),
    });
    // A replica that dies while this one runs: taken over by the periodic round.
    const later = shared.replica();
    const laterApp = await bootOn(later);
    void laterApp.executor.execute({ ...labels, resource: "issue-13", run: never }).catch(() => {});
    await sleep(20);
    later.die();
    await vi.waitFor(() =>
      expect([...shared.keys.values()].map((key) => key.status)).toEqual(["released", "released"]),
    );
    await live.shutdown();
    await laterApp.shutdown({ timeoutMs: 10 });
    await deadApp.shutdown({ timeoutMs: 10 });
  });

  it("reports a settlement the backend refused (STEP_SUPERSEDED), and keeps a failure's own error", async () => {
    const shared = new SharedMemory();
    const app = await bootOn(shared.replica(), { retry: { maxAttempts: 1 } });
    const steal = (resource: string) => {
      const entry = [...shared.keys.values()].find((key) => key.key.includes(resource));
      if (entry) entry.attemptId = "taken-over";
    };
    await expect(
      app.executor.execute({
        ...comment("issue-14"),
        run: async () => {
          steal("issue-14");
          return "done";
        },
      }),
    ).rejects.toMatchObject({ code: "STEP_SUPERSEDED" });
    const failure = new Response("{}", { status: 422 });
    await expect(
      app.executor.execute({
        ...comment("issue-15"),
        run: async () => {
          steal("issue-15");
          throw failure;
        },
      }),
    ).rejects.toBe(failure);
    await app.shutdown();
  });

  it("applies an operator's decisions in one call to the backend", async () => {
    const shared = new SharedMemory();
    const app = await bootOn(shared.replica());
    const { idempotencyKey } = await app.executor.execute({
      ...comment("issue-16"),
      run: async () => 1,
    });
    await app.executor.resetKey(idempotencyKey, { reason: "again" });
    expect(shared.calls.at(-1)).toBe(`decide:${idempotencyKey}:reset`);
    expect(
      await app.executor.execute({ ...comment("issue-16"), run: async () => 2 }),
    ).toMatchObject({
      status: "executed",
      result: 2,
    });
    expect(await app.executor.resolveKey(idempotencyKey, "done")).toMatchObject({
      status: "completed",
    });
    expect(shared.keys.get(idempotencyKey)?.result).toEqual({
      $reconciled: "done",
      by: "operator",
    });
    await app.shutdown();
  });

  it("advances a workflow run in the step's settlement, and lets only its owner advance it", async () => {
    const shared = new SharedMemory();
    const definition = {
      name: "triage",
      steps: [
        { name: "label", action: "add_labels", run: async () => "labelled" },
        { name: "comment", action: "add_issue_comment", run: async () => "commented" },
      ],
    };
    const owner = shared.replica();
    const app = await bootOn(owner, { workflows: [definition] });
    const runId = await app.workflows.start("triage", {}, { runId: "run-1" });
    const advanced = await app.workflows.advance(runId);
    expect(advanced.status).toBe("running");
    expect(shared.runs.get(runId)?.state).toMatchObject({
      nextStep: 1,
      outputs: { label: "labelled" },
    });
    const other = await bootOn(shared.replica(), { workflows: [definition] });
    await expect(other.workflows.advance(runId)).rejects.toMatchObject({
      code: "WORKFLOW_RUN_OWNED",
    });
    expect(await other.workflows.resumeUnfinished()).toEqual([]);
    owner.die();
    expect(await other.workflows.resumeUnfinished()).toEqual([
      expect.objectContaining({
        runId,
        status: "completed",
        outputs: { label: "labelled", comment: "commented" },
      }),
    ]);
    // The old owner's ownership is gone: its next write is refused, and it
    // reads the run as the store has it from then on.
    await expect(app.workflows.advance(runId)).rejects.toMatchObject({
      code: "WORKFLOW_RUN_OWNED",
    });
    expect(await app.workflows.getRun(runId)).toMatchObject({ status: "completed" });
    await app.shutdown();
    await other.shutdown();
  });

  it("keeps breaker state through a store shared by replicas, re-reading after a conflict", async () => {
    const shared = new SharedMemory();
    const threshold = { failureThreshold: 1, resetTimeoutMs: 60_000 };
    const first = await bootOn(shared.replica(), { circuitBreaker: threshold });
    const second = await bootOn(shared.replica(), { circuitBreaker: threshold });
    const failing = (app: typeof first, resource: string) =>
      app.executor
        .execute({
          ...comment(resource),
          retry: { maxAttempts: 1 },
          run: async () => {
            throw new Response("{}", { status: 502 });
          },
        })
        .catch(() => undefined);
    await failing(first, "issue-17");
    await failing(second, "issue-18");
    await first.shutdown();
    await second.shutdown();
    const saved = shared.documents.get("resilience-state")?.value as {
      breakers: Record<string, unknown>;
      limiterBlocks: unknown;
    };
    expect(Object.keys(saved.breakers)).toContain("add_issue_comment");
    expect(shared.documents.get("resilience-state")?.epoch).toBeGreaterThanOrEqual(2);
  });
});

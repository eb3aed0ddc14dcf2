// Observability without dependencies: every channel the packages publish on,
// subscribed to at once, while a booted app runs steps that succeed, fail,
// hit a rate limit, wait for a token and open a breaker.
import { type Channel, channel, tracingChannel } from "node:diagnostics_channel";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { boot } from "./boot-orchestrator.js";
import { BEAUVOIR_CHANNELS, type StepTraceContext } from "./diagnostics.js";

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

function rateLimitError(): Error {
  return Object.assign(new Error("You have exceeded a secondary rate limit."), {
    status: 403,
    response: {
      status: 403,
      headers: { "retry-after": "1" },
      data: { message: "You have exceeded a secondary rate limit." },
    },
  });
}

it("publishes steps, attempts, durable points, breaker transitions, limiter waits and blocks, and audit appends", async () => {
  const seen: Record<string, unknown[]> = {};
  const subscribe = (name: string) => {
    seen[name] = [];
    const listener = (message: unknown) => seen[name]?.push(message);
    const subscribed: Channel = channel(name);
    subscribed.subscribe(listener);
    cleanup.push(() => subscribed.unsubscribe(listener));
  };
  for (const [key, name] of Object.entries(BEAUVOIR_CHANNELS)) if (key !== "step") subscribe(name);
  const trace: Record<string, StepTraceContext[]> = {
    start: [],
    end: [],
    asyncStart: [],
    asyncEnd: [],
    error: [],
  };
  const handlers = {
    start: (context: StepTraceContext) => trace.start?.push(context),
    end: (context: StepTraceContext) => trace.end?.push(context),
    asyncStart: (context: StepTraceContext) => trace.asyncStart?.push(context),
    asyncEnd: (context: StepTraceContext) => trace.asyncEnd?.push(context),
    error: (context: StepTraceContext) => trace.error?.push(context),
  };
  const steps = tracingChannel<StepTraceContext>(BEAUVOIR_CHANNELS.step);
  steps.subscribe(handlers);
  cleanup.push(() => steps.unsubscribe(handlers));

  const dataDir = await mkdtemp(join(tmpdir(), "beauvoir-channels-"));
  cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
  const app = await boot({
    dataDir,
    log: { level: "silent" },
    retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
    circuitBreaker: { failureThreshold: 2, openDurationMs: 60_000 },
    rateLimiter: { global: { capacity: 1, refillPerHour: 7_200 } },
  });
  cleanup.push(() => app.shutdown());
  const step = { scope: "acme/widgets", resource: "issue-1", params: {} };

  // A write that succeeds after a secondary limit: a block, then a wait for the token.
  let calls = 0;
  await app.executor.execute({
    ...step,
    action: "add_labels",
    run: async () => {
      calls++;
      if (calls === 1) throw rateLimitError();
      return { ok: true };
    },
  });
  // A flaky action that fails twice (two attempts): its breaker opens.
  const failed = await app.executor
    .execute({
      ...step,
      action: "create_branch",
      resource: "branch-1",
      run: async () => {
        throw Object.assign(new Error("Server Error"), { status: 502 });
      },
    })
    .catch((error: unknown) => error);
  expect(failed).toMatchObject({ status: 502 });

  expect(trace.start?.map((context) => context.action)).toEqual(["add_labels", "create_branch"]);
  expect(trace.asyncEnd?.[0]?.result).toMatchObject({ status: "executed", attempts: 2 });
  expect(trace.error?.[0]).toMatchObject({ action: "create_branch", error: { status: 502 } });
  expect(trace.end).toHaveLength(2);
  expect(seen[BEAUVOIR_CHANNELS.stepAttempt]).toEqual([
    expect.objectContaining({
      action: "add_labels",
      attempt: 1,
      kind: "not_sent",
      failureClass: "rate_limited",
      status: 403,
    }),
    expect.objectContaining({
      action: "create_branch",
      attempt: 1,
      kind: "ambiguous",
      status: 502,
    }),
    expect.objectContaining({
      action: "create_branch",
      attempt: 2,
      kind: "ambiguous",
      status: 502,
    }),
  ]);
  expect(
    (seen[BEAUVOIR_CHANNELS.stepDurable] as Array<{ point: string; action: string }>)
      .filter((message) => message.action === "add_labels")
      .map((message) => message.point),
  ).toEqual(["intent", "pending", "intent", "pending", "execute", "result", "completed"]);
  expect(seen[BEAUVOIR_CHANNELS.limiterBlock]).toEqual([
    expect.objectContaining({
      reason: "recorded",
      kind: "secondary",
      retryAfterSec: 1,
      workflowId: "default",
    }),
  ]);
  const waits = seen[BEAUVOIR_CHANNELS.limiterWait] as Array<{ outcome: string; waitedMs: number }>;
  expect(waits.length).toBeGreaterThan(0);
  expect(waits.every((wait) => wait.outcome === "granted" && wait.waitedMs >= 0)).toBe(true);
  expect(seen[BEAUVOIR_CHANNELS.breakerState]).toEqual([
    expect.objectContaining({ name: "create_branch", from: "CLOSED", to: "OPEN" }),
  ]);
  const appends = seen[BEAUVOIR_CHANNELS.auditAppend] as Array<{
    phase: string;
    action: string;
    seq: number;
    error?: string;
  }>;
  expect(appends.map((record) => `${record.action} ${record.phase}`)).toEqual([
    "add_labels intent",
    "add_labels result",
    "add_labels intent",
    "add_labels result",
    "create_branch intent",
    "create_branch result",
    "create_branch intent",
    "create_branch result",
  ]);
  expect(appends.map((record) => record.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(appends[1]?.error).toMatch(/^RETRYING: /);
});

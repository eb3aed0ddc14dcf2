// The bridge with the real OpenTelemetry SDK: what a trace backend would get.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { boot } from "@beauvoir/boot";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterEach, expect, it } from "vitest";
import { bridgeToOpenTelemetry } from "../src/otel-bridge.js";

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

it("turns steps into spans, with their attempts, audit records, blocks and waits", async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  cleanup.push(bridgeToOpenTelemetry(provider.getTracer("test")));
  const dataDir = await mkdtemp(join(tmpdir(), "beauvoir-otel-test-"));
  cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
  const app = await boot({
    dataDir,
    log: { level: "silent" },
    retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
    circuitBreaker: { failureThreshold: 2 },
    rateLimiter: { global: { capacity: 1, refillPerHour: 7_200 } },
  });
  cleanup.push(() => app.shutdown());
  let calls = 0;
  await app.executor.execute({
    action: "add_labels",
    scope: "acme/widgets",
    resource: "issue-1",
    params: {},
    run: async () => {
      if (++calls === 1) {
        throw Object.assign(new Error("You have exceeded a secondary rate limit."), {
          status: 403,
          response: { status: 403, headers: { "retry-after": "1" }, data: {} },
        });
      }
      return { ok: true };
    },
  });
  await app.executor
    .execute({
      action: "create_branch",
      scope: "acme/widgets",
      resource: "branch-1",
      params: {},
      run: async () => {
        throw Object.assign(new Error("Server Error"), { status: 502 });
      },
    })
    .catch(() => {});

  const spans = exporter.getFinishedSpans();
  const labels = spans.find((span) => span.name === "beauvoir.step add_labels");
  const branch = spans.find((span) => span.name === "beauvoir.step create_branch");
  expect(labels?.attributes).toMatchObject({
    "beauvoir.action": "add_labels",
    "beauvoir.scope": "acme/widgets",
    "beauvoir.outcome": "executed",
    "beauvoir.attempts": 2,
  });
  // Each record is published once it is on disk, before the executor goes on.
  expect(labels?.events.map((event) => event.name)).toEqual([
    "beauvoir.audit.append",
    "beauvoir.durable.intent",
    "beauvoir.durable.pending",
    "beauvoir.limiter.block",
    "beauvoir.attempt_failed",
    "beauvoir.audit.append",
    "beauvoir.audit.append",
    "beauvoir.durable.intent",
    "beauvoir.durable.pending",
    "beauvoir.durable.execute",
    "beauvoir.audit.append",
    "beauvoir.durable.result",
    "beauvoir.durable.completed",
  ]);
  expect(branch?.status).toMatchObject({ code: 2, message: "Server Error" });
  expect(branch?.events.map((event) => event.name)).toContain("beauvoir.breaker.state");
  const waits = spans.filter((span) => span.name === "beauvoir.limiter.wait");
  expect(waits.length).toBeGreaterThan(0);
  // Each wait is a child of the step that waited.
  const stepIds = new Set([labels, branch].map((span) => span?.spanContext().spanId));
  for (const wait of waits) expect(stepIds.has(wait.parentSpanContext?.spanId)).toBe(true);
  expect(waits[0]?.attributes).toMatchObject({ "beauvoir.wait.outcome": "granted" });
});

// Beauvoir publishes what it does on node:diagnostics_channel and depends on
// no tracing library. This bridge, the whole example, turns those messages
// into OpenTelemetry spans with nothing but @opentelemetry/api: one span per
// step (its attempts, durable points, audit records, rate-limit blocks and
// breaker transitions as events on it), and one child span per wait for a
// rate-limit token. Register your SDK as usual; pass its tracer here.
import { AsyncLocalStorage } from "node:async_hooks";
import { channel, tracingChannel } from "node:diagnostics_channel";
import {
  BEAUVOIR_CHANNELS,
  type StepAttemptMessage,
  type StepDurableMessage,
  type StepTraceContext,
} from "@beauvoir/boot";
import {
  type Attributes,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";

/** The shapes of the other channels' messages (see each package's README). */
interface WaitMessage {
  workflowId: string;
  startedAt: number;
  waitedMs: number;
  expectedWaitMs: number;
  outcome: string;
}

/**
 * Subscribes to every Beauvoir channel and records spans with `tracer`.
 * @param tracer - e.g. `trace.getTracer("my-bot")` once your SDK is registered.
 * @returns a function that unsubscribes everything.
 */
export function bridgeToOpenTelemetry(tracer: Tracer): () => void {
  const current = new AsyncLocalStorage<Span>();
  const spans = new WeakMap<StepTraceContext, Span>();
  const steps = tracingChannel<Span, StepTraceContext>(BEAUVOIR_CHANNELS.step);
  const undo: Array<() => void> = [];

  // Each step's span is the current one for everything the step does.
  const startStep = (step: StepTraceContext): Span => {
    const parent = current.getStore();
    const span = tracer.startSpan(
      `beauvoir.step ${step.action}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          "beauvoir.action": step.action,
          "beauvoir.scope": step.scope,
          "beauvoir.resource": step.resource,
          "beauvoir.step.kind": step.kind,
          "beauvoir.workflow_id": step.workflowId,
        },
      },
      parent ? trace.setSpan(context.active(), parent) : context.active(),
    );
    spans.set(step, span);
    return span;
  };
  steps.start.bindStore(current, startStep);
  undo.push(() => steps.start.unbindStore(current));
  const handlers = {
    start: () => {},
    end: () => {},
    asyncStart: () => {},
    error: (step: StepTraceContext) => {
      const span = spans.get(step);
      if (!span) return;
      if (step.error instanceof Error) span.recordException(step.error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: describe(step.error) });
      const code = (step.error as { code?: unknown } | undefined)?.code;
      if (typeof code === "string") span.setAttribute("beauvoir.error.code", code);
    },
    asyncEnd: (step: StepTraceContext) => {
      const span = spans.get(step);
      if (!span) return;
      const outcome = step.result;
      if (outcome) {
        span.setAttribute("beauvoir.outcome", outcome.status);
        if (outcome.idempotencyKey !== "") {
          span.setAttribute("beauvoir.idempotency_key", outcome.idempotencyKey);
        }
        if ("attempts" in outcome) span.setAttribute("beauvoir.attempts", outcome.attempts);
      }
      span.end();
      spans.delete(step);
    },
  };
  steps.subscribe(handlers);
  undo.push(() => steps.unsubscribe(handlers));

  const on = (name: string, listener: (message: never) => void) => {
    const subscribed = channel(name);
    subscribed.subscribe(listener as (message: unknown) => void);
    undo.push(() => subscribed.unsubscribe(listener as (message: unknown) => void));
  };
  /** An event on the current step's span, or a span of its own outside any step. */
  const event = (name: string, attributes: Attributes) => {
    const span = current.getStore();
    if (span) span.addEvent(name, attributes);
    else tracer.startSpan(name, { attributes }).end();
  };

  on(BEAUVOIR_CHANNELS.stepAttempt, (message: StepAttemptMessage) =>
    event("beauvoir.attempt_failed", {
      "beauvoir.attempt": message.attempt,
      "beauvoir.attempt.max": message.maxAttempts,
      "beauvoir.failure.kind": message.kind,
      "beauvoir.failure.class": message.failureClass,
      ...(message.status === undefined ? {} : { "http.response.status_code": message.status }),
      "beauvoir.failure": message.description,
    }),
  );
  on(BEAUVOIR_CHANNELS.stepDurable, (message: StepDurableMessage) =>
    event(`beauvoir.durable.${message.point}`, { "beauvoir.audit.intent_seq": message.intentSeq }),
  );
  on(BEAUVOIR_CHANNELS.auditAppend, (message: Record<string, unknown>) =>
    event("beauvoir.audit.append", {
      "beauvoir.audit.seq": Number(message.seq),
      "beauvoir.audit.phase": String(message.phase),
      ...(typeof message.error === "string" ? { "beauvoir.audit.error": message.error } : {}),
    }),
  );
  on(BEAUVOIR_CHANNELS.limiterBlock, (message: Record<string, unknown>) =>
    event("beauvoir.limiter.block", {
      "beauvoir.limit.kind": String(message.kind),
      "beauvoir.limit.reason": String(message.reason),
      "beauvoir.limit.blocked_for_ms": Number(message.blockedForMs),
    }),
  );
  on(BEAUVOIR_CHANNELS.breakerState, (message: Record<string, unknown>) =>
    event("beauvoir.breaker.state", {
      "beauvoir.breaker": String(message.name ?? ""),
      "beauvoir.breaker.from": String(message.from),
      "beauvoir.breaker.to": String(message.to),
      "beauvoir.breaker.reason": String(message.reason),
    }),
  );
  // A wait is over when it is published: a span with its own start and end.
  on(BEAUVOIR_CHANNELS.limiterWait, (message: WaitMessage) => {
    const parent = current.getStore();
    tracer
      .startSpan(
        "beauvoir.limiter.wait",
        {
          startTime: message.startedAt,
          attributes: {
            "beauvoir.workflow_id": message.workflowId,
            "beauvoir.wait.expected_ms": message.expectedWaitMs,
            "beauvoir.wait.outcome": message.outcome,
          },
        },
        parent ? trace.setSpan(context.active(), parent) : context.active(),
      )
      .end(message.startedAt + message.waitedMs);
  });
  return () => {
    for (const step of undo.reverse()) step();
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

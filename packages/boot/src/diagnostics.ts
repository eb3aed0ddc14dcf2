import { channel, tracingChannel } from "node:diagnostics_channel";
import { AUDIT_APPEND_CHANNEL } from "@beauvoir/audit-trail";
import { BREAKER_STATE_CHANNEL } from "@beauvoir/breaker";
import { LIMITER_BLOCK_CHANNEL, LIMITER_WAIT_CHANNEL } from "@beauvoir/rate-limiter";
import type { DurablePoint } from "./executor-context.js";
import type { FailureKind } from "./failure-model.js";
import type { StepOutcome } from "./step-outcome.js";
import type { StepKind } from "./step-request.js";

/**
 * The `node:diagnostics_channel` TracingChannel of steps: one trace per
 * `execute()`, published on `tracing:beauvoir:step:start`, `:end`,
 * `:asyncStart`, `:asyncEnd` and `:error`, with a {@link StepTraceContext}.
 */
export const STEP_CHANNEL = "beauvoir:step";
/** Each failed attempt of a step, with what the failure model made of it. */
export const STEP_ATTEMPT_CHANNEL = "beauvoir:step:attempt";
/** Each durable point of a write step (intent, pending, execute, result, completed). */
export const STEP_DURABLE_CHANNEL = "beauvoir:step:durable";

/** Every channel the Beauvoir packages publish on, by what they carry. */
export const BEAUVOIR_CHANNELS = Object.freeze({
  /** TracingChannel: `tracing:beauvoir:step:*`. */
  step: STEP_CHANNEL,
  stepAttempt: STEP_ATTEMPT_CHANNEL,
  stepDurable: STEP_DURABLE_CHANNEL,
  breakerState: BREAKER_STATE_CHANNEL,
  limiterWait: LIMITER_WAIT_CHANNEL,
  limiterBlock: LIMITER_BLOCK_CHANNEL,
  auditAppend: AUDIT_APPEND_CHANNEL,
});

/** The context object of a step's trace; `result` or `error` is set when it ends. */
export interface StepTraceContext {
  readonly action: string;
  readonly scope: string;
  readonly resource: string;
  readonly kind: StepKind;
  readonly workflowId: string;
  /** The caller's key, when it gave one; else the outcome's `idempotencyKey`. */
  readonly idempotencyKey: string | undefined;
  /** How it ended (set before `asyncEnd`). */
  result?: StepOutcome<unknown>;
  /** What it threw (set before `error`). */
  error?: unknown;
}

/** What {@link STEP_ATTEMPT_CHANNEL} carries. */
export interface StepAttemptMessage {
  readonly action: string;
  readonly idempotencyKey: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly kind: FailureKind;
  readonly failureClass: string;
  readonly status: number | undefined;
  /** One line, redacted. */
  readonly description: string;
}

/** What {@link STEP_DURABLE_CHANNEL} carries. */
export interface StepDurableMessage {
  readonly point: DurablePoint;
  readonly action: string;
  readonly idempotencyKey: string;
  readonly intentSeq: number;
}

const steps = tracingChannel<StepTraceContext>(STEP_CHANNEL);
const attempts = channel(STEP_ATTEMPT_CHANNEL);
const durablePoints = channel(STEP_DURABLE_CHANNEL);

function traced(): boolean {
  return (
    steps.start.hasSubscribers ||
    steps.end.hasSubscribers ||
    steps.asyncStart.hasSubscribers ||
    steps.asyncEnd.hasSubscribers ||
    steps.error.hasSubscribers
  );
}

/** Runs one step inside its trace, when anyone listens; else just runs it. */
export function traceStep<Result>(
  context: () => StepTraceContext,
  run: () => Promise<Result>,
): Promise<Result> {
  if (!traced()) return run();
  return steps.tracePromise(run, context());
}

/** Publishes a failed attempt, when anyone listens (nothing is built otherwise). */
export function publishAttempt(message: () => StepAttemptMessage): void {
  if (attempts.hasSubscribers) attempts.publish(message());
}

/** Publishes a durable point. */
export function publishDurablePoint(message: () => StepDurableMessage): void {
  if (durablePoints.hasSubscribers) durablePoints.publish(message());
}

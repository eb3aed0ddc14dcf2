import type { FailureClass } from "@beauvoir/breaker";
import type { FailureKind } from "./failure-model.js";
import type { CompensationStrategy } from "./ports.js";
import { type RetryOptions, resolveRetryOptions } from "./retry-policy.js";

/** `write` steps change the world and go through the durable protocol; `read` steps do not. */
export type StepKind = "write" | "read";

/** What a side effect receives. */
export interface SideEffectContext {
  /** Aborted on timeout, on the caller's signal, or when shutdown gives up waiting. */
  signal: AbortSignal;
  /**
   * The step's idempotency key (empty for read steps and without an index).
   * Pass it on as an `Idempotency-Key` header, or in a hidden marker, where
   * the remote API supports one.
   */
  idempotencyKey: string;
  /** Which attempt this is, from 1. */
  attempt: number;
  /** The audit intent of this attempt; `undefined` for reads and without an audit trail. */
  intentSeq: number | undefined;
  /**
   * The claim's attempt id, from backends that fence attempts (e.g. one
   * shared by several replicas); `undefined` with the file backend.
   */
  attemptId?: string | undefined;
  /** The claim's fencing token, from backends that fence attempts; `undefined` with the file backend. */
  fence?: number | bigint | undefined;
}

/** One step to execute. */
export interface StepRequest<Result = unknown> {
  /** The action name, e.g. `add_issue_comment`; picks the compensation strategy and the breaker. */
  action: string;
  /** Where the action applies, e.g. `acme/widgets`. Part of the idempotency key. */
  scope: string;
  /** What it applies to, e.g. `issue-12`. Part of the idempotency key. */
  resource: string;
  /** The action's parameters; hashed into the key and recorded (redacted) in the audit trail. */
  params: Record<string, unknown>;
  /** @default "write" */
  kind?: StepKind | undefined;
  /** The audit record's `target`. @default `${scope}/${resource}` */
  target?: string | undefined;
  /** The rate-limiter bucket. @default "default" */
  workflowId?: string | undefined;
  /** The side effect. A returned fetch `Response` that is not `ok` counts as a failed attempt. */
  run: (context: SideEffectContext) => Promise<Result>;
  /**
   * Replaces the derived idempotency key, e.g. with a webhook delivery id:
   * two calls with the same key are one side effect, whatever their params.
   * @default the index's key of action, scope, resource and params
   */
  idempotencyKey?: string | undefined;
  /** Overrides the action's compensation strategy for this step. @default the index's table */
  strategy?: CompensationStrategy | undefined;
  /** Which circuit breaker guards the step. @default the action */
  breakerKey?: string | undefined;
  /** How failed attempts are retried. @default the executor's `retry` (3 attempts) */
  retry?: RetryOptions | undefined;
  /**
   * Longest wait for a rate-limit token, or for a retry's backoff, each time;
   * a longer wait ends the step instead. @default the executor's `maxWaitMs` (1 hour)
   */
  maxWaitMs?: number | undefined;
  /** Record a `dry_run` instead of running the side effect. @default the executor's `dryRun` (false) */
  dryRun?: boolean | undefined;
  /**
   * Tells the executor how an attempt failed, where the default (GitHub)
   * rules do not know better; `undefined` falls back to them.
   */
  failureKind?: ((error: unknown) => FailureKind | undefined) | undefined;
  /** Maps a thrown error to a failure class for the breaker. @default the breaker's own classification */
  classify?: ((error: unknown) => FailureClass) | undefined;
  /** Time limit for each attempt of the side effect, enforced by the breaker (`Infinity`: none). */
  timeoutMs?: number | undefined;
  /** Cancels the step (waits, and the side effect through its signal). */
  signal?: AbortSignal | undefined;
}

const STRATEGIES: ReadonlySet<string> = new Set(["safe_retry", "check_then_retry", "skip"]);

/** C0 and C1 control characters, DEL included. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Checks every field of a request before anything is recorded, so a caller's
 * mistake never leaves an intent or a pending key behind.
 * @throws TypeError or RangeError naming the field.
 */
export function validateStepRequest(request: StepRequest<unknown>): void {
  if (typeof request !== "object" || request === null)
    throw new TypeError("step request must be an object");
  for (const field of ["action", "scope", "resource"] as const) {
    if (typeof request[field] !== "string" || request[field].length === 0) {
      throw new TypeError(`step ${field} must be a non-empty string`);
    }
  }
  if (typeof request.run !== "function") throw new TypeError("step run must be a function");
  if (typeof request.params !== "object" || request.params === null) {
    throw new TypeError("step params must be an object");
  }
  if (request.kind !== undefined && request.kind !== "write" && request.kind !== "read") {
    throw new RangeError(`step kind must be "write" or "read", got ${String(request.kind)}`);
  }
  for (const field of ["target", "workflowId", "breakerKey", "idempotencyKey"] as const) {
    const value = request[field];
    if (value !== undefined && (typeof value !== "string" || value.length === 0)) {
      throw new TypeError(`step ${field} must be a non-empty string, got ${String(value)}`);
    }
  }
  const key = request.idempotencyKey;
  // A key is matched byte for byte later: one that is blank or holds control
  // characters is a caller's mistake (a trimmed header, a joined line), not an id.
  if (key !== undefined && (key.trim() === "" || CONTROL_CHARACTER.test(key))) {
    throw new RangeError(
      `step idempotencyKey must have visible characters and no control characters, got ${JSON.stringify(key)}`,
    );
  }
  if (request.strategy !== undefined && !STRATEGIES.has(request.strategy)) {
    throw new RangeError(
      `step strategy must be "safe_retry", "check_then_retry" or "skip", got ${String(request.strategy)}`,
    );
  }
  for (const field of ["failureKind", "classify"] as const) {
    if (request[field] !== undefined && typeof request[field] !== "function") {
      throw new TypeError(`step ${field} must be a function`);
    }
  }
  if (request.dryRun !== undefined && typeof request.dryRun !== "boolean") {
    throw new TypeError(`step dryRun must be a boolean, got ${String(request.dryRun)}`);
  }
  if (request.signal !== undefined && !(request.signal instanceof AbortSignal)) {
    throw new TypeError("step signal must be an AbortSignal");
  }
  if (request.timeoutMs !== undefined) assertTimeout(request.timeoutMs, "step timeoutMs");
  if (request.maxWaitMs !== undefined) assertWait(request.maxWaitMs, "step maxWaitMs");
  resolveRetryOptions(request.retry, undefined, "step retry");
}

/** A positive number of milliseconds, or `Infinity`. */
export function assertTimeout(value: unknown, name: string): void {
  if (typeof value !== "number" || Number.isNaN(value) || value <= 0) {
    throw new RangeError(
      `${name} must be a positive number of milliseconds (Infinity for none), got ${String(value)}`,
    );
  }
}

/** A number of milliseconds ≥ 0, or `Infinity`. */
export function assertWait(value: unknown, name: string): void {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new RangeError(
      `${name} must be a number of milliseconds ≥ 0 (Infinity for no limit), got ${String(value)}`,
    );
  }
}

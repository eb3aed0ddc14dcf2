import type { FailureClass } from "@beauvoir/breaker";
import type { Clock, Logger } from "@beauvoir/core";
import { publishDurablePoint } from "./diagnostics.js";
import type {
  ActionPolicyPort,
  AuditTrailPort,
  CircuitBreakerGroupPort,
  CompensationStrategy,
  IdempotencyIndexPort,
  RateLimiterPort,
} from "./ports.js";
import type { ResolvedRetryOptions } from "./retry-policy.js";

/** The operating mode decided at boot. */
export type OperatingMode = "autonomous" | "degraded" | "dev";

/** The points of the durable protocol, reported through `onDurablePoint`. */
export type DurablePoint = "intent" | "pending" | "execute" | "result" | "completed";

/** What a reconcile hook is asked about: a step whose outcome is unknown. */
export interface ReconcileContext {
  /** The step's idempotency key. */
  key: string;
  action: string;
  scope: string;
  resource: string;
  /** The params as the intent recorded them (redacted). */
  params: Record<string, unknown>;
  /** The audit record's target. */
  target: string;
  /** The intent of the attempt whose outcome is unknown. */
  intentSeq: number | undefined;
  /** Aborted when the check should stop (shutdown, the step's signal, `reconcileTimeoutMs`). */
  signal: AbortSignal;
}

/**
 * A per-action check for `check_then_retry` steps whose outcome is unknown
 * (after a crash, or an ambiguous failure such as a 502 or a reset): did the
 * side effect happen?
 */
export type ReconcileHook = (context: ReconcileContext) => Promise<"done" | "not_done">;

/** The event passed to `onDurablePoint`. */
export interface DurablePointEvent {
  point: DurablePoint;
  action: string;
  idempotencyKey: string;
  intentSeq: number;
}

/** What every part of the executor shares (not exported from the package). */
export interface ExecutorContext {
  readonly audit: AuditTrailPort | undefined;
  readonly index: IdempotencyIndexPort | undefined;
  readonly breakers: CircuitBreakerGroupPort | undefined;
  readonly limiter: RateLimiterPort | undefined;
  readonly policy: ActionPolicyPort | undefined;
  readonly mode: OperatingMode;
  readonly failedSubsystems: readonly string[];
  /** The executor's own copy: `registerReconcilers()` adds to it. */
  readonly reconcilers: Record<string, ReconcileHook>;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: () => number;
  /** Redacts a value the way the audit trail does. */
  readonly redact: (value: unknown) => unknown;
  readonly retry: ResolvedRetryOptions;
  readonly maxWaitMs: number;
  readonly dryRun: boolean;
  readonly reconcileTimeoutMs: number;
  readonly classify: ((error: unknown) => FailureClass) | undefined;
  readonly onDurablePoint: ((event: DurablePointEvent) => unknown) | undefined;
  /** Aborted by `stop()`: waits (backoff, tokens) end; running side effects go on. */
  readonly stopSignal: AbortSignal;
  /** Aborted when `drain()` gives up: running side effects are cut off. */
  readonly shutdownSignal: AbortSignal;
  /** Keys pending from before that are known not to run, with the intent to supersede. */
  readonly rerunnable: Map<string, number | undefined>;
  /** Errors after which the key was marked failed. */
  readonly terminalErrors: WeakSet<object>;
}

/** The compensation strategy of a step. */
export function strategyOf(
  context: ExecutorContext,
  action: string,
  override: CompensationStrategy | undefined,
): CompensationStrategy {
  return override ?? context.index?.getStrategy(action) ?? "skip";
}

/** Awaits the `onDurablePoint` hook, when there is one. */
export async function reportPoint(
  context: ExecutorContext,
  point: DurablePoint,
  action: string,
  idempotencyKey: string,
  intentSeq: number | undefined,
): Promise<void> {
  if (intentSeq !== undefined) {
    publishDurablePoint(() => ({ point, action, idempotencyKey, intentSeq }));
  }
  if (context.onDurablePoint && intentSeq !== undefined) {
    await context.onDurablePoint({ point, action, idempotencyKey, intentSeq });
  }
}

/** Redacts a one-line description for the audit trail and the index. */
export function redactedText(context: ExecutorContext, text: string): string {
  const redacted = context.redact(text);
  return typeof redacted === "string" ? redacted : text;
}

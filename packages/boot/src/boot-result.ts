import type { AuditTrail } from "@beauvoir/audit-trail";
import type { CircuitBreakerGroup } from "@beauvoir/breaker";
import type { IdempotencyIndex } from "@beauvoir/idempotency";
import type { LockManager } from "@beauvoir/locks";
import type { RateLimiter } from "@beauvoir/rate-limiter";
import type { BeauvoirLogger, SecretRedactor } from "@beauvoir/redactor";
import type { ResilientStoreFactory } from "@beauvoir/resilient-store";
import type { ReconcileReport } from "./boot-reconciliation.js";
import { describeError } from "./errors.js";
import type { HealthReport } from "./health-report.js";
import type { ResilienceStateKeeper } from "./resilience-state.js";
import type { DurableStepExecutor } from "./step-executor.js";
import type { ToolValidator } from "./tool-validator.js";
import type { WorkflowEngine } from "./workflow-engine.js";

/**
 * The subsystems of an `autonomous` boot: all there. They are typed as the
 * classes the default initializers build; an injected initializer's object
 * is handed back as it is, so a test fake only has the methods its test gave it.
 */
export interface BootServices {
  /** The redacting logger; `child()` gives a subsystem its own prefix or fields. */
  logger: BeauvoirLogger;
  redactor: SecretRedactor;
  lockManager: LockManager;
  auditTrail: AuditTrail;
  storeFactory: ResilientStoreFactory;
  /** One circuit breaker per action (or step `breakerKey`). */
  circuitBreakers: CircuitBreakerGroup;
  rateLimiter: RateLimiter;
  idempotencyIndex: IdempotencyIndex;
  /** Built from `config.actionPolicy`; undefined without one. */
  toolValidator: ToolValidator | undefined;
}

/** The subsystems whose failure makes boot `degraded` (P1). */
export type DegradableService =
  | "storeFactory"
  | "circuitBreakers"
  | "rateLimiter"
  | "idempotencyIndex";

/** The subsystems of a `degraded` boot: the P1 ones may be missing. */
export type DegradedBootServices = Omit<BootServices, DegradableService> & {
  [Service in DegradableService]: BootServices[Service] | undefined;
};

/** The subsystems of a `dev` boot: any but the logger may be missing. */
export type DevBootServices = Pick<BootServices, "logger"> & {
  [Service in Exclude<keyof BootServices, "logger">]: BootServices[Service] | undefined;
};

/** Options of {@link BootResultBase.shutdown}. */
export interface ShutdownOptions {
  /** Longest wait for in-flight steps. @default the config's `shutdownTimeoutMs` (10 000) */
  timeoutMs?: number | undefined;
  /** Why, passed to `shutdown` listeners. @default "requested" */
  reason?: string | undefined;
}

/** Payload of the `shutdown` event. */
export interface ShutdownEvent {
  /** `"requested"`, `"SIGTERM"`, `"SIGINT"`, or the caller's reason. */
  reason: string;
  /** False when in-flight steps were still running at the timeout. */
  drained: boolean;
  /** Problems met while closing (each subsystem is closed even if another failed). */
  errors: string[];
}

/** What every {@link BootResult} has, whatever the mode. */
export interface BootResultBase {
  /** The health report. */
  health: HealthReport;
  /** What step 5 did to pending entries; `undefined` when it could not run. */
  reconciliation: ReconcileReport | undefined;
  /** Runs steps durably. */
  executor: DurableStepExecutor;
  /** Runs workflows on top of the executor. */
  workflows: WorkflowEngine;
  /**
   * Stops new work, drains in-flight steps (bounded), saves the breaker and
   * rate-limit state, closes the index and the audit trail, stops the rate
   * limiter, releases every lock, then emits `shutdown`. Calling it again
   * returns the same promise.
   */
  shutdown(options?: ShutdownOptions): Promise<ShutdownEvent>;
  /**
   * Subscribes to `shutdown`.
   * @returns a function that unsubscribes.
   */
  on(event: "shutdown", listener: (event: ShutdownEvent) => void): () => void;
}

/** Boot in `autonomous` mode: every subsystem is there. */
export interface AutonomousBootResult extends BootResultBase {
  mode: "autonomous";
  services: BootServices;
}

/** Boot in `degraded` mode: write steps are refused. */
export interface DegradedBootResult extends BootResultBase {
  mode: "degraded";
  services: DegradedBootServices;
}

/** Boot in `dev` mode (`allowDev`): anything may be missing. */
export interface DevBootResult extends BootResultBase {
  mode: "dev";
  services: DevBootServices;
}

/**
 * What `boot()` returns; check `mode` and the services' types follow:
 * `if (app.mode === "autonomous") app.services.rateLimiter.getRemainingTokens()`.
 */
export type BootResult = AutonomousBootResult | DegradedBootResult | DevBootResult;

/** What {@link createBootResult} assembles. */
export interface BootResultParts {
  mode: BootResult["mode"];
  health: HealthReport;
  reconciliation: ReconcileReport | undefined;
  services: DevBootServices;
  executor: DurableStepExecutor;
  workflows: WorkflowEngine;
  resilienceState: ResilienceStateKeeper | undefined;
  /** An opened backend: its periodic takeover stops with new work, and it closes last. */
  backend?: { stopTakeovers(): Promise<void>; close(): Promise<void> } | undefined;
  shutdownTimeoutMs: number;
  handleSignals: boolean;
}

/** Assembles the result of a boot, with its shutdown and signal handling. */
export function createBootResult(parts: BootResultParts): BootResult {
  const listeners = new Set<(event: ShutdownEvent) => void>();
  const { services, executor, workflows, shutdownTimeoutMs } = parts;
  let shuttingDown: Promise<ShutdownEvent> | undefined;
  const signalHandlers = new Map<NodeJS.Signals, () => void>();

  const runShutdown = async (options: ShutdownOptions): Promise<ShutdownEvent> => {
    const errors: string[] = [];
    const attemptClose = async (name: string, close: () => unknown) => {
      try {
        await close();
      } catch (error) {
        // The event leaves boot (listeners, the caller): its texts are redacted like a log line.
        const text = `${name}: ${describeError(error)}`;
        const redacted = services.redactor?.redactAny(text);
        errors.push(typeof redacted === "string" ? redacted : text);
        services.logger.warn(`shutdown: closing ${name} failed`, { error });
      }
    };
    workflows.stop();
    executor.stop();
    await attemptClose("takeovers", () => parts.backend?.stopTakeovers());
    const timeoutMs = options.timeoutMs ?? shutdownTimeoutMs;
    // Steps first (their side effects and durable records), then the run
    // state the engine saves after each step.
    const drained = (await executor.drain(timeoutMs)) && (await workflows.drain(timeoutMs));
    await attemptClose("resilienceState", () => parts.resilienceState?.close());
    await attemptClose("idempotencyIndex", () => services.idempotencyIndex?.close());
    await attemptClose("rateLimiter", () => services.rateLimiter?.shutdown?.());
    await attemptClose("auditTrail", () => services.auditTrail?.close());
    await attemptClose("locks", () => services.lockManager?.releaseAll());
    await attemptClose("backend", () => parts.backend?.close());
    for (const [signal, handler] of signalHandlers) process.removeListener(signal, handler);
    signalHandlers.clear();
    const event: ShutdownEvent = { reason: options.reason ?? "requested", drained, errors };
    services.logger.info("shutdown: done", {
      reason: event.reason,
      drained,
      errors: errors.length,
    });
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        services.logger.warn("shutdown: a listener threw", { error });
      }
    }
    return event;
  };

  // The mode decides which services are there (see boot's step 7), so the
  // pairing the union promises holds by construction.
  const result = {
    mode: parts.mode,
    health: parts.health,
    reconciliation: parts.reconciliation,
    services,
    executor,
    workflows,
    shutdown(options: ShutdownOptions = {}) {
      shuttingDown ??= runShutdown(options);
      return shuttingDown;
    },
    on(event: "shutdown", listener: (event: ShutdownEvent) => void) {
      if (event !== "shutdown") throw new RangeError(`unknown event ${JSON.stringify(event)}`);
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  } as BootResult;

  if (parts.handleSignals) {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const handler = () => {
        void result.shutdown({ reason: signal }).finally(() => {
          // Re-raise with our handlers gone, so the process ends the way the signal asked.
          process.kill(process.pid, signal);
        });
      };
      signalHandlers.set(signal, handler);
      process.once(signal, handler);
    }
  }
  return result;
}

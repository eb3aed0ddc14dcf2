import { BeauvoirError, isBeauvoirErrorWithCode } from "@beauvoir/core";
import type { HealthReport } from "./health-report.js";

/**
 * Error codes thrown by `@beauvoir/boot` itself. The step executor also lets
 * `CIRCUIT_OPEN` (from `@beauvoir/breaker`), `RATE_LIMITED` and
 * `RATE_LIMIT_EXHAUSTED` (from `@beauvoir/rate-limiter`) and `LOCK_HELD`
 * (from `@beauvoir/locks`) through,
 * and rethrows what a side effect threw unchanged.
 */
export type BootErrorCode =
  | "BOOT_FAILED"
  | "DEGRADED_MODE"
  | "STEP_FAILED"
  | "STEP_IN_DOUBT"
  | "SHUTTING_DOWN"
  | "INVALID_TOOL_POLICY"
  | "POLICY_DENIED"
  | "KEY_IN_FLIGHT"
  | "WORKFLOW_NOT_FOUND"
  | "SUBSYSTEM_UNAVAILABLE"
  | "STEP_SUPERSEDED"
  | "WORKFLOW_RUN_OWNED";

/**
 * Thrown by `boot()` when a P0 step fails (config, filesystem, instance lock,
 * redactor, logger, audit trail, tool validation) and `allowDev` is off.
 */
export class BootError extends BeauvoirError<"BOOT_FAILED"> {
  /** The boot step that failed, e.g. `"auditTrail"`. */
  readonly step: string;
  /** The health report as far as boot got. */
  readonly health: HealthReport;

  /**
   * @param step - the failing step.
   * @param health - the partial health report.
   * @param cause - the step's error.
   */
  constructor(step: string, health: HealthReport, cause: unknown) {
    super("BOOT_FAILED", `Boot aborted at step "${step}": ${describeError(cause)}`, { cause });
    this.step = step;
    this.health = health;
  }

  /** @returns true for a {@link BootError} from any copy of the package. */
  static override isInstance(value: unknown): value is BootError {
    return isBeauvoirErrorWithCode(value, "BOOT_FAILED");
  }
}

/** Thrown when a write step is asked for while the instance runs in degraded mode. */
export class DegradedModeError extends BeauvoirError<"DEGRADED_MODE"> {
  /** The refused action. */
  readonly action: string;
  /** The subsystems whose failure put the instance in degraded mode. */
  readonly failedSubsystems: readonly string[];

  /**
   * @param action - the refused write action.
   * @param failedSubsystems - what failed at boot.
   */
  constructor(action: string, failedSubsystems: readonly string[]) {
    super(
      "DEGRADED_MODE",
      `Write step "${action}" refused: running in degraded mode (failed: ${failedSubsystems.join(", ") || "unknown"})`,
    );
    this.action = action;
    this.failedSubsystems = failedSubsystems;
  }

  /** @returns true for a {@link DegradedModeError} from any copy of the package. */
  static override isInstance(value: unknown): value is DegradedModeError {
    return isBeauvoirErrorWithCode(value, "DEGRADED_MODE");
  }
}

/**
 * Thrown when a write step's idempotency entry is already `failed` (a terminal
 * state): the side effect is not tried again, and the earlier error is given back.
 */
export class StepFailedError extends BeauvoirError<"STEP_FAILED"> {
  /** The idempotency key of the step. */
  readonly idempotencyKey: string;
  /** The error recorded when the step failed. */
  readonly previousError: string;

  /**
   * @param idempotencyKey - the step's key.
   * @param previousError - the recorded error message.
   */
  constructor(idempotencyKey: string, previousError: string) {
    super(
      "STEP_FAILED",
      `Step ${idempotencyKey} already failed and is not retried: ${previousError}`,
    );
    this.idempotencyKey = idempotencyKey;
    this.previousError = previousError;
  }

  /** @returns true for a {@link StepFailedError} from any copy of the package. */
  static override isInstance(value: unknown): value is StepFailedError {
    return isBeauvoirErrorWithCode(value, "STEP_FAILED");
  }
}

/**
 * Thrown when a crash left a write step's key pending and reconciliation could
 * not tell whether its side effect happened (its reconcile hook threw). The
 * step is neither run again nor marked failed; the next boot tries again.
 */
export class StepInDoubtError extends BeauvoirError<"STEP_IN_DOUBT"> {
  /** The idempotency key of the step. */
  readonly idempotencyKey: string;

  /** @param idempotencyKey - the step's key. */
  constructor(idempotencyKey: string) {
    super(
      "STEP_IN_DOUBT",
      `Step ${idempotencyKey} is pending from an earlier run and its outcome is unknown; it is reconciled at the next boot`,
    );
    this.idempotencyKey = idempotencyKey;
  }

  /** @returns true for a {@link StepInDoubtError} from any copy of the package. */
  static override isInstance(value: unknown): value is StepInDoubtError {
    return isBeauvoirErrorWithCode(value, "STEP_IN_DOUBT");
  }
}

/** Thrown for work submitted after `shutdown()` began. */
export class ShuttingDownError extends BeauvoirError<"SHUTTING_DOWN"> {
  constructor() {
    super("SHUTTING_DOWN", "Shutting down: no new steps are accepted");
  }

  /** @returns true for a {@link ShuttingDownError} from any copy of the package. */
  static override isInstance(value: unknown): value is ShuttingDownError {
    return isBeauvoirErrorWithCode(value, "SHUTTING_DOWN");
  }
}

/** Thrown by the {@link ToolValidator} constructor for a policy it cannot use (e.g. an invalid pattern). */
export class InvalidToolPolicyError extends BeauvoirError<"INVALID_TOOL_POLICY"> {
  /** The tool whose policy is invalid. */
  readonly toolName: string;
  /** The parameter whose constraint is invalid, when there is one. */
  readonly param: string | undefined;

  /**
   * @param toolName - the tool.
   * @param param - the parameter, if any.
   * @param reason - what is wrong.
   * @param cause - the underlying error (e.g. a `SyntaxError` from `RegExp`).
   */
  constructor(toolName: string, param: string | undefined, reason: string, cause?: unknown) {
    super(
      "INVALID_TOOL_POLICY",
      `Invalid policy for tool "${toolName}"${param === undefined ? "" : ` parameter "${param}"`}: ${reason}`,
      cause === undefined ? {} : { cause },
    );
    this.toolName = toolName;
    this.param = param;
  }

  /** @returns true for an {@link InvalidToolPolicyError} from any copy of the package. */
  static override isInstance(value: unknown): value is InvalidToolPolicyError {
    return isBeauvoirErrorWithCode(value, "INVALID_TOOL_POLICY");
  }
}

/** One broken rule of the action policy, as {@link PolicyDeniedError} reports it. */
export interface PolicyViolation {
  /** The offending parameter; `undefined` when the action itself is not in the policy. */
  readonly param: string | undefined;
  /** Which rule was broken: `must_be`, `pattern`, `allowlist` or `unknown_tool`. */
  readonly constraint: string;
  /** A readable explanation. */
  readonly message: string;
}

/**
 * Thrown by `execute()` when a step's params break the action policy. A
 * `denied` record is in the audit trail and nothing else was recorded or run.
 */
export class PolicyDeniedError extends BeauvoirError<"POLICY_DENIED"> {
  /** The refused action. */
  readonly action: string;
  /** Every broken rule. */
  readonly violations: readonly PolicyViolation[];

  /**
   * @param action - the refused action.
   * @param violations - what the policy found.
   */
  constructor(action: string, violations: readonly PolicyViolation[]) {
    super(
      "POLICY_DENIED",
      `Step "${action}" refused by the action policy: ${violations.map((violation) => violation.message).join("; ")}`,
    );
    this.action = action;
    this.violations = violations;
  }

  /** @returns true for a {@link PolicyDeniedError} from any copy of the package. */
  static override isInstance(value: unknown): value is PolicyDeniedError {
    return isBeauvoirErrorWithCode(value, "POLICY_DENIED");
  }
}

/**
 * Thrown by `resolveKey()` / `resetKey()` for a key whose step is running in
 * this process; and, with a backend shared by replicas, by `execute()` when
 * another live replica still runs the key's step after `maxWaitMs`.
 */
export class KeyInFlightError extends BeauvoirError<"KEY_IN_FLIGHT"> {
  /** The key. */
  readonly idempotencyKey: string;
  /** Where the step runs. */
  readonly runningAt: "this process" | "another replica";

  /**
   * @param idempotencyKey - the running step's key.
   * @param runningAt - where it runs. @default "this process"
   */
  constructor(
    idempotencyKey: string,
    runningAt: "this process" | "another replica" = "this process",
  ) {
    super(
      "KEY_IN_FLIGHT",
      runningAt === "this process"
        ? `Step ${idempotencyKey} is running in this process; wait for it to end before resolving or resetting its key`
        : `Step ${idempotencyKey} is still running at another replica (its lease is live); it was not run here`,
    );
    this.idempotencyKey = idempotencyKey;
    this.runningAt = runningAt;
  }

  /** @returns true for a {@link KeyInFlightError} from any copy of the package. */
  static override isInstance(value: unknown): value is KeyInFlightError {
    return isBeauvoirErrorWithCode(value, "KEY_IN_FLIGHT");
  }
}

/** Thrown by the workflow engine for a run or workflow it does not know. */
export class WorkflowNotFoundError extends BeauvoirError<"WORKFLOW_NOT_FOUND"> {
  /** The unknown run id or workflow name. */
  readonly identifier: string;

  /** @param identifier - the run id or workflow name. @param what - "run" or "workflow". */
  constructor(identifier: string, what: "run" | "workflow") {
    super("WORKFLOW_NOT_FOUND", `Unknown ${what} ${JSON.stringify(identifier)}`);
    this.identifier = identifier;
  }

  /** @returns true for a {@link WorkflowNotFoundError} from any copy of the package. */
  static override isInstance(value: unknown): value is WorkflowNotFoundError {
    return isBeauvoirErrorWithCode(value, "WORKFLOW_NOT_FOUND");
  }
}

/** Thrown when an operation needs a subsystem that failed at boot (e.g. the store, for workflows). */
export class SubsystemUnavailableError extends BeauvoirError<"SUBSYSTEM_UNAVAILABLE"> {
  /** The missing subsystem. */
  readonly subsystem: string;

  /** @param subsystem - the missing subsystem's name. */
  constructor(subsystem: string) {
    super("SUBSYSTEM_UNAVAILABLE", `Subsystem "${subsystem}" is not available (it failed at boot)`);
    this.subsystem = subsystem;
  }

  /** @returns true for a {@link SubsystemUnavailableError} from any copy of the package. */
  static override isInstance(value: unknown): value is SubsystemUnavailableError {
    return isBeauvoirErrorWithCode(value, "SUBSYSTEM_UNAVAILABLE");
  }
}

/** A one-line description of anything thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/**
 * Thrown by `execute()` with a backend shared by replicas when this replica's
 * attempt was fenced out before it could record its outcome: its lease ended
 * and another replica took the key over (or an operator reset it). Nothing
 * was recorded for the attempt; the key's current owner settles it by its
 * compensation strategy.
 */
export class StepSupersededError extends BeauvoirError<"STEP_SUPERSEDED"> {
  /** The step's key. */
  readonly idempotencyKey: string;

  /** @param idempotencyKey - the step's key. */
  constructor(idempotencyKey: string) {
    super(
      "STEP_SUPERSEDED",
      `Step ${idempotencyKey}: this replica's attempt was taken over (its lease ended) or reset before its outcome was recorded; the key's current owner settles it`,
    );
    this.idempotencyKey = idempotencyKey;
  }

  /** @returns true for a {@link StepSupersededError} from any copy of the package. */
  static override isInstance(value: unknown): value is StepSupersededError {
    return isBeauvoirErrorWithCode(value, "STEP_SUPERSEDED");
  }
}

/**
 * Thrown by the workflow engine, with a backend shared by replicas, when a
 * run is owned by another replica whose lease is live (or was taken over
 * from this one): only the owner advances it.
 */
export class WorkflowRunOwnedError extends BeauvoirError<"WORKFLOW_RUN_OWNED"> {
  /** The run. */
  readonly runId: string;

  /** @param runId - the run. */
  constructor(runId: string) {
    super(
      "WORKFLOW_RUN_OWNED",
      `Workflow run ${JSON.stringify(runId)} is owned by another live replica; only its owner advances it`,
    );
    this.runId = runId;
  }

  /** @returns true for a {@link WorkflowRunOwnedError} from any copy of the package. */
  static override isInstance(value: unknown): value is WorkflowRunOwnedError {
    return isBeauvoirErrorWithCode(value, "WORKFLOW_RUN_OWNED");
  }
}

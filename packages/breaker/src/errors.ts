import { BeauvoirError, isBeauvoirErrorWithCode } from "@beauvoir/core";

/** Error codes thrown by `@beauvoir/breaker`. */
export type BreakerErrorCode = "CIRCUIT_OPEN" | "CIRCUIT_TIMEOUT" | "BREAKER_SNAPSHOT_INVALID";

/**
 * Rejects a call that the circuit refused without running it: the circuit is
 * OPEN, or HALF_OPEN with all its probes already in flight.
 *
 * @example
 * ```ts
 * try {
 *   await breaker.execute(() => fetchIssue());
 * } catch (error) {
 *   if (CircuitOpenError.isInstance(error)) scheduleRetry(error.retryAt);
 * }
 * ```
 */
export class CircuitOpenError extends BeauvoirError<"CIRCUIT_OPEN"> {
  /**
   * Epoch milliseconds at which the circuit half-opens and lets probes through.
   * When the refusal came from a busy HALF_OPEN circuit, this is the time of the
   * refusal: a probe slot may free up at any moment.
   */
  readonly retryAt: number;
  /** The breaker's `name` option, when it has one. */
  readonly breakerName: string | undefined;
  /** The state that refused the call. */
  readonly state: "OPEN" | "HALF_OPEN";

  /**
   * @param retryAt - epoch milliseconds when calls may be tried again.
   * @param state - the refusing state.
   * @param breakerName - the breaker's name, for messages and logs.
   */
  constructor(retryAt: number, state: "OPEN" | "HALF_OPEN" = "OPEN", breakerName?: string) {
    const subject = breakerName === undefined ? "circuit" : `circuit "${breakerName}"`;
    super(
      "CIRCUIT_OPEN",
      state === "OPEN"
        ? `${subject} is open until ${formatTime(retryAt)}`
        : `${subject} is half-open and all its probes are in flight`,
    );
    this.retryAt = retryAt;
    this.state = state;
    this.breakerName = breakerName;
  }

  /** @returns true for a {@link CircuitOpenError} from any copy of the package. */
  static override isInstance(value: unknown): value is CircuitOpenError {
    return isBeauvoirErrorWithCode(value, "CIRCUIT_OPEN");
  }
}

/**
 * Rejects an `execute()` whose `timeoutMs` ran out. The signal given to the
 * function is aborted with this error, and the failure counts as `external`.
 *
 * @example
 * ```ts
 * try {
 *   await breaker.execute((signal) => fetch(url, { signal }), { timeoutMs: 5_000 });
 * } catch (error) {
 *   if (CircuitTimeoutError.isInstance(error)) console.warn(`gave up after ${error.timeoutMs} ms`);
 * }
 * ```
 */
export class CircuitTimeoutError extends BeauvoirError<"CIRCUIT_TIMEOUT"> {
  /** The time limit that ran out, in milliseconds. */
  readonly timeoutMs: number;
  /** The breaker's `name` option, when it has one. */
  readonly breakerName: string | undefined;
  /** Always `external`: {@link classifyFailure} reads it, so an outer breaker agrees. */
  readonly failureClass = "external" as const;

  /**
   * @param timeoutMs - the limit that ran out.
   * @param breakerName - the breaker's name, for messages and logs.
   */
  constructor(timeoutMs: number, breakerName?: string) {
    const subject = breakerName === undefined ? "call" : `call through circuit "${breakerName}"`;
    super("CIRCUIT_TIMEOUT", `${subject} timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
    this.breakerName = breakerName;
  }

  /** @returns true for a {@link CircuitTimeoutError} from any copy of the package. */
  static override isInstance(value: unknown): value is CircuitTimeoutError {
    return isBeauvoirErrorWithCode(value, "CIRCUIT_TIMEOUT");
  }
}

/**
 * Thrown by `restore()` (of a breaker or a group) for saved state it cannot
 * read: not an object, a wrong version, a field of the wrong type. Nothing is
 * applied: every breaker keeps the state it had, and the stored data is left
 * for a person to look at.
 *
 * @example
 * ```ts
 * try {
 *   group.restore(JSON.parse(text));
 * } catch (error) {
 *   if (BreakerSnapshotError.isInstance(error)) logger.warn("breakers not restored", { key: error.key });
 * }
 * ```
 */
export class BreakerSnapshotError extends BeauvoirError<"BREAKER_SNAPSHOT_INVALID"> {
  /** The group key whose snapshot is bad; undefined for the whole value or a single breaker. */
  readonly key: string | undefined;

  /**
   * @param message - what is wrong.
   * @param key - the group key concerned.
   * @param cause - the parser's error.
   */
  constructor(message: string, key?: string, cause?: unknown) {
    const where = key === undefined ? "" : ` for key ${JSON.stringify(key)}`;
    super("BREAKER_SNAPSHOT_INVALID", `Invalid circuit breaker snapshot${where}: ${message}`, {
      cause,
    });
    this.key = key;
  }

  /** @returns true for a {@link BreakerSnapshotError} from any copy of the package. */
  static override isInstance(value: unknown): value is BreakerSnapshotError {
    return isBeauvoirErrorWithCode(value, "BREAKER_SNAPSHOT_INVALID");
  }
}

// Date cannot represent every number; a message must never throw.
function formatTime(epochMs: number): string {
  return Math.abs(epochMs) <= 8.64e15 ? new Date(epochMs).toISOString() : String(epochMs);
}

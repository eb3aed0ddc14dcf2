import type { FailureClass } from "./failure-class.js";

/** Per-call options of {@link CircuitBreaker.execute}. */
export interface ExecuteOptions {
  /**
   * Cancels the call: `execute()` rejects at once with the signal's reason, the
   * function's signal aborts too, and nothing counts as a failure. An already
   * aborted signal rejects without running the function.
   */
  signal?: AbortSignal | undefined;
  /**
   * Time limit in milliseconds (`Infinity`: none). When it runs out, the
   * function's signal aborts, `execute()` rejects with a `CircuitTimeoutError`,
   * and the failure counts as `external`.
   * @default no limit
   */
  timeoutMs?: number | undefined;
  /** Maps what the function threw to a failure class, for this call. @default the breaker's `classify` */
  classify?: ((error: unknown) => FailureClass) | undefined;
}

/**
 * @internal Checks the options of one `execute()` call; an infinite
 * `timeoutMs` is dropped, so only a real limit starts a timer.
 * @throws TypeError or RangeError naming the option.
 */
export function checkExecuteOptions(options: ExecuteOptions): ExecuteOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("execute(fn, options): options must be an object");
  }
  const { signal, timeoutMs, classify } = options;
  if (
    signal !== undefined &&
    (typeof signal !== "object" || signal === null || typeof signal.addEventListener !== "function")
  ) {
    throw new TypeError("execute options.signal must be an AbortSignal");
  }
  if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !(timeoutMs > 0))) {
    throw new RangeError(
      `execute options.timeoutMs must be a number > 0, got ${String(timeoutMs)}`,
    );
  }
  if (classify !== undefined && typeof classify !== "function") {
    throw new TypeError("execute options.classify must be a function");
  }
  return {
    ...(signal === undefined ? {} : { signal }),
    ...(timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY ? {} : { timeoutMs }),
    ...(classify === undefined ? {} : { classify }),
  };
}

import type { Clock, TimerHandle } from "@beauvoir/core";
import { CircuitTimeoutError } from "./errors.js";

/**
 * @internal Handed to functions when nothing can abort the call: creating a
 * signal costs microseconds, far more than the rest of `execute()`. Listeners
 * added to it never fire; remove them as you would on any long-lived signal.
 */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** @internal How a guarded call may end; exactly one of these runs, once. */
export interface GuardedCallOutcomes {
  /** The function's value arrived first. */
  readonly succeeded: () => void;
  /** The function's error arrived first. */
  readonly failed: (error: unknown) => void;
  /** The time limit ran out first; the function's signal is already aborted. */
  readonly timedOut: (error: CircuitTimeoutError) => void;
  /** The caller's signal aborted first; the function's signal is already aborted. */
  readonly cancelled: () => void;
}

/** @internal What bounds a guarded call. */
export interface GuardedCallLimits {
  readonly signal: AbortSignal | undefined;
  readonly timeoutMs: number | undefined;
  readonly clock: Clock;
  /** The breaker's name, for the timeout error. */
  readonly name: string | undefined;
}

/**
 * @internal Runs `fn` under a caller's signal and/or a time limit: whichever
 * of the value, the error, the timeout and the abort comes first settles the
 * returned promise and reports to `outcomes`; what comes later is dropped,
 * rejections included, so a late failure is neither counted nor reported as
 * unhandled.
 */
export function runGuardedCall<T>(
  fn: (signal: AbortSignal) => Promise<T> | T,
  { signal, timeoutMs, clock, name }: GuardedCallLimits,
  outcomes: GuardedCallOutcomes,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: TimerHandle | undefined;
    let controller: AbortController | undefined;
    const finish = () => {
      settled = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      if (settled) return;
      finish();
      const reason = signal!.reason;
      controller?.abort(reason);
      outcomes.cancelled();
      reject(reason);
    };
    let callSignal = signal ?? NEVER_ABORTED;
    if (timeoutMs !== undefined) {
      const timeoutController = new AbortController();
      controller = timeoutController;
      callSignal = timeoutController.signal;
      timer = clock.setTimeout(() => {
        if (settled) return;
        finish();
        const error = new CircuitTimeoutError(timeoutMs, name);
        timeoutController.abort(error);
        outcomes.timedOut(error);
        reject(error);
      }, timeoutMs);
      timer.unref?.();
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    let result: Promise<T> | T;
    try {
      result = fn(callSignal);
    } catch (error) {
      result = Promise.reject(error);
    }
    Promise.resolve(result).then(
      (value) => {
        if (settled) return;
        finish();
        outcomes.succeeded();
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        finish();
        outcomes.failed(error);
        reject(error);
      },
    );
  });
}

import { AsyncResource } from "node:async_hooks";
import { type LimiterWaitMessage, publishWait, waitsObserved } from "./diagnostics.js";
import type { Waiter } from "./wait-queue.js";

/** @internal What {@link observedWaiter} builds a waiter from. */
export interface WaiterRequest {
  readonly workflowId: string;
  /** When the wait started, epoch ms. */
  readonly startedAt: number;
  readonly maxWaitMs: number;
  /** The wait projected when it started, for the diagnostics channel. */
  readonly expectedWaitMs: number;
  readonly signal: AbortSignal | undefined;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  /** The limiter's clock, to measure the wait. */
  readonly now: () => number;
}

/**
 * @internal The queue entry of one `consume()` call. When the wait channel has
 * subscribers, the end of the wait (granted, refused or aborted) is published,
 * bound to the caller's async context: a subscriber (a tracer) sees it as part
 * of the caller's work, not of the timer's.
 */
export function observedWaiter(request: WaiterRequest): Waiter {
  const { workflowId, startedAt, signal, resolve, reject, now } = request;
  const ended = waitsObserved()
    ? AsyncResource.bind((outcome: LimiterWaitMessage["outcome"]) =>
        publishWait({
          workflowId,
          startedAt,
          waitedMs: Math.max(0, now() - startedAt),
          expectedWaitMs: request.expectedWaitMs,
          outcome,
        }),
      )
    : undefined;
  return {
    workflowId,
    deadline: startedAt + request.maxWaitMs,
    resolve: ended
      ? () => {
          ended("granted");
          resolve();
        }
      : resolve,
    reject: ended
      ? (reason: unknown) => {
          ended(signal?.aborted && reason === signal.reason ? "aborted" : "refused");
          reject(reason);
        }
      : reject,
    signal,
    onAbort: undefined,
  };
}

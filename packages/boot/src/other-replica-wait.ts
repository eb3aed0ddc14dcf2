import { delay } from "@beauvoir/core";
import { KeyInFlightError } from "./errors.js";
import type { ExecutorContext } from "./executor-context.js";

const FIRST_POLL_MS = 50;
const LONGEST_POLL_MS = 1_000;

/**
 * Waits before looking at a key again that another live replica is running:
 * polls from 50 ms, doubling to 1 s, within the step's `maxWaitMs`.
 * @throws {@link KeyInFlightError} (`runningAt: "another replica"`) once `maxWaitMs` is spent;
 *   the reason of the step's signal or of `stop()`.
 */
export async function waitForOtherReplica(
  context: ExecutorContext,
  step: { key: string; signal?: AbortSignal | undefined; maxWaitMs: number },
  startedAt: number,
  round: number,
): Promise<void> {
  const left = startedAt + step.maxWaitMs - context.clock.now();
  if (left <= 0) throw new KeyInFlightError(step.key, "another replica");
  const pollMs = Math.min(LONGEST_POLL_MS, FIRST_POLL_MS * 2 ** Math.min(round, 5), left);
  const signal = step.signal
    ? AbortSignal.any([context.stopSignal, step.signal])
    : context.stopSignal;
  await delay(pollMs, { signal, clock: context.clock });
}

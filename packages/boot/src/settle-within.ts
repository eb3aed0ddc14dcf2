import type { Clock } from "@beauvoir/core";

/**
 * Waits for every promise in `pending` to settle, but at most `timeoutMs`.
 * The timer is unref'd and cleared, so a finished wait leaves nothing behind.
 * @returns true when all settled in time, false when the time ran out first.
 */
export async function settleWithin(
  pending: Iterable<Promise<unknown>>,
  timeoutMs: number,
  clock: Clock,
): Promise<boolean> {
  const promises = [...pending];
  if (promises.length === 0) return true;
  let timer: ReturnType<Clock["setTimeout"]> | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = clock.setTimeout(() => resolve(false), timeoutMs);
    timer.unref?.();
  });
  const settled = Promise.allSettled(promises).then(() => true as const);
  const drained = await Promise.race([settled, timedOut]);
  if (timer) clock.clearTimeout(timer);
  return drained;
}

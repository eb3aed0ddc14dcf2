import type { WorkflowEntry } from "./workflow-buckets.js";

/** `2^60` times any sane base is past any ceiling; stop counting there. */
const MAX_EXPONENT = 60;

/**
 * @internal The next jittered exponential backoff of a workflow,
 * `min(maxMs, baseMs * 2^attempts) * (0.75 + random * 0.5)` rounded, counting
 * the attempt on `entry`.
 */
export function nextBackoffMs(
  entry: WorkflowEntry,
  backoff: { readonly baseMs: number; readonly maxMs: number },
  random: () => number,
): number {
  const exponential = Math.min(backoff.maxMs, backoff.baseMs * 2 ** entry.attempts);
  if (entry.attempts < MAX_EXPONENT) entry.attempts++;
  return Math.round(exponential * (0.75 + random() * 0.5));
}

import { channel } from "node:diagnostics_channel";
import type { RateLimitKind } from "./blocks-snapshot.js";

/** The `node:diagnostics_channel` name of `consume()` calls that had to wait: one message when each wait ends. */
export const LIMITER_WAIT_CHANNEL = "beauvoir:limiter:wait";

/** The `node:diagnostics_channel` name of the blocks GitHub imposed: one message per recorded limit. */
export const LIMITER_BLOCK_CHANNEL = "beauvoir:limiter:block";

/** What {@link LIMITER_WAIT_CHANNEL} carries. */
export interface LimiterWaitMessage {
  readonly workflowId: string;
  /** When the wait began, epoch ms (the limiter's clock). */
  readonly startedAt: number;
  /** How long it waited. */
  readonly waitedMs: number;
  /** How long it was expected to wait when it began. */
  readonly expectedWaitMs: number;
  /** `granted`: it got its token; `refused`: `maxWaitMs`, an exhausted bucket or shutdown; `aborted`: its signal. */
  readonly outcome: "granted" | "refused" | "aborted";
}

/** What {@link LIMITER_BLOCK_CHANNEL} carries. */
export interface LimiterBlockMessage {
  /** `recorded`: a refusal (`recordRateLimit`, `recordRateLimitFailure`); `quota`: a response said none are left. */
  readonly reason: "recorded" | "quota";
  readonly kind: RateLimitKind;
  /** The workflow whose request was refused (`undefined` for `quota`). */
  readonly workflowId: string | undefined;
  readonly retryAfterSec: number | undefined;
  readonly resetAtEpochSec: number | undefined;
  /** Until when every request is held back, epoch ms. */
  readonly blockedUntil: number;
  /** How long from now, ms. */
  readonly blockedForMs: number;
}

const waitChannel = channel(LIMITER_WAIT_CHANNEL);
const blockChannel = channel(LIMITER_BLOCK_CHANNEL);

/** Whether anyone listens to waits (a wait is only timed then). */
export function waitsObserved(): boolean {
  return waitChannel.hasSubscribers;
}

/** Publishes the end of a wait. */
export function publishWait(message: LimiterWaitMessage): void {
  if (waitChannel.hasSubscribers) waitChannel.publish(message);
}

/** Publishes a block, when anyone listens (nothing is built otherwise). */
export function publishBlock(message: () => LimiterBlockMessage): void {
  if (blockChannel.hasSubscribers) blockChannel.publish(message());
}

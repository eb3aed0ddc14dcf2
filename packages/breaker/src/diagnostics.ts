import { channel } from "node:diagnostics_channel";
import type { CircuitState } from "./circuit-state.js";
import type { StateChangeReason } from "./events.js";

/** The `node:diagnostics_channel` name on which every breaker publishes its state changes. */
export const BREAKER_STATE_CHANNEL = "beauvoir:breaker:state";

/** What {@link BREAKER_STATE_CHANNEL} carries: one message per transition. */
export interface BreakerStateMessage {
  /** The breaker's `name` (a group's key, e.g. the action). */
  readonly name: string | undefined;
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: StateChangeReason;
  /** When it happened, epoch ms (the breaker's clock). */
  readonly at: number;
  /** When an open breaker lets a probe through, epoch ms; `null` otherwise. */
  readonly retryAt: number | null;
}

const stateChannel = channel(BREAKER_STATE_CHANNEL);

/** Publishes a transition, when anyone listens (nothing is built otherwise). */
export function publishBreakerState(message: () => BreakerStateMessage): void {
  if (stateChannel.hasSubscribers) stateChannel.publish(message());
}

import type { CircuitState } from "./circuit-state.js";
import { publishBreakerState } from "./diagnostics.js";
import type { CircuitBreakerEventName, CircuitBreakerEvents, StateChangeReason } from "./events.js";
import type { TypedEmitter } from "./typed-emitter.js";

const STATE_EVENTS = {
  OPEN: "open",
  HALF_OPEN: "halfOpen",
  CLOSED: "close",
} as const satisfies Record<CircuitState, CircuitBreakerEventName>;

/** @internal Everyone told about a breaker's transitions. */
export interface StateChangeAudience {
  /** The breaker's `name`, for the diagnostics channel. */
  readonly name: string | undefined;
  /** The `onStateChange` option. */
  readonly onStateChange: ((from: CircuitState, to: CircuitState) => void) | undefined;
  readonly events: TypedEmitter<CircuitBreakerEvents>;
  /** Logs what the `onStateChange` hook threw. */
  readonly warn: (message: string, data: Record<string, unknown>) => void;
}

/**
 * @internal Announces a transition that has already happened, in this order:
 * the `onStateChange` hook (what it throws is logged), the diagnostics channel
 * (the message is built only when someone subscribes), then the `open`,
 * `halfOpen` or `close` event.
 */
export function announceStateChange(
  audience: StateChangeAudience,
  from: CircuitState,
  to: CircuitState,
  reason: StateChangeReason,
  at: number,
  retryAt: number | null,
): void {
  const { onStateChange } = audience;
  if (onStateChange !== undefined) {
    try {
      onStateChange(from, to);
    } catch (error) {
      audience.warn("circuit breaker onStateChange threw", { from, to, error });
    }
  }
  publishBreakerState(() => ({ name: audience.name, from, to, reason, at, retryAt }));
  audience.events.emit(STATE_EVENTS[to], { from, to, reason, at, retryAt });
}

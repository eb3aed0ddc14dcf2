import { CircuitBreaker } from "./circuit-breaker.js";
import type { CircuitState } from "./circuit-state.js";
import { BreakerSnapshotError } from "./errors.js";
import type { CircuitStateChangeEvent } from "./events.js";
import { type CircuitBreakerOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { type CircuitBreakerSnapshot, parseSnapshot } from "./snapshot.js";
import { type Listener, TypedEmitter } from "./typed-emitter.js";

/** Options of {@link CircuitBreakerGroup}: every breaker's options, and the group's bound. */
export interface CircuitBreakerGroupOptions
  extends Omit<CircuitBreakerOptions, "initialState" | "onStateChange"> {
  /**
   * Called on every state change of every breaker, with its key, before the
   * events. The breaker option's `(from, to)` callbacks work unchanged.
   */
  onStateChange?: ((from: CircuitState, to: CircuitState, key: string) => void) | undefined;
  /**
   * How many breakers the group holds before it forgets the least recently
   * used ones that have nothing to remember (CLOSED, no failure counted). OPEN
   * and HALF_OPEN breakers are never forgotten, so the group may go past the
   * bound while more keys than that are failing.
   * @default 1_000
   */
  maxKeys?: number | undefined;
  /** Not accepted for a group: use {@link CircuitBreakerGroup.restore}. */
  initialState?: undefined;
}

/** A state change of one breaker of a group: the breaker's event, with its key. */
export interface GroupStateChangeEvent extends CircuitStateChangeEvent {
  /** The key of the breaker that changed. */
  readonly key: string;
}

/** Every event of a {@link CircuitBreakerGroup} and its payload. */
export interface CircuitBreakerGroupEvents {
  /** Any transition of any breaker: boot persists `snapshot()` on it. */
  stateChange: GroupStateChangeEvent;
  open: GroupStateChangeEvent;
  halfOpen: GroupStateChangeEvent;
  close: GroupStateChangeEvent;
}

/** The name of a {@link CircuitBreakerGroup} event. */
export type CircuitBreakerGroupEventName = keyof CircuitBreakerGroupEvents;

const GROUP_EVENTS: ReadonlySet<string> = new Set<CircuitBreakerGroupEventName>([
  "stateChange",
  "open",
  "halfOpen",
  "close",
]);
const STATE_EVENTS = ["open", "halfOpen", "close"] as const;

/** Defaults of the group's own option. */
export const CIRCUIT_BREAKER_GROUP_DEFAULTS = Object.freeze({ maxKeys: 1_000 });

interface Entry {
  readonly breaker: CircuitBreaker;
  lastUsedAt: number;
}

/**
 * One circuit breaker per key (an action, a route, a host), made on first use
 * with the group's options and the key as its `name`, so failures of one
 * action never refuse an unrelated one. State changes of every breaker are
 * forwarded with the key; `snapshot()` and `restore()` carry every breaker
 * that has something to remember across a restart.
 *
 * Memory is bounded: past `maxKeys` breakers, the least recently used ones
 * that are CLOSED with no failure counted are forgotten (a new one for their
 * key behaves the same; only their statistics are lost). Call `get(key)` for
 * every call instead of keeping a breaker around, so a forgotten breaker is
 * never used again.
 *
 * @example
 * ```ts
 * const breakers = new CircuitBreakerGroup({ failureThreshold: 3 });
 * breakers.on("open", ({ key, retryAt }) => console.warn(`${key} refused until ${new Date(retryAt!)}`));
 * await breakers.get("add_labels").execute(() => octokit.rest.issues.addLabels(params));
 * ```
 */
export class CircuitBreakerGroup {
  readonly #breakerOptions: Omit<CircuitBreakerOptions, "onStateChange">;
  readonly #onStateChange: CircuitBreakerGroupOptions["onStateChange"];
  readonly #resolved: ResolvedOptions;
  readonly #maxKeys: number;
  readonly #entries = new Map<string, Entry>();
  readonly #events: TypedEmitter<CircuitBreakerGroupEvents>;

  /**
   * @param options - the options of every breaker (see `CircuitBreakerOptions`;
   *   `name` is replaced by the key) and `maxKeys`.
   * @throws TypeError or RangeError naming the option when an option is invalid.
   */
  constructor(options: CircuitBreakerGroupOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("CircuitBreakerGroup options must be an object");
    }
    const {
      maxKeys = CIRCUIT_BREAKER_GROUP_DEFAULTS.maxKeys,
      onStateChange,
      ...breakerOptions
    } = options;
    if ("initialState" in breakerOptions && breakerOptions.initialState !== undefined) {
      throw new TypeError("initialState is not a group option: call group.restore(snapshots)");
    }
    if (!Number.isInteger(maxKeys) || maxKeys < 1) {
      throw new RangeError(`maxKeys must be a whole number >= 1, got ${String(maxKeys)}`);
    }
    // The breakers' own check of every option, onStateChange's type included.
    this.#resolved = resolveOptions({
      ...breakerOptions,
      onStateChange: onStateChange as CircuitBreakerOptions["onStateChange"],
    });
    this.#breakerOptions = breakerOptions;
    this.#onStateChange = onStateChange;
    this.#maxKeys = maxKeys;
    this.#events = new TypedEmitter((event, error) => {
      try {
        this.#resolved.logger.warn("circuit breaker group listener threw", { event, error });
      } catch {
        // A broken logger must not break the group either.
      }
    });
  }

  /**
   * The breaker of `key`, made (CLOSED, with the group's options, `name` =
   * key) on first use.
   * @param key - any non-empty string, e.g. the action name.
   * @returns the key's breaker.
   * @throws TypeError when `key` is not a non-empty string.
   * @example
   * ```ts
   * await group.get("create_review").execute(() => createReview());
   * ```
   */
  get(key: string): CircuitBreaker {
    if (typeof key !== "string" || key === "") {
      throw new TypeError("the breaker key must be a non-empty string");
    }
    const now = this.#resolved.now();
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.lastUsedAt = now;
      return entry.breaker;
    }
    if (this.#entries.size >= this.#maxKeys) this.#evict();
    const onStateChange = this.#onStateChange;
    const breaker = new CircuitBreaker({
      ...this.#breakerOptions,
      name: key,
      ...(onStateChange === undefined
        ? {}
        : {
            onStateChange: (from: CircuitState, to: CircuitState) => onStateChange(from, to, key),
          }),
    });
    for (const event of STATE_EVENTS) {
      breaker.on(event, (payload) => {
        const forwarded: GroupStateChangeEvent = { key, ...payload };
        this.#events.emit(event, forwarded);
        this.#events.emit("stateChange", forwarded);
      });
    }
    this.#entries.set(key, { breaker, lastUsedAt: now });
    return breaker;
  }

  /** @returns the keys of the breakers held now, oldest first. */
  keys(): string[] {
    return [...this.#entries.keys()];
  }

  /** Number of breakers held now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Subscribes to an event of every breaker: `stateChange` (any transition),
   * `open`, `halfOpen` or `close`, with the breaker's payload and its `key`.
   * A listener that throws is logged and disturbs nothing.
   * @param event - the event name.
   * @param listener - receives the payload.
   * @returns a function that unsubscribes.
   * @throws TypeError for an unknown event or a listener that is not a function.
   * @example
   * ```ts
   * const stop = group.on("stateChange", () => void store.set(group.snapshot()));
   * ```
   */
  on<Name extends CircuitBreakerGroupEventName>(
    event: Name,
    listener: Listener<CircuitBreakerGroupEvents[Name]>,
  ): () => void {
    if (!GROUP_EVENTS.has(event)) {
      throw new TypeError(
        `unknown event ${JSON.stringify(event)}; use one of ${[...GROUP_EVENTS].join(", ")}`,
      );
    }
    if (typeof listener !== "function") throw new TypeError("listener must be a function");
    return this.#events.on(event, listener);
  }

  /**
   * The state of every breaker that has something to remember (OPEN,
   * HALF_OPEN, or CLOSED with failures counted), by key, as plain JSON with
   * epoch times; breakers that would restore as new are left out.
   * @returns `{ [key]: CircuitBreakerSnapshot }`.
   * @example
   * ```ts
   * await writeFile("breakers.json", JSON.stringify(group.snapshot()));
   * ```
   */
  snapshot(): Record<string, CircuitBreakerSnapshot> {
    const snapshots: Record<string, CircuitBreakerSnapshot> = {};
    for (const [key, { breaker }] of this.#entries) {
      if (!breaker.hasNothingToRemember()) snapshots[key] = breaker.toJSON();
    }
    return snapshots;
  }

  /**
   * Restores breakers from {@link CircuitBreakerGroup.snapshot}: each key's
   * breaker (made if needed) takes its saved state, as
   * `CircuitBreaker.restore` does. Everything is checked before anything is
   * applied.
   * @param snapshots - what `snapshot()` returned, read back from storage.
   * @param options - `now`: the time to judge the snapshots at. @default the clock's now
   * @throws {@link BreakerSnapshotError} naming the key, for a malformed value; nothing is applied.
   * @example
   * ```ts
   * group.restore(JSON.parse(await readFile("breakers.json", "utf8")));
   * ```
   */
  restore(snapshots: Record<string, CircuitBreakerSnapshot>, options: { now?: number } = {}): void {
    if (typeof snapshots !== "object" || snapshots === null || Array.isArray(snapshots)) {
      throw new BreakerSnapshotError("must be an object of snapshots by key, from snapshot()");
    }
    const parsed: Array<[string, CircuitBreakerSnapshot]> = [];
    for (const [key, value] of Object.entries(snapshots)) {
      if (key === "") throw new BreakerSnapshotError("a key must be a non-empty string", key);
      try {
        parsed.push([key, parseSnapshot(value, "snapshot")]);
      } catch (error) {
        throw new BreakerSnapshotError((error as Error).message, key, error);
      }
    }
    for (const [key, snapshot] of parsed) this.get(key).restore(snapshot, options);
  }

  /**
   * Makes room for a new key: forgets the least recently used breakers with
   * nothing to remember, down to nine tenths of `maxKeys` so this runs once
   * per many new keys; failing that, the least recently used CLOSED breaker
   * (losing its counted failures); never an OPEN or HALF_OPEN one.
   */
  #evict(): void {
    const byAge = [...this.#entries].sort((a, b) => a[1].lastUsedAt - b[1].lastUsedAt);
    const target = this.#maxKeys - Math.max(1, Math.floor(this.#maxKeys / 10));
    for (const [key, { breaker }] of byAge) {
      if (this.#entries.size <= target) return;
      if (breaker.hasNothingToRemember()) this.#entries.delete(key);
    }
    if (this.#entries.size < this.#maxKeys) return;
    for (const [key, { breaker }] of byAge) {
      if (this.#entries.has(key) && breaker.getState() === "CLOSED") {
        this.#entries.delete(key);
        return;
      }
    }
  }
}

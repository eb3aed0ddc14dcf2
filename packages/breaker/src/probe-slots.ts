/**
 * @internal The HALF_OPEN probe budget: at most `limit` probe calls run at a
 * time, and `limit` successes close the circuit. Calls beyond the budget are
 * refused, never queued.
 */
export class ProbeSlots {
  readonly #limit: number;
  #inFlight = 0;
  #successes = 0;

  /** @param limit - the `halfOpenProbeCount` option. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Probe calls running now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Successful probes since the circuit half-opened. */
  get successes(): number {
    return this.#successes;
  }

  /** Takes a slot for a probe call; false when every slot is taken. */
  tryTake(): boolean {
    if (this.#inFlight >= this.#limit) return false;
    this.#inFlight++;
    return true;
  }

  /** Gives back the slot of a probe that ended (or was cancelled). */
  release(): void {
    this.#inFlight--;
  }

  /** Counts a success; returns whether enough probes succeeded to close the circuit. */
  succeed(): boolean {
    this.#successes++;
    return this.#successes >= this.#limit;
  }

  /** Starts over: no probe running, none succeeded. */
  clear(): void {
    this.#inFlight = 0;
    this.#successes = 0;
  }
}

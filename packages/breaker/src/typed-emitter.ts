/** A function that receives one kind of event. */
export type Listener<Payload> = (payload: Payload) => void;

/**
 * @internal A small, dependency-free event emitter with typed payloads.
 * Listener lists are copied on change, so a listener may unsubscribe (itself
 * or another) while an event is being delivered. A listener that throws is
 * reported to `onListenerError` and the others still run.
 */
export class TypedEmitter<Events extends object> {
  #listeners: { [Name in keyof Events]?: readonly Listener<Events[Name]>[] } = {};
  readonly #onListenerError: (event: keyof Events, error: unknown) => void;

  /** @param onListenerError - receives what a listener threw. */
  constructor(onListenerError: (event: keyof Events, error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Subscribes; returns a disposer that unsubscribes (calling it twice is harmless). */
  on<Name extends keyof Events>(event: Name, listener: Listener<Events[Name]>): () => void {
    this.#listeners[event] = [...(this.#listeners[event] ?? []), listener];
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const remaining = [...(this.#listeners[event] ?? [])];
      remaining.splice(remaining.indexOf(listener), 1);
      if (remaining.length === 0) delete this.#listeners[event];
      else this.#listeners[event] = remaining;
    };
  }

  /** Whether anyone listens to `event`; lets callers skip building a payload. */
  has(event: keyof Events): boolean {
    return this.#listeners[event] !== undefined;
  }

  /** Delivers `payload` to every listener of `event`, in subscription order. */
  emit<Name extends keyof Events>(event: Name, payload: Events[Name]): void {
    const listeners = this.#listeners[event];
    if (listeners === undefined) return;
    for (const listener of listeners) {
      try {
        listener(payload);
      } catch (error) {
        this.#onListenerError(event, error);
      }
    }
  }
}

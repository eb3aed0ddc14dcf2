// Watching promises settle under a manual clock, for the waiting tests.

/** Lets every pending promise callback run. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

export function track<T>(promise: Promise<T>) {
  const state: { done: boolean; error: unknown } = { done: false, error: undefined };
  promise.then(
    () => {
      state.done = true;
    },
    (error: unknown) => {
      state.done = true;
      state.error = error;
    },
  );
  return state;
}

// Power-loss runs of the store: the scenario runs on core's crash-state
// filesystem, a power cut is simulated after every filesystem call under
// every model (prefix, subset, torn), and a fresh store recovers from each
// crash image. Used by power-loss.test.ts (a findings file, when there are
// findings, holds the runs that fail until the code is fixed).
import {
  type CrashCheckContext,
  type CrashExplorationReport,
  type CrashStateFileSystem,
  exploreCrashStates,
  ManualClock,
} from "@beauvoir/core";
import { ResilientJsonStore } from "../src/index.js";

interface State {
  n: number;
  text: string;
}

/** What one store call promised: a state (`n`), or nothing (`clear`). */
export type StoreOperation =
  | { readonly kind: "set"; readonly n: number }
  | { readonly kind: "clear" };

/** Long enough (about 900 bytes) for writes to span two sectors, so torn writes fall inside them. */
export const stateOf = (n: number): State => ({ n, text: `value ${n} `.repeat(100) });

/** Where the store lives, and what exists before the scenario. */
export interface StoreLayout {
  /** The primary file. */
  readonly path: string;
  /** Directories that exist, durably, before the scenario (the rest are missing). */
  readonly existingDirectories: readonly string[];
  /** States stored by an earlier run, in order, durably, before the scenario (the last is current). */
  readonly earlierStates?: readonly number[];
  /** Largest write the filesystem takes at once (short writes below it). @default Infinity */
  readonly maxBytesPerWrite?: number;
  /** Starts every operation at once instead of one after the other (the store's mutex orders them). */
  readonly concurrent?: boolean;
}

const clock = (): ManualClock => new ManualClock(1_700_000_000_000);

const openStore = (fs: CrashStateFileSystem, path: string) =>
  new ResilientJsonStore<State>({ path, fs, clock: clock() });

/** The state a completed operation leaves: its `n`, or null after a clear. */
const outcomeOf = (operation: StoreOperation): number | null =>
  operation.kind === "set" ? operation.n : null;

/**
 * Recovery finds the outcome of the last promised operation or of one started
 * after it; before any promise, the earlier state or an outcome of a started
 * one. Recovery never throws, a second fresh store agrees with the first, and
 * the store takes a new write after the power cut.
 */
async function checkRecovery(
  layout: StoreLayout,
  { fs, promised, started }: CrashCheckContext<StoreOperation>,
): Promise<void> {
  const last = promised.at(-1);
  const allowed =
    last === undefined
      ? [layout.earlierStates?.at(-1) ?? null, ...started.map(outcomeOf)]
      : started.slice(started.lastIndexOf(last)).map(outcomeOf);
  const recovered = await openStore(fs, layout.path).get();
  if (recovered !== null && recovered.text !== stateOf(recovered.n).text) {
    throw new Error(`recovered a damaged state for n=${recovered.n}`);
  }
  const found = recovered === null ? null : recovered.n;
  if (!allowed.includes(found)) {
    throw new Error(
      `recovered ${found === null ? "no state" : `state ${found}`}; allowed: ${JSON.stringify(allowed)}` +
        ` (promised: ${JSON.stringify(promised)})`,
    );
  }
  const again = await openStore(fs, layout.path).get();
  if ((again === null ? null : again.n) !== found) {
    throw new Error(
      `a second recovery found ${JSON.stringify(again?.n ?? null)}, the first ${found}`,
    );
  }
  const next = 1_000;
  await openStore(fs, layout.path).set(stateOf(next));
  const afterWrite = await openStore(fs, layout.path).get();
  if (afterWrite?.n !== next) {
    throw new Error(
      `a set() after recovery was not read back (got ${JSON.stringify(afterWrite?.n ?? null)})`,
    );
  }
}

/**
 * Explores every crash state of a sequence of store operations (one instance
 * doing them in order) from the given layout.
 * @param layout - the store's path and what exists before.
 * @param operations - the calls, in order.
 * @returns the exploration's report.
 */
export function explorePowerLoss(
  layout: StoreLayout,
  operations: readonly StoreOperation[],
): Promise<CrashExplorationReport> {
  return exploreCrashStates<StoreOperation>({
    fileSystem: { clock: clock(), maxBytesPerWrite: layout.maxBytesPerWrite },
    setup: async (fs) => {
      for (const directory of layout.existingDirectories)
        await fs.mkdir(directory, { recursive: true });
      const earlier = openStore(fs, layout.path);
      for (const n of layout.earlierStates ?? []) await earlier.set(stateOf(n));
    },
    scenario: async ({ fs, track }) => {
      const store = openStore(fs, layout.path);
      const run = (operation: StoreOperation) =>
        track(operation, () =>
          operation.kind === "set" ? store.set(stateOf(operation.n)) : store.clear(),
        );
      if (layout.concurrent) {
        await Promise.all(operations.map(run));
      } else {
        for (const operation of operations) await run(operation);
      }
    },
    check: (context) => checkRecovery(layout, context),
  });
}

/** `set` operations for `n` = 1 … count. */
export const sets = (count: number): StoreOperation[] =>
  Array.from({ length: count }, (_, index) => ({ kind: "set", n: index + 1 }));

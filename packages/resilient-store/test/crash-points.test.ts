// A crash injected between every pair of filesystem calls: the faulty fs lets
// N calls through and fails every later one, as if the process died right
// there; then a fresh store on the real filesystem reads what is on disk.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createFaultyFileSystem, SIMULATED_CRASH } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ResilientJsonStore } from "../src/index.js";
import { listDir, makeTempDir, writeStoreFile } from "./helpers.js";

interface State {
  n: number;
  text: string;
}
const stateOf = (n: number): State => ({ n, text: `value ${n} `.repeat(40 + n) });

let dir: string;
let remove: () => Promise<void>;
let path: string;

beforeEach(async () => {
  ({ dir, remove } = await makeTempDir());
  path = join(dir, "state.json");
});
afterEach(async () => {
  await remove();
});

/** The highest `_writeEpoch` in any file of the store (primary, bak, tmp). */
async function highestEpochOnDisk(): Promise<number> {
  let highest = 0;
  for (const entry of await readdir(dir)) {
    if (entry.includes("quarantine")) continue;
    try {
      const epoch = JSON.parse(await readFile(join(dir, entry), "utf8"))._writeEpoch;
      if (typeof epoch === "number") highest = Math.max(highest, epoch);
    } catch {
      // A torn tmp file carries no epoch.
    }
  }
  return highest;
}

interface Scenario {
  name: string;
  /** Builds the files before the crashing operation, with a fault-free store. */
  prepare: () => Promise<void>;
  /** The operation that crashes part-way. */
  operation: (store: ResilientJsonStore<State>) => Promise<unknown>;
  /** Whether the crashing store reads before the operation (a warm instance). */
  warm: boolean;
  /** What a reader may see afterwards. */
  allowed: Array<State | null>;
  /** What a reader must see when the operation completed. */
  final: State | null;
  schemaVersion?: number;
}

const seedTwo = async () => {
  const seed = new ResilientJsonStore<State>({ path });
  await seed.set(stateOf(1));
  await seed.set(stateOf(2));
};

const scenarios: Scenario[] = [
  {
    name: "first set() ever",
    prepare: async () => {},
    operation: (store) => store.set(stateOf(1)),
    warm: false,
    allowed: [null, stateOf(1)],
    final: stateOf(1),
  },
  {
    name: "set() on a fresh instance over primary and bak",
    prepare: seedTwo,
    operation: (store) => store.set(stateOf(3)),
    warm: false,
    allowed: [stateOf(2), stateOf(3)],
    final: stateOf(3),
  },
  {
    name: "set() on a warm instance",
    prepare: seedTwo,
    operation: (store) => store.set(stateOf(3)),
    warm: true,
    allowed: [stateOf(2), stateOf(3)],
    final: stateOf(3),
  },
  {
    name: "two queued set() calls",
    prepare: seedTwo,
    operation: (store) => Promise.allSettled([store.set(stateOf(3)), store.set(stateOf(4))]),
    warm: true,
    allowed: [stateOf(2), stateOf(3), stateOf(4)],
    final: stateOf(4),
  },
  {
    name: "get() recovering from a tmp file (promotion)",
    prepare: async () => {
      await writeStoreFile(`${path}.123.tmp`, stateOf(2) as never, { writeEpoch: 2 });
      await writeStoreFile(`${path}.124.tmp`, { n: 0 } as never, { writeEpoch: 1 });
      await (await import("node:fs/promises")).writeFile(`${path}.125.tmp`, '{"n": 3, "te');
    },
    operation: async (store) => store.get(),
    warm: false,
    allowed: [stateOf(2)],
    final: stateOf(2),
  },
  {
    name: "get() quarantining a corrupt primary",
    prepare: async () => {
      await writeStoreFile(`${path}.bak`, stateOf(1) as never, { writeEpoch: 1 });
      await (await import("node:fs/promises")).writeFile(path, "{ torn");
    },
    operation: async (store) => store.get(),
    warm: false,
    allowed: [stateOf(1)],
    final: stateOf(1),
  },
  {
    name: "get() migrating and writing back",
    prepare: async () => {
      await writeStoreFile(path, { n: 5, text: "old" } as never, {
        schemaVersion: 1,
        writeEpoch: 3,
      });
    },
    operation: async (store) => store.get(),
    warm: false,
    schemaVersion: 2,
    allowed: [{ n: 5, text: "old (v2)" }],
    final: { n: 5, text: "old (v2)" },
  },
  {
    name: "clear()",
    prepare: seedTwo,
    operation: (store) => store.clear(),
    warm: true,
    allowed: [stateOf(2), null],
    final: null,
  },
];

const migrations = { 1: (state: State) => ({ ...state, text: `${state.text} (v2)` }) };

describe("a crash between any two filesystem calls", () => {
  for (const scenario of scenarios) {
    it(`${scenario.name}: a fresh reader sees an allowed state, and epochs keep growing`, async () => {
      const storeOptions = (fs?: ReturnType<typeof createFaultyFileSystem>) => ({
        path,
        ...(fs ? { fs } : {}),
        ...(scenario.schemaVersion ? { schemaVersion: scenario.schemaVersion, migrations } : {}),
      });
      // Count the calls of the operation on a fault-free run.
      await scenario.prepare();
      const counting = createFaultyFileSystem();
      const counted = new ResilientJsonStore<State>(storeOptions(counting));
      if (scenario.warm) await counted.get();
      const before = counting.calls.length;
      await scenario.operation(counted);
      const total = counting.calls.length - before;
      expect(total).toBeGreaterThan(0);

      // `total` lets every call through: the operation completes.
      for (let allowedCalls = 0; allowedCalls <= total; allowedCalls++) {
        await remove();
        ({ dir, remove } = await makeTempDir());
        path = join(dir, "state.json");
        await scenario.prepare();
        let crashAfter = Number.POSITIVE_INFINITY;
        const fs = createFaultyFileSystem({
          inject: (call) => (call.index > crashAfter ? { crash: true } : undefined),
        });
        const store = new ResilientJsonStore<State>(storeOptions(fs));
        if (scenario.warm) await store.get();
        crashAfter = fs.calls.length + allowedCalls;
        const outcome = await scenario.operation(store).then(
          () => "resolved",
          (error: unknown) => error,
        );
        const label = `${scenario.name}, crash after ${allowedCalls} of ${total} calls`;
        if (allowedCalls < total) expect(fs.crashed, label).toBe(true);
        if (outcome !== "resolved" && !Array.isArray(outcome)) {
          const cause = outcome as { cause?: { code?: string }; code?: string };
          expect(cause.cause?.code ?? cause.code, label).toBe(SIMULATED_CRASH);
        }

        const epochBefore = await highestEpochOnDisk();
        const reader = new ResilientJsonStore<State>(storeOptions());
        const value = await reader.get();
        expect(
          scenario.allowed,
          `${label}: read ${JSON.stringify(value)?.slice(0, 40)}`,
        ).toContainEqual(value);
        // The operation completed: its result is what must be read.
        if (allowedCalls === total) expect(value, label).toEqual(scenario.final);
        // Nothing a crash leaves behind is mistaken for corruption.
        expect(
          (await listDir(dir)).some((entry) => entry.includes("quarantine")),
          label,
        ).toBe(scenario.name.includes("quarantin"));
        // The next write carries a higher epoch than anything on disk.
        await reader.set(stateOf(9));
        const written = JSON.parse(await readFile(path, "utf8"))._writeEpoch as number;
        expect(written, label).toBeGreaterThan(epochBefore);
      }
    });
  }
});

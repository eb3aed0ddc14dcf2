// Issue 12, finding 9: a state that throws while it is read, or is nested too
// deep for the serializer, must be refused with a typed error (a code),
// nothing written, the stored state intact. And every option is checked
// before the first durable write.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ResilientJsonStore, ResilientStoreFactory, StoreError } from "../src/index.js";
import { listDir, useTempDir } from "./helpers.js";

let dir: string;
let path: string;

useTempDir((made) => {
  dir = made;
  path = join(dir, "state.json");
});

function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true };
  for (let level = 0; level < levels; level++) value = { child: value };
  return value;
}

const hostile: Array<{ name: string; state: () => Record<string, unknown>; valuePath: RegExp }> = [
  {
    name: "a getter that throws",
    state: () => ({
      ok: 1,
      get secret(): string {
        throw new Error("getter exploded");
      },
    }),
    valuePath: /^\$\.secret$/,
  },
  {
    name: "a nested getter that throws",
    state: () => ({
      list: [
        1,
        Object.defineProperty({}, "x", {
          enumerable: true,
          get() {
            throw new TypeError("nested getter exploded");
          },
        }),
      ],
    }),
    valuePath: /^\$\.list\[1\]\.x$/,
  },
  {
    name: "a toJSON that throws",
    state: () => ({
      when: {
        toJSON() {
          throw new Error("toJSON exploded");
        },
      },
    }),
    valuePath: /^\$\.when$/,
  },
  {
    name: "a toJSON getter that throws",
    state: () => ({
      when: Object.defineProperty({}, "toJSON", {
        get() {
          throw new Error("toJSON getter exploded");
        },
      }),
    }),
    valuePath: /^\$\.when$/,
  },
  {
    name: "a proxy whose traps throw",
    state: () => ({
      inner: new Proxy(
        {},
        {
          ownKeys() {
            throw new Error("ownKeys exploded");
          },
        },
      ),
    }),
    valuePath: /^\$\.inner$/,
  },
  {
    name: "100,000 levels of nesting",
    state: () => nested(100_000),
    valuePath: /^\$(\.child)+$/,
  },
  {
    name: "a toJSON returning 100,000 levels of nesting",
    state: () => ({ deep: { toJSON: () => nested(100_000) } }),
    valuePath: /^\$\.deep(\.child)+$/,
  },
];

describe("a state that cannot be read safely", () => {
  for (const { name, state, valuePath } of hostile) {
    it(`${name}: STORE_SERIALIZE_FAILED, nothing written, the stored state intact`, async () => {
      const store = new ResilientJsonStore<Record<string, unknown>>({ path });
      await store.set({ kept: "yes" });
      const before = await readFile(path);
      const error = await store.set(state()).catch((caught: unknown) => caught);
      expect(StoreError.isInstance(error), String(error)).toBe(true);
      expect(error).toMatchObject({ code: "STORE_SERIALIZE_FAILED", storePath: path });
      expect((error as { valuePath: string }).valuePath).toMatch(valuePath);
      expect(await readFile(path)).toEqual(before);
      expect(await listDir(dir)).toEqual(["state.json"]);
      expect(await store.get()).toEqual({ kept: "yes" });
      expect(await new ResilientJsonStore({ path }).get()).toEqual({ kept: "yes" });
    });
  }

  it("a top-level proxy whose getPrototypeOf throws: STORE_INVALID_STATE or STORE_SERIALIZE_FAILED", async () => {
    const store = new ResilientJsonStore<Record<string, unknown>>({ path });
    const state = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error("prototype exploded");
        },
      },
    );
    const error = await store.set(state).catch((caught: unknown) => caught);
    expect(StoreError.isInstance(error)).toBe(true);
    expect(await listDir(dir)).toEqual([]);
  });

  it("accepts nesting up to the documented 1,000 levels", async () => {
    const store = new ResilientJsonStore<Record<string, unknown>>({ path });
    await store.set(nested(999));
    expect(await new ResilientJsonStore({ path }).get()).toEqual(nested(999));
    await expect(store.set(nested(1_000))).rejects.toMatchObject({
      code: "STORE_SERIALIZE_FAILED",
    });
  });
});

describe("options are checked before any disk access", () => {
  it("refuses an fs that lacks a call the store makes, naming it", () => {
    const { rename: _rename, ...withoutRename } = {
      open: async () => ({}) as never,
      readFile: async () => Buffer.alloc(0),
      rename: async () => {},
      link: async () => {},
      unlink: async () => {},
      readdir: async () => [],
      stat: async () => ({ size: 0, mtimeMs: 0 }),
      mkdir: async () => undefined,
      fsyncDirectory: async () => {},
    };
    expect(() => new ResilientJsonStore({ path, fs: withoutRename as never })).toThrow(
      /fs\.rename must be a function/,
    );
    expect(() => new ResilientJsonStore({ path, fs: "disk" as never })).toThrow(TypeError);
    expect(() => new ResilientStoreFactory({ baseDir: dir, fs: {} as never })).toThrow(/fs\./);
  });

  it("refuses a clock without now()", () => {
    expect(() => new ResilientJsonStore({ path, clock: {} as never })).toThrow(/clock/);
    expect(() => new ResilientStoreFactory({ baseDir: dir, clock: 5 as never })).toThrow(/clock/);
  });

  it("refuses a signal that is not an AbortSignal, before writing", async () => {
    const store = new ResilientJsonStore<Record<string, unknown>>({ path });
    await expect(store.set({ a: 1 }, { signal: "stop" as never })).rejects.toThrow(/signal/);
    expect(await listDir(dir)).toEqual([]);
  });
});

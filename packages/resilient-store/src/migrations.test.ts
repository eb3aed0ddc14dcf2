import { join } from "node:path";
import { createFaultyFileSystem } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import {
  listDir,
  RecordingLogger,
  readJson,
  readOrNull,
  useTempDir,
  writeStoreFile,
} from "../test/helpers.js";
import {
  StoreMigrationFailedError,
  StoreMigrationMissingError,
  StoreSchemaTooNewError,
} from "./errors.js";
import { ResilientJsonStore } from "./resilient-json-store.js";

interface V1 {
  name: string;
}
interface V2 {
  firstName: string;
}
interface V3 {
  firstName: string;
  tags: string[];
}

const v1ToV2 = (state: V1): V2 => ({ firstName: state.name });
const v2ToV3 = (state: V2): V3 => ({ ...state, tags: [] });

let dir: string;
let path: string;

useTempDir((made) => {
  dir = made;
  path = join(dir, "people.json");
});

describe("schema migrations", () => {
  it("migrates v1 to v2 on read and writes the result back with the new version", async () => {
    await writeStoreFile(path, { name: "Ada" }, { schemaVersion: 1, writeEpoch: 4 });
    const store = new ResilientJsonStore<V2>({ path, schemaVersion: 2, migrations: { 1: v1ToV2 } });
    expect(await store.get()).toEqual({ firstName: "Ada" });
    expect(await readJson(path)).toEqual({
      _checksum: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      _schemaVersion: 2,
      _writeEpoch: 5,
      firstName: "Ada",
    });
    // The v1 file is the bak now, as after any write.
    expect(await readJson(`${path}.bak`)).toMatchObject({ _schemaVersion: 1, name: "Ada" });
  });

  it("chains v1 to v3 through every step, in order", async () => {
    await writeStoreFile(path, { name: "Grace" }, { schemaVersion: 1, writeEpoch: 1 });
    const seen: number[] = [];
    const store = new ResilientJsonStore<V3>({
      path,
      schemaVersion: 3,
      migrations: {
        2: (state: V2) => {
          seen.push(2);
          return v2ToV3(state);
        },
        1: async (state: V1) => {
          seen.push(1);
          return v1ToV2(state);
        },
      },
    });
    expect(await store.get()).toEqual({ firstName: "Grace", tags: [] });
    expect(seen).toEqual([1, 2]);
    expect(await readJson(path)).toMatchObject({ _schemaVersion: 3, _writeEpoch: 2 });
    // A file already at v2 only runs the last step.
    await writeStoreFile(path, { firstName: "Linus" }, { schemaVersion: 2, writeEpoch: 9 });
    seen.length = 0;
    const again = new ResilientJsonStore<V3>({
      path,
      schemaVersion: 3,
      migrations: {
        1: v1ToV2,
        2: (state: V2) => {
          seen.push(2);
          return v2ToV3(state);
        },
      },
    });
    expect(await again.get()).toEqual({ firstName: "Linus", tags: [] });
    expect(seen).toEqual([2]);
  });

  it("names the versions when a step is missing, and leaves the file alone", async () => {
    await writeStoreFile(path, { name: "Ada" }, { schemaVersion: 1, writeEpoch: 1 });
    const before = await readOrNull(path);
    const store = new ResilientJsonStore<V3>({ path, schemaVersion: 3, migrations: { 1: v1ToV2 } });
    const error = await store.get().catch((caught) => caught);
    expect(StoreMigrationMissingError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      code: "STORE_MIGRATION_MISSING",
      fromVersion: 2,
      toVersion: 3,
      fileVersion: 1,
      schemaVersion: 3,
    });
    expect((error as Error).message).toContain("from schema version 2 to 3");
    expect((error as Error).message).toContain("migrations[2]");
    // set() refuses too rather than overwrite a file it cannot understand.
    await expect(store.set({ firstName: "x", tags: [] })).rejects.toMatchObject({
      code: "STORE_MIGRATION_MISSING",
    });
    expect(await readOrNull(path)).toEqual(before);
    expect(await listDir(dir)).toEqual(["people.json"]);
  });

  it("refuses a file from a newer schema on get() and on set(), leaving it intact", async () => {
    await writeStoreFile(
      path,
      { firstName: "Future", extra: 1 },
      { schemaVersion: 4, writeEpoch: 2 },
    );
    const before = await readOrNull(path);
    const store = new ResilientJsonStore<V2>({ path, schemaVersion: 2, migrations: { 1: v1ToV2 } });
    const error = await store.get().catch((caught) => caught);
    expect(StoreSchemaTooNewError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ fileVersion: 4, schemaVersion: 2, file: path });
    await expect(store.set({ firstName: "Old code" })).rejects.toMatchObject({
      code: "STORE_SCHEMA_TOO_NEW",
    });
    expect(await readOrNull(path)).toEqual(before);
    // Clearing is the deliberate way out.
    await store.clear();
    await store.set({ firstName: "Old code" });
    expect(await store.get()).toEqual({ firstName: "Old code" });
  });

  it("reports a migration that throws or returns a non-object, naming its version", async () => {
    await writeStoreFile(path, { name: "Ada" }, { schemaVersion: 1, writeEpoch: 1 });
    const throwing = new ResilientJsonStore<V2>({
      path,
      schemaVersion: 2,
      migrations: {
        1: () => {
          throw new Error("bad data");
        },
      },
    });
    const error = await throwing.get().catch((caught) => caught);
    expect(StoreMigrationFailedError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      fromVersion: 1,
      cause: expect.objectContaining({ message: "bad data" }),
    });
    for (const [result, reason] of [
      [null, "did not return a plain object"],
      [[1], "did not return a plain object"],
      [{ _writeEpoch: 3 }, "reserved key _writeEpoch"],
      [{ when: new Map() }, "$.when"],
    ] as const) {
      const store = new ResilientJsonStore<V2>({
        path,
        schemaVersion: 2,
        migrations: { 1: () => result },
      });
      await expect(store.get()).rejects.toThrow(reason);
    }
    expect(await readJson(path)).toMatchObject({ name: "Ada", _schemaVersion: 1 });
  });

  it("validates the migrated state; a migrated state that fails falls back to the bak", async () => {
    await writeStoreFile(path, { name: "" }, { schemaVersion: 1, writeEpoch: 2 });
    await writeStoreFile(`${path}.bak`, { name: "Ada" }, { schemaVersion: 1, writeEpoch: 1 });
    const store = new ResilientJsonStore<V2>({
      path,
      schemaVersion: 2,
      migrations: { 1: v1ToV2 },
      validate: (state) => (state as V2).firstName?.length > 0,
    });
    expect(await store.get()).toEqual({ firstName: "Ada" });
    expect(await readJson(path)).toMatchObject({ _schemaVersion: 2, _writeEpoch: 3 });
  });

  it("serves the migrated state even when writing it back fails, and warns", async () => {
    await writeStoreFile(path, { name: "Ada" }, { schemaVersion: 1, writeEpoch: 1 });
    const logger = new RecordingLogger();
    const fs = createFaultyFileSystem({
      inject: (call) =>
        call.operation === "open" && call.path.endsWith(".tmp") ? { error: "EROFS" } : undefined,
    });
    const store = new ResilientJsonStore<V2>({
      path,
      fs,
      logger,
      schemaVersion: 2,
      migrations: { 1: v1ToV2 },
    });
    expect(await store.get()).toEqual({ firstName: "Ada" });
    expect(logger.messages("warn")).toEqual([
      "Could not write the migrated state back; serving it anyway",
    ]);
    expect(await readJson(path)).toMatchObject({ _schemaVersion: 1 });
  });

  it("does not write back twice when the first call is a set()", async () => {
    await writeStoreFile(path, { name: "Ada" }, { schemaVersion: 1, writeEpoch: 1 });
    const store = new ResilientJsonStore<V2>({ path, schemaVersion: 2, migrations: { 1: v1ToV2 } });
    await store.set({ firstName: "Bea" });
    expect(await readJson(path)).toMatchObject({ _schemaVersion: 2, _writeEpoch: 2 });
    expect(await readJson(`${path}.bak`)).toMatchObject({ _schemaVersion: 1, name: "Ada" });
  });
});

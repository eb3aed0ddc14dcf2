// The operator's read-only view of a store: the primary and the bak with
// their health, without writing, renaming or cleaning anything up.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createFaultyFileSystem, type FaultyFileSystem, ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { inspectStore, ResilientJsonStore, ResilientStoreFactory } from "../src/index.js";
import { listDir, useTempDir, writeStoreFile } from "./helpers.js";

let dir: string;
let path: string;

useTempDir((made) => {
  dir = made;
  path = join(dir, "state.json");
});

const READ_ONLY_OPERATIONS = new Set([
  "open",
  "handleReadFile",
  "handleStat",
  "close",
  "readdir",
  "stat",
  "readFile",
]);

function expectOnlyReads(fs: FaultyFileSystem): void {
  const writes = fs.calls.filter((call) => !READ_ONLY_OPERATIONS.has(call.operation));
  expect(writes).toEqual([]);
}

describe("inspectStore", () => {
  it("reports a valid primary and bak with their epochs and states", async () => {
    const store = new ResilientJsonStore<{ n: number }>({ path, schemaVersion: 3 });
    await store.set({ n: 1 });
    await store.set({ n: 2 });
    const fs = createFaultyFileSystem();
    const inspection = await inspectStore({ path, fs });
    expect(inspection).toMatchObject({
      path,
      current: "primary",
      primary: { file: path, health: "valid", writeEpoch: 2, schemaVersion: 3, state: { n: 2 } },
      bak: {
        file: `${path}.bak`,
        health: "valid",
        writeEpoch: 1,
        schemaVersion: 3,
        state: { n: 1 },
      },
      tmps: [],
      quarantined: [],
    });
    expect(inspection.primary.sizeBytes).toBe((await readFile(path)).length);
    expectOnlyReads(fs);
  });

  it("reports a checksum mismatch, a missing file, a file of the previous format and a corrupt one", async () => {
    const store = new ResilientJsonStore<{ n: number }>({ path });
    await store.set({ n: 1234 });
    const bytes = await readFile(path);
    const at = bytes.indexOf("1234");
    bytes[at] = bytes[at]! ^ 1;
    await writeFile(path, bytes);
    let inspection = await inspectStore({ path });
    expect(inspection.primary).toMatchObject({ health: "checksum-mismatch" });
    expect(inspection.primary.state).toBeUndefined();
    expect(inspection.bak).toEqual({ file: `${path}.bak`, health: "missing" });
    expect(inspection.current).toBeNull();

    await writeStoreFile(`${path}.bak`, { n: 5 }, { writeEpoch: 4 });
    inspection = await inspectStore({ path });
    expect(inspection.bak).toMatchObject({ health: "unverified", writeEpoch: 4, state: { n: 5 } });
    expect(inspection.current).toBe("bak");

    await writeFile(path, "{ torn");
    inspection = await inspectStore({ path });
    expect(inspection.primary).toMatchObject({ health: "corrupt", reason: expect.any(String) });
  });

  it("lists tmp and quarantine files, and tells which file a store would serve, changing nothing", async () => {
    await writeFile(path, "damaged");
    await writeStoreFile(`${path}.77.tmp`, { n: 9 }, { writeEpoch: 9 });
    await writeFile(`${path}.78.tmp`, "{ half");
    await writeFile(`${path}.quarantine.1000-bak`, "old damage");
    const before = await listDir(dir);
    const fs = createFaultyFileSystem();
    const inspection = await inspectStore({ path, fs });
    expect(inspection.current).toBe("tmp");
    expect(inspection.tmps).toEqual([
      expect.objectContaining({ file: `${path}.77.tmp`, health: "unverified", writeEpoch: 9 }),
      expect.objectContaining({ file: `${path}.78.tmp`, health: "corrupt" }),
    ]);
    expect(inspection.quarantined).toEqual([
      { file: `${path}.quarantine.1000-bak`, quarantinedAt: 1000 },
    ]);
    expect(await listDir(dir)).toEqual(before);
    expectOnlyReads(fs);
  });

  it("reports an unreadable file and one over the size limit, and a missing directory", async () => {
    await mkdir(path);
    await writeStoreFile(`${path}.bak`, { big: "x".repeat(300) }, { writeEpoch: 1 });
    const inspection = await inspectStore({ path, maxSizeBytes: 100 });
    expect(inspection.primary).toMatchObject({
      health: "unreadable",
      reason: expect.stringMatching(/EISDIR/),
    });
    expect(inspection.bak).toMatchObject({ health: "too-large" });
    const nowhere = await inspectStore({ path: join(dir, "missing", "s.json") });
    expect(nowhere).toMatchObject({
      current: null,
      primary: { health: "missing" },
      bak: { health: "missing" },
      tmps: [],
      quarantined: [],
    });
  });

  it("is available on a store and on a factory, which also lists its stores", async () => {
    const factory = new ResilientStoreFactory({ baseDir: dir, clock: new ManualClock(1) });
    const cursor = factory.create<{ n: number }>("cursor");
    await cursor.set({ n: 1 });
    await factory.create<{ n: number }>("dedup").set({ n: 2 });
    await writeFile(join(dir, "orphan.json.bak"), JSON.stringify({ n: 3 }));
    await writeFile(join(dir, "notes.txt"), "not a store");
    expect(await factory.listStoreNames()).toEqual(["cursor", "dedup", "orphan"]);
    expect((await factory.inspect("cursor")).primary).toMatchObject({
      health: "valid",
      state: { n: 1 },
    });
    expect((await cursor.inspect()).primary).toMatchObject({ health: "valid", state: { n: 1 } });
    await expect(factory.inspect("../etc")).rejects.toMatchObject({ code: "INVALID_NAME" });
    expect(
      await new ResilientStoreFactory({ baseDir: join(dir, "none") }).listStoreNames(),
    ).toEqual([]);
  });
});

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createFaultyFileSystem, InvalidNameError, ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { listDir, RecordingLogger, readJson, useTempDir } from "../test/helpers.js";
import { ResilientJsonStore } from "./resilient-json-store.js";
import { ResilientStoreFactory } from "./resilient-store-factory.js";

let dir: string;

useTempDir((made) => {
  dir = made;
});

describe("ResilientStoreFactory", () => {
  it("creates typed stores at {baseDir}/{name}.json, creating baseDir on the first write", async () => {
    const baseDir = join(dir, "state");
    const stores = new ResilientStoreFactory({ baseDir });
    expect(stores.baseDir).toBe(baseDir);
    const cursor = stores.create<{ lastSeenId: number }>("cursor");
    const dedup = stores.create<{ keys: string[] }>("dedup-index", {
      schemaVersion: 2,
      migrations: { 1: (s) => s },
    });
    expect(cursor).toBeInstanceOf(ResilientJsonStore);
    expect(cursor.path).toBe(join(baseDir, "cursor.json"));
    expect(dedup.schemaVersion).toBe(2);
    await cursor.set({ lastSeenId: 7 });
    await dedup.set({ keys: ["a"] });
    expect(await listDir(baseDir)).toEqual(["cursor.json", "dedup-index.json"]);
    expect(await readJson(join(baseDir, "dedup-index.json"))).toMatchObject({ _schemaVersion: 2 });
  });

  it.each([
    ["", "empty"],
    ["../escape", "separators"],
    ["a/b", "separators"],
    ["a\\b", "separators"],
    ["..", ". or .."],
    ["x..y", "'..'"],
    ["nul\u0000", "NUL"],
  ])("rejects the name %j (%s) with INVALID_NAME", (name, reason) => {
    const stores = new ResilientStoreFactory({ baseDir: dir });
    let error: unknown;
    try {
      stores.create(name);
    } catch (caught) {
      error = caught;
    }
    expect(InvalidNameError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "INVALID_NAME", invalidName: name });
    expect((error as Error).message).toContain(reason);
  });

  it("shares its logger, clock and fs with every store", async () => {
    const logger = new RecordingLogger();
    const clock = new ManualClock(42);
    const fs = createFaultyFileSystem();
    const stores = new ResilientStoreFactory({ baseDir: dir, logger, clock, fs });
    await writeFile(join(dir, "a.json"), "corrupt");
    await writeFile(join(dir, "b.json"), "corrupt");
    expect(await stores.create("a").get()).toBeNull();
    expect(await stores.create("b").get()).toBeNull();
    const quarantined = logger.entries.filter(
      (entry) => entry.message === "Quarantined a corrupt store file",
    );
    expect(quarantined.map((entry) => entry.data?.quarantinedAs)).toEqual([
      join(dir, "a.json.quarantine.42"),
      join(dir, "b.json.quarantine.42"),
    ]);
    expect(fs.calls.some((call) => call.path === join(dir, "b.json"))).toBe(true);
  });

  it("cleans up expired quarantine files of every store in baseDir, and nothing else", async () => {
    const day = 24 * 60 * 60 * 1000;
    const clock = new ManualClock(30 * day);
    const stores = new ResilientStoreFactory({ baseDir: dir, clock });
    for (const name of [
      `a.json.quarantine.${day}`,
      `b.json.quarantine.${2 * day}-bak`,
      `never-created.json.quarantine.${3 * day}-tmp123`,
      `fresh.json.quarantine.${28 * day}`,
      `notes.txt.quarantine.${day}`,
      "a.json",
      "a.json.bak",
    ]) {
      await writeFile(join(dir, name), "x");
    }
    expect(await stores.cleanupQuarantine()).toBe(3);
    expect(await listDir(dir)).toEqual([
      "a.json",
      "a.json.bak",
      `fresh.json.quarantine.${28 * day}`,
      `notes.txt.quarantine.${day}`,
    ]);
    const shortRetention = new ResilientStoreFactory({
      baseDir: dir,
      clock,
      quarantineRetentionMs: day,
    });
    expect(await shortRetention.cleanupQuarantine()).toBe(1);
    expect(
      await new ResilientStoreFactory({ baseDir: join(dir, "none") }).cleanupQuarantine(),
    ).toBe(0);
  });

  it("validates its own options and passes store options through", () => {
    expect(() => new ResilientStoreFactory({ baseDir: "" })).toThrow(TypeError);
    expect(() => new ResilientStoreFactory(undefined as never)).toThrow("baseDir");
    expect(() => new ResilientStoreFactory({ baseDir: dir, quarantineRetentionMs: -5 })).toThrow(
      RangeError,
    );
    expect(() => new ResilientStoreFactory({ baseDir: dir, logger: {} as never })).toThrow(
      "logger",
    );
    const stores = new ResilientStoreFactory({ baseDir: dir });
    expect(() => stores.create("x", { maxSizeBytes: -1 })).toThrow("maxSizeBytes");
  });
});

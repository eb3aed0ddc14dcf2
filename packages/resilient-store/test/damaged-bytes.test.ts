// Issue 12, finding 7: a flipped bit inside a store file must be detected by
// the file's checksum, never served. The bak serves instead, with a warning;
// with every source damaged the files are quarantined byte for byte.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { ResilientJsonStore } from "../src/index.js";
import { listDir, RecordingLogger, useTempDir, writeStoreFile } from "./helpers.js";

interface Cursor {
  lastSeenId: number;
}

let dir: string;
let path: string;

useTempDir((made) => {
  dir = made;
  path = join(dir, "cursor.json");
});

/** Flips one bit of the byte at `offset` of `file`. */
async function flipBit(file: string, offset: number, bit = 1): Promise<void> {
  const bytes = await readFile(file);
  bytes[offset] = bytes[offset]! ^ (1 << bit);
  await writeFile(file, bytes);
}

async function writeTwo(): Promise<void> {
  const store = new ResilientJsonStore<Cursor>({ path });
  await store.set({ lastSeenId: 1230 });
  await store.set({ lastSeenId: 1234 });
}

describe("a flipped bit in a store file", () => {
  it("inside a value is detected: the bak serves, with a warning, and the primary is kept aside", async () => {
    await writeTwo();
    const original = await readFile(path);
    const at = original.indexOf("1234") + 3;
    await flipBit(path, at); // "1234" becomes "1236"
    const damaged = await readFile(path);
    expect(damaged.toString()).toContain("1236");
    const logger = new RecordingLogger();
    const clock = new ManualClock(1_800_000_000_000);
    const store = new ResilientJsonStore<Cursor>({ path, logger, clock });
    expect(await store.get()).toEqual({ lastSeenId: 1230 });
    expect(logger.messages("warn")).toContain("Recovered state from the bak file");
    const corrupt = logger.entries.find((entry) => entry.message === "Store file is corrupt");
    expect(corrupt?.data).toMatchObject({ file: path, reason: expect.stringMatching(/checksum/) });
    // The damaged file is kept byte for byte.
    const quarantined = join(dir, "cursor.json.quarantine.1800000000000");
    expect(await readFile(quarantined)).toEqual(damaged);
    // The store goes on from the bak.
    await store.set({ lastSeenId: 1240 });
    expect(await new ResilientJsonStore<Cursor>({ path }).get()).toEqual({ lastSeenId: 1240 });
  });

  it("inside a key name is detected the same way", async () => {
    await writeTwo();
    const original = await readFile(path);
    await flipBit(path, original.indexOf('"_writeEpoch"') + 1, 2); // "_" becomes "["
    expect((await readFile(path)).toString()).toContain('"[writeEpoch"');
    const store = new ResilientJsonStore<Cursor>({ path, logger: new RecordingLogger() });
    expect(await store.get()).toEqual({ lastSeenId: 1230 });
  });

  it("at every byte of the primary is never served", async () => {
    await writeTwo();
    const original = await readFile(path);
    const bak = await readFile(`${path}.bak`);
    for (let offset = 0; offset < original.length; offset++) {
      for (const bit of [0, 3, 5]) {
        const damaged = Buffer.from(original);
        damaged[offset] = damaged[offset]! ^ (1 << bit);
        await writeFile(path, damaged);
        await writeFile(`${path}.bak`, bak);
        const state = await new ResilientJsonStore<Cursor>({ path }).get();
        const label = `bit ${bit} of byte ${offset} (${JSON.stringify(String.fromCharCode(original[offset]!))})`;
        expect(state, label).toEqual({ lastSeenId: 1230 });
        for (const entry of await listDir(dir)) {
          if (entry.includes("quarantine"))
            await (await import("node:fs/promises")).rm(join(dir, entry));
        }
      }
    }
  });

  it("in both primary and bak leaves no state, with both files quarantined byte for byte and an error logged", async () => {
    await writeTwo();
    await flipBit(path, (await readFile(path)).indexOf("1234") + 3);
    await flipBit(`${path}.bak`, (await readFile(`${path}.bak`)).indexOf("1230") + 3);
    const damagedPrimary = await readFile(path);
    const damagedBak = await readFile(`${path}.bak`);
    const logger = new RecordingLogger();
    const store = new ResilientJsonStore<Cursor>({ path, logger, clock: new ManualClock(7) });
    expect(await store.get()).toBeNull();
    expect(await listDir(dir)).toEqual([
      "cursor.json.quarantine.7",
      "cursor.json.quarantine.7-bak",
    ]);
    expect(await readFile(join(dir, "cursor.json.quarantine.7"))).toEqual(damagedPrimary);
    expect(await readFile(join(dir, "cursor.json.quarantine.7-bak"))).toEqual(damagedBak);
    expect(logger.messages("error")).toEqual([
      "Every store file is damaged or rejected; no state to serve",
    ]);
  });

  it("in a leftover tmp file: it is never promoted, and kept aside byte for byte", async () => {
    await writeTwo();
    // A crash after the tmp was written and primary moved to bak, the bak lost, then damage.
    const store = new ResilientJsonStore<Cursor>({ path });
    await store.set({ lastSeenId: 1250 });
    const fs = await import("node:fs/promises");
    await fs.rename(path, `${path}.999.tmp`);
    await fs.rm(`${path}.bak`);
    const damaged = await readFile(`${path}.999.tmp`);
    const at = damaged.indexOf("1250") + 2;
    damaged[at] = damaged[at]! ^ 2;
    await writeFile(`${path}.999.tmp`, damaged);
    const reader = new ResilientJsonStore<Cursor>({ path, clock: new ManualClock(9) });
    expect(await reader.get()).toBeNull();
    expect(await listDir(dir)).toEqual(["cursor.json.quarantine.9-tmp999"]);
    expect(await readFile(join(dir, "cursor.json.quarantine.9-tmp999"))).toEqual(damaged);
  });
});

describe("the file format", () => {
  it("carries a checksum line, and the state reads back without it", async () => {
    const store = new ResilientJsonStore<Cursor>({ path });
    await store.set({ lastSeenId: 1 });
    const text = await readFile(path, "utf8");
    expect(text).toMatch(
      /^\{\n {2}"_checksum": "sha256:[0-9a-f]{64}",\n {2}"_schemaVersion": 1,\n {2}"_writeEpoch": 1,\n {2}"lastSeenId": 1\n\}$/,
    );
    expect(await new ResilientJsonStore<Cursor>({ path }).get()).toEqual({ lastSeenId: 1 });
    expect(await store.get()).toEqual({ lastSeenId: 1 });
  });

  it("refuses _checksum as a key of the caller's state", async () => {
    const store = new ResilientJsonStore<Record<string, unknown>>({ path });
    await expect(store.set({ _checksum: "x" })).rejects.toMatchObject({
      code: "STORE_INVALID_STATE",
    });
  });

  it("reads a file of the previous version (no checksum), and the next set() adds one", async () => {
    await writeStoreFile(path, { lastSeenId: 77 }, { schemaVersion: 1, writeEpoch: 9 });
    const logger = new RecordingLogger();
    const store = new ResilientJsonStore<Cursor>({ path, logger });
    expect(await store.get()).toEqual({ lastSeenId: 77 });
    expect(logger.messages("info")).toContain(
      "Store file has no checksum (previous format); the next set() adds one",
    );
    await store.set({ lastSeenId: 78 });
    expect(await readFile(path, "utf8")).toContain('"_checksum": "sha256:');
    expect(JSON.parse(await readFile(path, "utf8"))._writeEpoch).toBe(10);
  });

  it("does not take a file whose checksum key was damaged for a file of the previous version", async () => {
    await writeTwo();
    const original = await readFile(path);
    // "_checksum" becomes "_checksuo": still valid JSON, no "_checksum" key.
    await flipBit(path, original.indexOf('"_checksum"') + 9, 1);
    expect((await readFile(path)).toString()).toContain('"_checksuo"');
    expect(await new ResilientJsonStore<Cursor>({ path }).get()).toEqual({ lastSeenId: 1230 });
  });
});

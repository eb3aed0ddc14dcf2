import { createHash } from "node:crypto";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createFaultyFileSystem, ManualClock } from "@beauvoir/core";
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
  StoreError,
  StoreInvalidStateError,
  StoreReadError,
  StoreSerializeError,
  StoreTooLargeError,
} from "./errors.js";
import { ResilientJsonStore } from "./resilient-json-store.js";

interface Settings {
  theme: string;
  volume: number;
  tags?: string[];
}

let dir: string;
let path: string;

useTempDir((made) => {
  dir = made;
  path = join(dir, "settings.json");
});

describe("write protocol", () => {
  it("round-trips a state and writes sorted keys, 2-space indentation and the metadata", async () => {
    const store = new ResilientJsonStore<Settings>({ path });
    expect(await store.get()).toBeNull();
    await store.set({ volume: 3, theme: "dark", tags: ["b", "a"] });
    expect(await store.get()).toEqual({ theme: "dark", volume: 3, tags: ["b", "a"] });
    const text = (await readOrNull(path))!.toString();
    const rest =
      '{\n  "_schemaVersion": 1,\n  "_writeEpoch": 1,\n  "tags": [\n    "b",\n    "a"\n  ],\n' +
      '  "theme": "dark",\n  "volume": 3\n}';
    // The checksum line first: SHA-256 of the rest of the file.
    const digest = createHash("sha256").update(rest).digest("hex");
    expect(text).toBe(`{\n  "_checksum": "sha256:${digest}",${rest.slice(1)}`);
  });

  it("keeps the previous file as bak, grows the epoch by one per write, and leaves no tmp file", async () => {
    const store = new ResilientJsonStore<Settings>({ path });
    await store.set({ theme: "a", volume: 1 });
    await store.set({ theme: "b", volume: 2 });
    await store.set({ theme: "c", volume: 3 });
    expect(await readJson(path)).toMatchObject({ theme: "c", _writeEpoch: 3, _schemaVersion: 1 });
    expect(await readJson(`${path}.bak`)).toMatchObject({ theme: "b", _writeEpoch: 2 });
    expect(await listDir(dir)).toEqual(["settings.json", "settings.json.bak"]);
  });

  it("creates its files with mode 0600 and a missing directory with 0700", async () => {
    const nested = join(dir, "state", "deeper", "s.json");
    const store = new ResilientJsonStore<Settings>({ path: nested });
    await store.set({ theme: "a", volume: 1 });
    await store.set({ theme: "b", volume: 2 });
    expect((await stat(nested)).mode & 0o777).toBe(0o600);
    expect((await stat(`${nested}.bak`)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "state", "deeper"))).mode & 0o777).toBe(0o700);
  });

  it("runs exactly the protocol's calls in order: tmp write + fsync, rename to bak, fsync dir, rename, fsync dir", async () => {
    const fs = createFaultyFileSystem();
    const store = new ResilientJsonStore<Settings>({ path, fs });
    await store.set({ theme: "a", volume: 1 });
    const before = fs.calls.length;
    await store.set({ theme: "b", volume: 2 });
    const tmp = `${path}.${process.pid}.tmp`;
    expect(
      fs.calls.slice(before).map((call) => [call.operation, call.path, call.destination]),
    ).toEqual([
      ["open", tmp, undefined],
      ["write", tmp, undefined],
      ["sync", tmp, undefined],
      ["close", tmp, undefined],
      ["rename", path, `${path}.bak`],
      ["fsyncDirectory", dir, undefined],
      ["rename", tmp, path],
      ["fsyncDirectory", dir, undefined],
    ]);
  });

  it("refuses a state over maxSizeBytes before touching the disk", async () => {
    const fs = createFaultyFileSystem();
    const store = new ResilientJsonStore<{ blob: string }>({ path, fs, maxSizeBytes: 1_000 });
    await store.set({ blob: "small" });
    const before = fs.calls.length;
    const error = await store.set({ blob: "x".repeat(2_000) }).catch((caught) => caught);
    expect(StoreTooLargeError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "STORE_TOO_LARGE", maxSizeBytes: 1_000 });
    expect((error as StoreTooLargeError).sizeBytes).toBeGreaterThan(2_000);
    expect(fs.calls.length).toBe(before);
    expect(await store.get()).toEqual({ blob: "small" });
  });

  it("counts the metadata in the size limit", async () => {
    // {"a":"…"} fits on its own, but not with _schemaVersion and _writeEpoch added.
    const callerText = `{\n  "a": "${"x".repeat(50)}"\n}`;
    const store = new ResilientJsonStore<{ a: string }>({
      path,
      maxSizeBytes: Buffer.byteLength(callerText) + 10,
    });
    await expect(store.set({ a: "x".repeat(50) })).rejects.toMatchObject({
      code: "STORE_TOO_LARGE",
    });
    expect(await readOrNull(path)).toBeNull();
  });

  it("counts the epoch's digits: a state that fits at epoch 9 is refused at epoch 10", async () => {
    const fs = createFaultyFileSystem();
    const probe = new ResilientJsonStore<{ a: string }>({ path, fs });
    await probe.set({ a: "x" });
    const sizeAtOneDigit = (await readOrNull(path))!.length;
    await probe.clear();
    const store = new ResilientJsonStore<{ a: string }>({ path, maxSizeBytes: sizeAtOneDigit });
    for (let epoch = 1; epoch <= 9; epoch++) await store.set({ a: "x" });
    await expect(store.set({ a: "x" })).rejects.toMatchObject({
      code: "STORE_TOO_LARGE",
      sizeBytes: sizeAtOneDigit + 1,
    });
    expect(await readJson(path)).toMatchObject({ _writeEpoch: 9 });
  });

  it("serializes concurrent set() calls; the last one called wins, each with its own epoch", async () => {
    const fs = createFaultyFileSystem();
    const store = new ResilientJsonStore<{ n: number }>({ path, fs });
    await Promise.all(Array.from({ length: 20 }, (_, n) => store.set({ n })));
    expect(await store.get()).toEqual({ n: 19 });
    expect(await readJson(path)).toMatchObject({ n: 19, _writeEpoch: 20 });
    expect(await readJson(`${path}.bak`)).toMatchObject({ n: 18, _writeEpoch: 19 });
    // Never two protocols at once: every open of the tmp is followed by its renames before the next open.
    const opens = fs.calls
      .filter((call) => call.operation === "open" && call.path.endsWith(".tmp"))
      .map((call) => call.index);
    const finalRenames = fs.calls
      .filter((call) => call.operation === "rename" && call.destination === path)
      .map((call) => call.index);
    expect(opens).toHaveLength(20);
    for (let index = 1; index < opens.length; index++) {
      expect(finalRenames[index - 1]!).toBeLessThan(opens[index]!);
    }
  });

  it("copies the state on set() and on every get(): callers cannot change what is stored", async () => {
    const store = new ResilientJsonStore<Settings>({ path });
    const state: Settings = { theme: "dark", volume: 1, tags: ["x"] };
    await store.set(state);
    state.tags!.push("mutated");
    const first = (await store.get())!;
    first.volume = 99;
    first.tags!.push("mutated too");
    const second = await store.get();
    expect(second).toEqual({ theme: "dark", volume: 1, tags: ["x"] });
    expect(second).not.toBe(first);
  });

  it("refuses states that are not plain objects, use reserved keys, or fail validate", async () => {
    const store = new ResilientJsonStore<object>({
      path,
      validate: (state) => !("forbidden" in (state as object)),
    });
    const refusals: Array<[unknown, string]> = [
      [[1, 2], "an array"],
      [new Map(), "a Map instance"],
      [null, "null"],
      [{ _writeEpoch: 5 }, "_writeEpoch is reserved"],
      [{ _schemaVersion: 2 }, "_schemaVersion is reserved"],
      [{ forbidden: true }, "validate returned false"],
    ];
    for (const [state, reason] of refusals) {
      const error = await store.set(state as object).catch((caught) => caught);
      expect(StoreInvalidStateError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(reason);
    }
    const throwing = new ResilientJsonStore<object>({
      path,
      validate: () => {
        throw new Error("boom");
      },
    });
    await expect(throwing.set({})).rejects.toMatchObject({
      code: "STORE_INVALID_STATE",
      cause: expect.objectContaining({ message: "boom" }),
    });
    expect(await listDir(dir)).toEqual([]);
  });

  it("refuses values JSON cannot carry and names where they are", async () => {
    const store = new ResilientJsonStore<object>({ path });
    const error = await store.set({ jobs: [{ id: 1n }] }).catch((caught) => caught);
    expect(StoreSerializeError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "STORE_SERIALIZE_FAILED", valuePath: "$.jobs[0].id" });
    expect(StoreError.isInstance(error)).toBe(true);
    expect(await listDir(dir)).toEqual([]);
  });

  it("stops waiting for the mutex when the signal aborts, and writes nothing", async () => {
    const fs = createFaultyFileSystem();
    const store = new ResilientJsonStore<{ n: number }>({ path, fs });
    const first = store.set({ n: 1 });
    const controller = new AbortController();
    const second = store.set({ n: 2 }, { signal: controller.signal });
    controller.abort(new Error("shutting down"));
    await expect(second).rejects.toThrow("shutting down");
    await first;
    expect(await store.get()).toEqual({ n: 1 });
    await expect(store.get({ signal: AbortSignal.abort(new Error("x")) })).resolves.toEqual({
      n: 1,
    });
  });
});

describe("epoch across restarts", () => {
  it("a fresh instance learns the epoch from primary, bak and tmp files before its first write", async () => {
    await writeStoreFile(path, { n: 1 }, { schemaVersion: 1, writeEpoch: 5 });
    await writeStoreFile(`${path}.bak`, { n: 0 }, { schemaVersion: 1, writeEpoch: 7 });
    await writeStoreFile(`${path}.999999.tmp`, { n: 2 }, { schemaVersion: 1, writeEpoch: 9 });
    const store = new ResilientJsonStore<{ n: number }>({ path });
    await store.set({ n: 3 });
    expect(await readJson(path)).toMatchObject({ n: 3, _writeEpoch: 10 });
    // The tmp file with epoch 9 was stale once epoch 10 was durable.
    expect(await listDir(dir)).toEqual(["settings.json", "settings.json.bak"]);
    const restarted = new ResilientJsonStore<{ n: number }>({ path });
    await restarted.set({ n: 4 });
    expect(await readJson(path)).toMatchObject({ n: 4, _writeEpoch: 11 });
  });

  it("never reuses an epoch after a failed write", async () => {
    let failNextWrite = false;
    const fs = createFaultyFileSystem({
      inject: (call) =>
        failNextWrite && call.operation === "write" ? { error: "ENOSPC" } : undefined,
    });
    const store = new ResilientJsonStore<{ n: number }>({ path, fs });
    await store.set({ n: 1 });
    failNextWrite = true;
    await expect(store.set({ n: 2 })).rejects.toMatchObject({ code: "STORE_WRITE_FAILED" });
    failNextWrite = false;
    await store.set({ n: 3 });
    expect(await readJson(path)).toMatchObject({ n: 3, _writeEpoch: 3 });
  });
});

describe("read fallback", () => {
  it("reads the primary when it is valid, without warnings", async () => {
    await writeStoreFile(path, { theme: "p", volume: 1 }, { schemaVersion: 1, writeEpoch: 4 });
    await writeStoreFile(`${path}.bak`, { theme: "b", volume: 1 }, { writeEpoch: 3 });
    const logger = new RecordingLogger();
    const store = new ResilientJsonStore<Settings>({ path, logger });
    expect(await store.get()).toEqual({ theme: "p", volume: 1 });
    expect(logger.messages("warn")).toEqual([]);
  });

  it("falls back to bak when the primary is corrupt, warns, and quarantines the primary", async () => {
    await writeFile(path, '{"theme": "half', { mode: 0o600 });
    await writeStoreFile(`${path}.bak`, { theme: "b", volume: 2 }, { writeEpoch: 3 });
    const logger = new RecordingLogger();
    const clock = new ManualClock(1_700_000_000_000);
    const store = new ResilientJsonStore<Settings>({ path, logger, clock });
    expect(await store.get()).toEqual({ theme: "b", volume: 2 });
    expect(logger.messages("warn")).toEqual([
      "Store file is corrupt",
      "Quarantined a corrupt store file",
      "Recovered state from the bak file",
    ]);
    expect(await listDir(dir)).toEqual([
      "settings.json.bak",
      "settings.json.quarantine.1700000000000",
    ]);
    // The next write must not push the good bak out with a corrupt primary.
    await store.set({ theme: "c", volume: 3 });
    expect(await readJson(`${path}.bak`)).toMatchObject({ theme: "b" });
  });

  it("returns null and quarantines every file when all sources are corrupt", async () => {
    await writeFile(path, "not json", { mode: 0o600 });
    await writeFile(`${path}.bak`, "[1, 2]", { mode: 0o600 });
    await writeStoreFile(`${path}.4242.tmp`, { theme: 7 }, { writeEpoch: 1 });
    const logger = new RecordingLogger();
    const store = new ResilientJsonStore<Settings>({
      path,
      logger,
      clock: new ManualClock(1_000),
      validate: (state) => typeof (state as Settings).theme === "string",
    });
    expect(await store.get()).toBeNull();
    expect(await store.exists()).toBe(false);
    expect(await listDir(dir)).toEqual([
      "settings.json.quarantine.1000",
      "settings.json.quarantine.1000-bak",
      "settings.json.quarantine.1000-tmp4242",
    ]);
    expect(logger.messages("warn")).toContain("Quarantined a corrupt store file");
    // A later quarantine in the same millisecond never overwrites an earlier one.
    await writeFile(path, "still not json", { mode: 0o600 });
    expect(
      await new ResilientJsonStore<Settings>({ path, clock: new ManualClock(1_000) }).get(),
    ).toBeNull();
    expect(await listDir(dir)).toContain("settings.json.quarantine.1000-1");
  });

  it("accepts a tmp file whose epoch is above primary and bak, and promotes it to primary", async () => {
    await writeStoreFile(`${path}.bak`, { theme: "old", volume: 1 }, { writeEpoch: 1 });
    await writeFile(path, "", { mode: 0o600 });
    await writeStoreFile(`${path}.111.tmp`, { theme: "new", volume: 2 }, { writeEpoch: 3 });
    await writeFile(`${path}.222.tmp`, '{"theme": "tor', { mode: 0o600 });
    // bak is corrupt here too, so only the tmp can serve.
    await writeFile(`${path}.bak`, "{", { mode: 0o600 });
    const logger = new RecordingLogger();
    const store = new ResilientJsonStore<Settings>({ path, logger, clock: new ManualClock(5) });
    expect(await store.get()).toEqual({ theme: "new", volume: 2 });
    expect(logger.messages("warn")).toContain("Recovered state from the tmp file");
    expect(await listDir(dir)).toEqual([
      "settings.json",
      "settings.json.quarantine.5",
      "settings.json.quarantine.5-bak",
    ]);
    expect(await readJson(path)).toMatchObject({ theme: "new", _writeEpoch: 3 });
  });

  it("rejects a tmp file whose epoch is not above the primary's and deletes it", async () => {
    await writeStoreFile(path, { theme: "primary", volume: 1 }, { writeEpoch: 5 });
    await writeStoreFile(`${path}.1.tmp`, { theme: "older tmp", volume: 1 }, { writeEpoch: 5 });
    await writeStoreFile(`${path}.2.tmp`, { theme: "newer tmp", volume: 1 }, { writeEpoch: 6 });
    await writeFile(`${path}.3.tmp`, "", { mode: 0o600 });
    const store = new ResilientJsonStore<Settings>({ path });
    expect(await store.get()).toEqual({ theme: "primary", volume: 1 });
    // The epoch-6 tmp is newer than what was read: kept until a newer write makes it stale.
    expect(await listDir(dir)).toEqual(["settings.json", "settings.json.2.tmp"]);
    await store.set({ theme: "next", volume: 2 });
    expect(await readJson(path)).toMatchObject({ _writeEpoch: 7 });
    expect(await listDir(dir)).toEqual(["settings.json", "settings.json.bak"]);
  });

  it("ignores a tmp file whose epoch is not above a corrupt-by-validation primary's", async () => {
    await writeStoreFile(path, { theme: 1 }, { writeEpoch: 8 });
    await writeStoreFile(`${path}.1.tmp`, { theme: "tmp", volume: 1 }, { writeEpoch: 8 });
    const store = new ResilientJsonStore<Settings>({
      path,
      clock: new ManualClock(9),
      validate: (state) => typeof (state as Settings).theme === "string",
    });
    expect(await store.get()).toBeNull();
    expect(await listDir(dir)).toEqual([
      "settings.json.quarantine.9",
      "settings.json.quarantine.9-tmp1",
    ]);
  });

  it("picks the tmp file with the highest epoch among several", async () => {
    for (const [pid, epoch] of [
      [10, 2],
      [11, 4],
      [12, 3],
    ] as const) {
      await writeStoreFile(
        `${path}.${pid}.tmp`,
        { theme: `e${epoch}`, volume: epoch },
        {
          writeEpoch: epoch,
        },
      );
    }
    const store = new ResilientJsonStore<Settings>({ path });
    expect(await store.get()).toEqual({ theme: "e4", volume: 4 });
    expect(await listDir(dir)).toEqual(["settings.json"]);
  });

  it("adopts a plain JSON file without metadata as schema 1, epoch 0", async () => {
    await writeFile(path, JSON.stringify({ theme: "legacy", volume: 1 }), { mode: 0o600 });
    const store = new ResilientJsonStore<Settings>({ path });
    expect(await store.get()).toEqual({ theme: "legacy", volume: 1 });
    await store.set({ theme: "new", volume: 2 });
    expect(await readJson(path)).toMatchObject({ _writeEpoch: 1, _schemaVersion: 1 });
  });

  it("reports a file it cannot read instead of treating it as corrupt, and changes nothing", async () => {
    await writeStoreFile(path, { theme: "a", volume: 1 }, { writeEpoch: 1 });
    const fs = createFaultyFileSystem({
      inject: (call) => (call.operation === "handleReadFile" ? { error: "EACCES" } : undefined),
    });
    const store = new ResilientJsonStore<Settings>({ path, fs });
    const error = await store.get().catch((caught) => caught);
    expect(StoreReadError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "STORE_READ_FAILED", file: path });
    expect(await listDir(dir)).toEqual(["settings.json"]);
    const listing = createFaultyFileSystem({
      inject: (call) => (call.operation === "readdir" ? { error: "EIO" } : undefined),
    });
    await expect(
      new ResilientJsonStore<Settings>({ path, fs: listing }).get(),
    ).rejects.toMatchObject({ code: "STORE_READ_FAILED", file: dir });
  });

  it("refuses to read a file over maxSizeBytes", async () => {
    await writeStoreFile(path, { theme: "x".repeat(500), volume: 1 }, { writeEpoch: 1 });
    const store = new ResilientJsonStore<Settings>({ path, maxSizeBytes: 100 });
    await expect(store.get()).rejects.toMatchObject({ code: "STORE_TOO_LARGE", maxSizeBytes: 100 });
    expect(await listDir(dir)).toEqual(["settings.json"]);
  });

  it("treats a file with a malformed epoch or version as corrupt", async () => {
    await writeFile(path, JSON.stringify({ _writeEpoch: -1, theme: "x" }), { mode: 0o600 });
    await writeFile(`${path}.bak`, JSON.stringify({ _schemaVersion: "1" }), { mode: 0o600 });
    const store = new ResilientJsonStore<Settings>({ path, clock: new ManualClock(1) });
    expect(await store.get()).toBeNull();
  });

  it("serves later get() calls from memory, and exists() says whether a state is stored", async () => {
    const fs = createFaultyFileSystem();
    await writeStoreFile(path, { theme: "a", volume: 1 }, { writeEpoch: 1 });
    const store = new ResilientJsonStore<Settings>({ path, fs });
    expect(await store.exists()).toBe(true);
    const callsAfterLoad = fs.calls.length;
    await store.get();
    await store.get();
    expect(await store.exists()).toBe(true);
    expect(fs.calls.length).toBe(callsAfterLoad);
  });
});

describe("__proto__ keys", () => {
  it("cannot pollute prototypes when read, and are dropped with a warning", async () => {
    await writeFile(
      path,
      '{"__proto__": {"polluted": true}, "nested": {"__proto__": {"polluted": true}, "ok": 1},' +
        ' "escaped": {"\\u005f_proto__": {"polluted": true}}, "_writeEpoch": 1}',
      { mode: 0o600 },
    );
    const logger = new RecordingLogger();
    const store = new ResilientJsonStore<Record<string, Record<string, unknown>>>({ path, logger });
    const state = (await store.get())!;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(state)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(state.nested)).toBe(Object.prototype);
    expect(Object.hasOwn(state, "__proto__")).toBe(false);
    expect(Object.hasOwn(state.nested!, "__proto__")).toBe(false);
    expect(Object.hasOwn(state.escaped!, "__proto__")).toBe(false);
    expect(state).toEqual({ nested: { ok: 1 }, escaped: {} });
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ message: "Ignored __proto__ keys in a store file" }),
    );
  });

  it("are not written when a state carries one as an own key", async () => {
    const logger = new RecordingLogger();
    const store = new ResilientJsonStore<Record<string, unknown>>({ path, logger });
    await store.set(JSON.parse('{"a": 1, "__proto__": {"polluted": true}}'));
    expect((await readOrNull(path))!.toString()).not.toContain("__proto__");
    expect(await store.get()).toEqual({ a: 1 });
    expect(logger.messages("warn")).toEqual([
      "Dropped __proto__ keys from a state before storing it",
    ]);
  });
});

describe("clear and exists", () => {
  it("removes primary, bak and tmp files but not quarantine files", async () => {
    const store = new ResilientJsonStore<{ n: number }>({ path });
    await store.set({ n: 1 });
    await store.set({ n: 2 });
    await writeFile(`${path}.77.tmp`, "", { mode: 0o600 });
    await writeFile(`${path}.quarantine.5`, "x", { mode: 0o600 });
    expect(await store.exists()).toBe(true);
    await store.clear();
    expect(await store.exists()).toBe(false);
    expect(await store.get()).toBeNull();
    expect(await listDir(dir)).toEqual(["settings.json.quarantine.5"]);
    expect(await new ResilientJsonStore({ path }).get()).toBeNull();
    // The epoch keeps growing within the instance after clear().
    await store.set({ n: 3 });
    expect(await readJson(path)).toMatchObject({ _writeEpoch: 3 });
  });

  it("works on a directory that does not exist", async () => {
    const store = new ResilientJsonStore<{ n: number }>({ path: join(dir, "missing", "s.json") });
    await store.clear();
    expect(await store.exists()).toBe(false);
  });

  it("reports a failed removal, keeps the primary, and reloads on the next call", async () => {
    const store0 = new ResilientJsonStore<{ n: number }>({ path });
    await store0.set({ n: 1 });
    await store0.set({ n: 2 });
    const fs = createFaultyFileSystem({
      inject: (call) =>
        call.operation === "unlink" && call.path.endsWith(".bak") ? { error: "EACCES" } : undefined,
    });
    const store = new ResilientJsonStore<{ n: number }>({ path, fs });
    await expect(store.clear()).rejects.toMatchObject({
      code: "STORE_WRITE_FAILED",
      step: "remove",
      rolledBack: false,
    });
    expect(await store.get()).toEqual({ n: 2 });
    const failingSync = createFaultyFileSystem({
      inject: (call) => (call.operation === "fsyncDirectory" ? { error: "EIO" } : undefined),
    });
    await expect(
      new ResilientJsonStore<{ n: number }>({ path, fs: failingSync }).clear(),
    ).rejects.toMatchObject({ step: "fsync-directory" });
  });
});

describe("quarantine retention", () => {
  it("deletes only this store's quarantine files older than the retention", async () => {
    const day = 24 * 60 * 60 * 1000;
    const clock = new ManualClock(10 * day);
    const logger = new RecordingLogger();
    const store = new ResilientJsonStore<{ n: number }>({ path, clock, logger });
    for (const name of [
      `settings.json.quarantine.${2 * day}`,
      `settings.json.quarantine.${2 * day}-bak`,
      `settings.json.quarantine.${3 * day - 1}-tmp12-1`,
      `settings.json.quarantine.${3 * day}`,
      `settings.json.quarantine.${9 * day}`,
      `other.json.quarantine.${1 * day}`,
      "settings.json.quarantine.notatime",
    ]) {
      await writeFile(join(dir, name), "x");
    }
    expect(await store.cleanupQuarantine()).toBe(3);
    expect(await listDir(dir)).toEqual([
      `other.json.quarantine.${1 * day}`,
      "settings.json.quarantine.259200000",
      "settings.json.quarantine.777600000",
      "settings.json.quarantine.notatime",
    ]);
    expect(logger.messages("info")).toHaveLength(3);
    clock.advance(1);
    expect(await store.cleanupQuarantine()).toBe(1);
    expect(
      await new ResilientJsonStore({ path: join(dir, "gone", "x.json") }).cleanupQuarantine(),
    ).toBe(0);
  });

  it("uses the configured retention and reports a file it cannot delete", async () => {
    const clock = new ManualClock(1_000);
    await writeFile(join(dir, "settings.json.quarantine.100"), "x");
    const keep = new ResilientJsonStore({ path, clock, quarantineRetentionMs: 900 });
    expect(await keep.cleanupQuarantine()).toBe(0);
    const fs = createFaultyFileSystem({
      inject: (call) => (call.operation === "unlink" ? { error: "EPERM" } : undefined),
    });
    const failing = new ResilientJsonStore({ path, clock, fs, quarantineRetentionMs: 100 });
    await expect(failing.cleanupQuarantine()).rejects.toMatchObject({ code: "EPERM" });
    const listing = createFaultyFileSystem({
      inject: (call) => (call.operation === "readdir" ? { error: "EIO" } : undefined),
    });
    await expect(
      new ResilientJsonStore({ path, fs: listing }).cleanupQuarantine(),
    ).rejects.toMatchObject({ code: "EIO" });
  });
});

describe("options", () => {
  it.each([
    [{}, TypeError, "path"],
    [{ path: "" }, TypeError, "path"],
    [{ path: "a\0b" }, TypeError, "path"],
    [{ path: "x", schemaVersion: 0 }, RangeError, "schemaVersion"],
    [{ path: "x", schemaVersion: 1.5 }, RangeError, "schemaVersion"],
    [{ path: "x", maxSizeBytes: 0 }, RangeError, "maxSizeBytes"],
    [{ path: "x", quarantineRetentionMs: -1 }, RangeError, "quarantineRetentionMs"],
    [{ path: "x", validate: "yes" }, TypeError, "validate"],
    [{ path: "x", logger: { warn() {} } }, TypeError, "logger"],
    [{ path: "x", migrations: 5 }, TypeError, "migrations"],
    [{ path: "x", schemaVersion: 2, migrations: { 2: () => ({}) } }, RangeError, "migrations[2]"],
    [{ path: "x", schemaVersion: 2, migrations: { 0: () => ({}) } }, RangeError, "migrations[0]"],
    [{ path: "x", schemaVersion: 2, migrations: { 1: "no" } }, TypeError, "migrations[1]"],
  ])("rejects %j with %s naming %s", (options, type, name) => {
    expect(() => new ResilientJsonStore(options as never)).toThrow(type);
    expect(() => new ResilientJsonStore(options as never)).toThrow(name);
  });

  it("rejects a missing options object", () => {
    expect(() => new ResilientJsonStore(undefined as never)).toThrow(TypeError);
  });

  it("exposes its path and schema version", () => {
    const store = new ResilientJsonStore({
      path,
      schemaVersion: 3,
      migrations: { 1: (s) => s, 2: (s) => s },
    });
    expect(store.path).toBe(path);
    expect(store.schemaVersion).toBe(3);
  });
});

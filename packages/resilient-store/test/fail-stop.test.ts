// "fsync failures fail stop": an fsync error is never retried into a
// success. The store that saw one refuses every later write with
// FAIL_STOPPED (core's FailStoppedError) until a new instance re-reads the
// files from disk.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createFaultyFileSystem, FailStoppedError, type FileSystemCall } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { ResilientJsonStore, StoreError } from "../src/index.js";
import { readOrNull, useTempDir } from "./helpers.js";

interface State {
  n: number;
}

let dir: string;
let path: string;

useTempDir((made) => {
  dir = made;
  path = join(dir, "state.json");
});

const isFsync = (call: FileSystemCall) =>
  call.operation === "sync" || call.operation === "fsyncDirectory";

describe("an fsync that fails", () => {
  for (const [label, failing] of [
    ["the tmp file's fsync", (call: FileSystemCall) => call.operation === "sync"],
    [
      "the directory fsync after primary -> bak",
      (call: FileSystemCall, seen: number) => call.operation === "fsyncDirectory" && seen === 1,
    ],
    [
      "the directory fsync after tmp -> primary",
      (call: FileSystemCall, seen: number) => call.operation === "fsyncDirectory" && seen === 2,
    ],
  ] as const) {
    it(`${label}: FAIL_STOPPED now and on every later write, never retried, and a new instance re-reads`, async () => {
      const seed = new ResilientJsonStore<State>({ path });
      await seed.set({ n: 1 });
      await seed.set({ n: 2 });
      let armed = false;
      let directoryFsyncs = 0;
      let failedAt = -1;
      const fs = createFaultyFileSystem({
        inject: (call) => {
          if (!armed || failedAt >= 0) return undefined;
          if (call.operation === "fsyncDirectory") directoryFsyncs++;
          if (!failing(call, directoryFsyncs)) return undefined;
          failedAt = call.index;
          return { error: "EIO" };
        },
      });
      const store = new ResilientJsonStore<State>({ path, fs });
      expect(await store.get()).toEqual({ n: 2 });
      armed = true;
      const error = await store.set({ n: 3 }).catch((caught: unknown) => caught);
      expect(FailStoppedError.isInstance(error), String(error)).toBe(true);
      expect(error).toBeInstanceOf(FailStoppedError);
      expect(StoreError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({
        code: "FAIL_STOPPED",
        storePath: path,
        cause: expect.objectContaining({ code: "EIO" }),
      });
      // No fsync after the failed one.
      expect(failedAt).toBeGreaterThan(0);
      expect(fs.calls.filter((call) => call.index > failedAt && isFsync(call))).toEqual([]);

      const callsAtStop = fs.calls.length;
      for (const write of [() => store.set({ n: 4 }), () => store.clear()]) {
        await expect(write()).rejects.toMatchObject({
          code: "FAIL_STOPPED",
          cause: expect.objectContaining({ code: "EIO" }),
        });
      }
      expect(fs.calls.length).toBe(callsAtStop);
      // Reads are served from what the instance knew: the last resolved state.
      expect(await store.get()).toEqual({ n: 2 });
      // A new instance re-reads from disk: the old or the new state, never a mix, and it writes.
      const reopened = new ResilientJsonStore<State>({ path });
      expect([2, 3]).toContain((await reopened.get())?.n);
      await reopened.set({ n: 5 });
      expect(await new ResilientJsonStore<State>({ path }).get()).toEqual({ n: 5 });
    });
  }

  it("in a repair made while loading (quarantine): get() rejects FAIL_STOPPED, and so do later calls", async () => {
    await writeFile(path, "damaged", { mode: 0o600 });
    await writeFile(`${path}.bak`, JSON.stringify({ n: 1, _writeEpoch: 1 }), { mode: 0o600 });
    const fs = createFaultyFileSystem({
      inject: (call) => (call.operation === "fsyncDirectory" ? { error: "EIO" } : undefined),
    });
    const store = new ResilientJsonStore<State>({ path, fs });
    await expect(store.get()).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    const calls = fs.calls.length;
    await expect(store.get()).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await expect(store.exists()).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await expect(store.set({ n: 2 })).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    expect(fs.calls.length).toBe(calls);
    expect(await new ResilientJsonStore<State>({ path }).get()).toEqual({ n: 1 });
  });

  it("in clear(): FAIL_STOPPED, and the next write is refused", async () => {
    const fs = createFaultyFileSystem({
      inject: (call) => (call.operation === "fsyncDirectory" ? { error: "EIO" } : undefined),
    });
    await new ResilientJsonStore<State>({ path }).set({ n: 1 });
    const store = new ResilientJsonStore<State>({ path, fs });
    await expect(store.clear()).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await expect(store.set({ n: 2 })).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    // The primary goes only after the others' removal is durable: it is still there.
    expect(await readOrNull(`${path}.bak`)).toBeNull();
    expect(await new ResilientJsonStore<State>({ path }).get()).toEqual({ n: 1 });
  });

  it("a write error that is not an fsync (ENOSPC) does not stop the store", async () => {
    let full = true;
    const fs = createFaultyFileSystem({
      inject: (call) => (full && call.operation === "write" ? { error: "ENOSPC" } : undefined),
    });
    const store = new ResilientJsonStore<State>({ path, fs });
    await expect(store.set({ n: 1 })).rejects.toMatchObject({
      code: "STORE_WRITE_FAILED",
      rolledBack: true,
    });
    full = false;
    await store.set({ n: 1 });
    expect(await new ResilientJsonStore<State>({ path }).get()).toEqual({ n: 1 });
  });
});

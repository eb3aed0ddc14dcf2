import { join } from "node:path";
import { createFaultyFileSystem } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listDir, makeTempDir, RecordingLogger, readOrNull } from "../test/helpers.js";
import { StoreError, StoreWriteError } from "./errors.js";
import { ResilientJsonStore } from "./resilient-json-store.js";

interface State {
  n: number;
  text: string;
}
const stateOf = (n: number): State => ({ n, text: `value ${n} `.repeat(50) });

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

interface Snapshot {
  primary: Buffer | null;
  bak: Buffer | null;
  entries: string[];
}
const snapshot = async (): Promise<Snapshot> => ({
  primary: await readOrNull(path),
  bak: await readOrNull(`${path}.bak`),
  entries: await listDir(dir),
});

/** The calls one set() makes in the given situation, counted on a fault-free run in a scratch copy. */
async function callsOfSet(
  prepare: (store: ResilientJsonStore<State>) => Promise<void>,
  warm: boolean,
) {
  const scratch = await makeTempDir();
  try {
    const scratchPath = join(scratch.dir, "state.json");
    const seed = new ResilientJsonStore<State>({ path: scratchPath });
    await prepare(seed);
    const fs = createFaultyFileSystem();
    const store = new ResilientJsonStore<State>({ path: scratchPath, fs });
    if (warm) await store.get();
    const before = fs.calls.length;
    await store.set(stateOf(100));
    return fs.calls.slice(before);
  } finally {
    await scratch.remove();
  }
}

const situations: Array<{
  name: string;
  prepare: (store: ResilientJsonStore<State>) => Promise<void>;
  warm: boolean;
}> = [
  { name: "first write ever", prepare: async () => {}, warm: false },
  { name: "primary only, fresh instance", prepare: (store) => store.set(stateOf(1)), warm: false },
  {
    name: "primary and bak, fresh instance",
    prepare: async (store) => {
      await store.set(stateOf(1));
      await store.set(stateOf(2));
    },
    warm: false,
  },
  {
    name: "primary and bak, warm instance",
    prepare: async (store) => {
      await store.set(stateOf(1));
      await store.set(stateOf(2));
    },
    warm: true,
  },
];

/** An fsync that really ran and failed: the store fails stop. EACCES means the directory could not be opened. */
const stopsTheStore = (operation: string, code: string) =>
  (operation === "sync" || operation === "fsyncDirectory") && code !== "EACCES";

describe("a rejected set() leaves primary and bak exactly as they were", () => {
  for (const situation of situations) {
    for (const code of ["ENOSPC", "EIO", "EACCES"]) {
      it(`${situation.name}: ${code} at every call of the protocol`, async () => {
        const calls = await callsOfSet(situation.prepare, situation.warm);
        expect(calls.length).toBeGreaterThanOrEqual(situation.name === "first write ever" ? 7 : 8);
        for (let failing = 1; failing <= calls.length; failing++) {
          await remove();
          ({ dir, remove } = await makeTempDir());
          path = join(dir, "state.json");
          await situation.prepare(new ResilientJsonStore<State>({ path }));
          let counting = false;
          let seen = 0;
          const fs = createFaultyFileSystem({
            inject: () => (counting && ++seen === failing ? { error: code } : undefined),
          });
          const store = new ResilientJsonStore<State>({ path, fs });
          if (situation.warm) await store.get();
          const before = await snapshot();
          counting = true;
          const error = await store.set(stateOf(100)).catch((caught) => caught);
          counting = false;
          const call = calls[failing - 1]!;
          const label = `${code} at call ${failing} (${call.operation} ${call.path})`;
          if (call.operation === "close" && !call.path.endsWith(".tmp")) {
            // Closing a file the load only read changes nothing: the write goes on.
            expect(error, label).toBeUndefined();
            expect(await new ResilientJsonStore<State>({ path }).get(), label).toEqual(
              stateOf(100),
            );
            continue;
          }
          expect(StoreError.isInstance(error), label).toBe(true);
          const stopped = stopsTheStore(call.operation, code);
          expect(error.code, label).toBe(stopped ? "FAIL_STOPPED" : error.code);
          if (!stopped) expect(error.code, label).not.toBe("FAIL_STOPPED");
          if (StoreWriteError.isInstance(error)) expect(error.rolledBack, label).toBe(true);
          expect(await snapshot(), label).toEqual(before);
          // A fresh reader sees the old state; the store still works (a stopped one refuses).
          const expected = before.primary ? JSON.parse(before.primary.toString()).n : null;
          expect((await new ResilientJsonStore<State>({ path }).get())?.n ?? null, label).toBe(
            expected,
          );
          if (stopped) {
            await expect(store.set(stateOf(101)), label).rejects.toMatchObject({
              code: "FAIL_STOPPED",
            });
            await new ResilientJsonStore<State>({ path }).set(stateOf(101));
          } else {
            await store.set(stateOf(101));
          }
          expect(await new ResilientJsonStore<State>({ path }).get(), label).toEqual(stateOf(101));
        }
      });
    }
  }

  it("when the rollback fails too, the previous state stays readable and the store reloads", async () => {
    const seed = new ResilientJsonStore<State>({ path });
    await seed.set(stateOf(1));
    await seed.set(stateOf(2));
    let failing = false;
    const fs = createFaultyFileSystem({
      // The rename of the tmp into place fails, then so does the rename back.
      inject: (call) =>
        failing && call.operation === "rename" && call.destination === path
          ? { error: "EIO" }
          : undefined,
    });
    const logger = new RecordingLogger();
    const store = new ResilientJsonStore<State>({ path, fs, logger });
    await store.get();
    failing = true;
    const error = await store.set(stateOf(3)).catch((caught) => caught);
    failing = false;
    expect(error).toMatchObject({
      code: "STORE_WRITE_FAILED",
      step: "rename-tmp-to-primary",
      rolledBack: false,
    });
    expect(logger.messages("error")).toEqual([
      "Could not roll back a failed write; will reload from disk",
    ]);
    expect(await new ResilientJsonStore<State>({ path }).get()).toEqual(stateOf(2));
    // The failed instance reloads from disk, recovering from bak.
    expect(await store.get()).toEqual(stateOf(2));
    await store.set(stateOf(4));
    expect(await new ResilientJsonStore<State>({ path }).get()).toEqual(stateOf(4));
  });

  it("when an fsync fails and the rollback fails too, the store stops and a new instance recovers", async () => {
    const seed = new ResilientJsonStore<State>({ path });
    await seed.set(stateOf(1));
    await seed.set(stateOf(2));
    let failing = false;
    const fs = createFaultyFileSystem({
      // The directory fsync after primary -> bak fails, then so does the rename back.
      inject: (call) =>
        failing && (call.operation === "fsyncDirectory" || call.operation === "rename")
          ? call.operation === "rename" && call.destination === `${path}.bak`
            ? undefined
            : { error: "EIO" }
          : undefined,
    });
    const logger = new RecordingLogger();
    const store = new ResilientJsonStore<State>({ path, fs, logger });
    await store.get();
    failing = true;
    const error = await store.set(stateOf(3)).catch((caught) => caught);
    failing = false;
    expect(error).toMatchObject({ code: "FAIL_STOPPED", step: "fsync-directory" });
    expect(logger.messages("error")).toEqual([
      "Could not roll back a failed write; will reload from disk",
    ]);
    await expect(store.get()).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    const reopened = new ResilientJsonStore<State>({ path });
    expect(await reopened.get()).toEqual(stateOf(2));
    await reopened.set(stateOf(4));
    expect(await new ResilientJsonStore<State>({ path }).get()).toEqual(stateOf(4));
  });
});

describe("short writes", () => {
  it("completes a file written a few bytes at a time", async () => {
    const fs = createFaultyFileSystem({
      inject: (call) => (call.operation === "write" ? { shortWrite: 7 } : undefined),
    });
    const store = new ResilientJsonStore<State>({ path, fs });
    await store.set(stateOf(1));
    const writes = fs.calls.filter((call) => call.operation === "write").length;
    const size = (await readOrNull(path))!.length;
    expect(writes).toBe(Math.ceil(size / 7));
    expect(await new ResilientJsonStore<State>({ path }).get()).toEqual(stateOf(1));
  });

  it("fails, leaving the files as they were, when a write makes no progress", async () => {
    await new ResilientJsonStore<State>({ path }).set(stateOf(1));
    const before = await snapshot();
    const fs = createFaultyFileSystem({
      inject: (call) => (call.operation === "write" ? { shortWrite: 0 } : undefined),
    });
    const store = new ResilientJsonStore<State>({ path, fs });
    await expect(store.set(stateOf(2))).rejects.toMatchObject({
      code: "STORE_WRITE_FAILED",
      step: "write-tmp",
      rolledBack: true,
      cause: expect.objectContaining({ code: "EIO" }),
    });
    expect(await snapshot()).toEqual(before);
  });
});

describe("stale tmp files", () => {
  it("replaces a tmp file left under this process's pid by a dead process", async () => {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(`${path}.${process.pid}.tmp`, "partial garbage");
    const fs = createFaultyFileSystem();
    const store = new ResilientJsonStore<State>({ path, fs });
    // Skip the load's cleanup by racing it: write the tmp after the load.
    await store.get();
    await writeFile(`${path}.${process.pid}.tmp`, "partial garbage");
    await store.set(stateOf(1));
    expect(await listDir(dir)).toEqual(["state.json"]);
    expect(fs.calls.map((call) => call.operation)).toContain("unlink");
  });

  it("logs, and keeps going, when a leftover tmp file cannot be deleted", async () => {
    const { writeFile } = await import("node:fs/promises");
    await new ResilientJsonStore<State>({ path }).set(stateOf(1));
    await writeFile(`${path}.1.tmp`, "");
    await writeFile(`${path}.2.tmp`, JSON.stringify({ ...stateOf(9), _writeEpoch: 9 }));
    const logger = new RecordingLogger();
    const fs = createFaultyFileSystem({
      inject: (call) => (call.operation === "unlink" ? { error: "EACCES" } : undefined),
    });
    const store = new ResilientJsonStore<State>({ path, fs, logger });
    expect(await store.get()).toEqual(stateOf(1));
    await store.set(stateOf(2));
    expect(logger.messages("warn")).toEqual([
      "Could not delete a leftover tmp file",
      "Could not delete a stale tmp file",
    ]);
  });

  it("fails get() with STORE_WRITE_FAILED when a needed repair cannot be made, changing nothing", async () => {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(path, "corrupt");
    await writeFile(`${path}.5.tmp`, JSON.stringify({ ...stateOf(5), _writeEpoch: 5 }));
    const quarantineFails = createFaultyFileSystem({
      inject: (call) =>
        call.operation === "open" && call.path.includes(".quarantine.")
          ? { error: "EACCES" }
          : undefined,
    });
    const untouched = await snapshot();
    await expect(
      new ResilientJsonStore<State>({ path, fs: quarantineFails }).get(),
    ).rejects.toMatchObject({
      code: "STORE_WRITE_FAILED",
      step: "quarantine",
      rolledBack: true,
    });
    expect(await snapshot()).toEqual(untouched);
    const unlinkFails = createFaultyFileSystem({
      inject: (call) =>
        call.operation === "unlink" && call.path === path ? { error: "EACCES" } : undefined,
    });
    await expect(
      new ResilientJsonStore<State>({ path, fs: unlinkFails }).get(),
    ).rejects.toMatchObject({ code: "STORE_WRITE_FAILED", step: "quarantine", rolledBack: true });
    expect(await snapshot()).toEqual(untouched);
    const renameFails = createFaultyFileSystem({
      inject: (call) => (call.operation === "rename" ? { error: "EACCES" } : undefined),
    });
    await writeFile(`${path}.bak`, JSON.stringify({ ...stateOf(1), _writeEpoch: 1 }));
    await new ResilientJsonStore<State>({ path }).get(); // quarantines the corrupt primary
    await import("node:fs/promises").then((fs) => fs.rm(`${path}.bak`));
    await writeFile(`${path}.6.tmp`, JSON.stringify({ ...stateOf(6), _writeEpoch: 6 }));
    const before = await snapshot();
    await expect(
      new ResilientJsonStore<State>({ path, fs: renameFails }).get(),
    ).rejects.toMatchObject({
      code: "STORE_WRITE_FAILED",
      step: "promote-tmp",
    });
    expect(await snapshot()).toEqual(before);
    expect(await new ResilientJsonStore<State>({ path }).get()).toEqual(stateOf(6));
  });

  it("creates the directory on first write and reports when it cannot", async () => {
    const fs = createFaultyFileSystem({
      inject: (call) => (call.operation === "mkdir" ? { error: "EACCES" } : undefined),
    });
    const store = new ResilientJsonStore<State>({ path: join(dir, "sub", "s.json"), fs });
    await expect(store.set(stateOf(1))).rejects.toMatchObject({
      code: "STORE_WRITE_FAILED",
      step: "create-directory",
    });
    expect(await listDir(dir)).toEqual([]);
  });
});

// Issue 12, finding 10: a directory the store creates must be made durable in
// its parent (a mkdir is durable only once the parent is fsynced), for every
// missing level, before the first file inside it is written.
import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createFaultyFileSystem } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { ResilientJsonStore, ResilientStoreFactory } from "../src/index.js";
import { useTempDir } from "./helpers.js";

let dir: string;

useTempDir((made) => {
  dir = made;
});

describe("directories the store creates", () => {
  it("fsyncs the parent of every missing level before the tmp file is created", async () => {
    const levels = [join(dir, "a"), join(dir, "a", "b"), join(dir, "a", "b", "c")];
    const path = join(levels[2]!, "state.json");
    const fs = createFaultyFileSystem();
    await new ResilientJsonStore<{ n: number }>({ path, fs }).set({ n: 1 });
    const calls = fs.calls.map((call) => `${call.operation} ${call.path}`);
    const firstCreate = calls.indexOf(`open ${path}.${process.pid}.tmp`);
    for (const level of levels) {
      const made = calls.lastIndexOf(`mkdir ${level}`);
      expect(made, `mkdir ${level}`).toBeGreaterThanOrEqual(0);
      const synced = calls.indexOf(`fsyncDirectory ${dirname(level)}`, made);
      expect(synced, `fsync of ${dirname(level)} after mkdir ${level}`).toBeGreaterThan(made);
      expect(synced).toBeLessThan(calls.lastIndexOf(`open ${path}.${process.pid}.tmp`) + 1);
    }
    expect(firstCreate).toBeGreaterThanOrEqual(0);
    for (const level of levels) expect((await stat(level)).mode & 0o777).toBe(0o700);
  });

  it("does the same for a factory's baseDir", async () => {
    const baseDir = join(dir, "x", "y");
    const fs = createFaultyFileSystem();
    await new ResilientStoreFactory({ baseDir, fs }).create<{ n: number }>("s").set({ n: 1 });
    const calls = fs.calls.map((call) => `${call.operation} ${call.path}`);
    expect(calls.indexOf(`fsyncDirectory ${dir}`)).toBeGreaterThan(
      calls.indexOf(`mkdir ${join(dir, "x")}`),
    );
    expect(calls.indexOf(`fsyncDirectory ${join(dir, "x")}`)).toBeGreaterThan(
      calls.indexOf(`mkdir ${baseDir}`),
    );
  });
});

import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureDurableDirectory } from "./durable-directory.js";
import { createFaultyFileSystem } from "./faulty-file-system.js";

/** The parent of every level of `path`, top down: "/" first. */
function parentsOfEveryLevel(path: string): string[] {
  const parents: string[] = [];
  for (let level = path; dirname(level) !== level; level = dirname(level)) {
    parents.unshift(dirname(level));
  }
  return parents;
}

describe("ensureDurableDirectory", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "beauvoir-core-dir-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("creates each missing level 0700 and fsyncs the parent of every level", async () => {
    const fs = createFaultyFileSystem();
    const target = join(dir, "a", "b", "c");
    const created = await ensureDurableDirectory(fs, target);
    expect(created).toEqual([join(dir, "a"), join(dir, "a", "b"), target]);
    for (const level of created) expect((await stat(level)).mode & 0o777).toBe(0o700);
    const synced = fs.calls
      .filter((call) => call.operation === "fsyncDirectory")
      .map((c) => c.path);
    expect(synced).toEqual(parentsOfEveryLevel(target));
    // Each level's entry is fsynced after it was created, never before.
    const order = fs.calls
      .filter((call) => call.operation === "mkdir" || call.operation === "fsyncDirectory")
      .map((call) => `${call.operation} ${call.path}`)
      .slice(-6);
    expect(order).toEqual([
      `mkdir ${join(dir, "a")}`,
      `fsyncDirectory ${dir}`,
      `mkdir ${join(dir, "a", "b")}`,
      `fsyncDirectory ${join(dir, "a")}`,
      `mkdir ${target}`,
      `fsyncDirectory ${join(dir, "a", "b")}`,
    ]);
  });

  it("fsyncs the parent of every level of an existing path, which an earlier process may not have", async () => {
    const fs = createFaultyFileSystem();
    expect(await ensureDurableDirectory(fs, dir)).toEqual([]);
    const synced = fs.calls
      .filter((call) => call.operation === "fsyncDirectory")
      .map((c) => c.path);
    expect(synced).toEqual(parentsOfEveryLevel(dir));
    expect(fs.calls.some((call) => call.operation === "mkdir")).toBe(false);
  });

  it("fails when a level is a file", async () => {
    await writeFile(join(dir, "file"), "x");
    await expect(
      ensureDurableDirectory(createFaultyFileSystem(), join(dir, "file", "sub")),
    ).rejects.toBeDefined();
  });

  it("leaves alone a found level whose parent it may not open, but not one it created", async () => {
    const refusing = (parent: string) =>
      createFaultyFileSystem({
        inject: (call) =>
          call.operation === "fsyncDirectory" && call.path === parent
            ? { error: "EACCES" }
            : undefined,
      });
    // dir exists: its parent (tmpdir) refusing an open is not this call's business.
    await expect(ensureDurableDirectory(refusing(tmpdir()), join(dir, "x"))).resolves.toEqual([
      join(dir, "x"),
    ]);
    // dir/y is created here: its parent must be fsynced, or the call fails.
    await expect(ensureDurableDirectory(refusing(dir), join(dir, "y"))).rejects.toMatchObject({
      code: "EACCES",
    });
  });

  it("passes on a failed fsync", async () => {
    const fs = createFaultyFileSystem({
      inject: (call) => (call.operation === "fsyncDirectory" ? { error: "EIO" } : undefined),
    });
    await expect(ensureDurableDirectory(fs, join(dir, "x"))).rejects.toMatchObject({ code: "EIO" });
  });
});

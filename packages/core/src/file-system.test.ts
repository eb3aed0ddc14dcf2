import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nodeFileSystem } from "./file-system.js";
import { silentLogger } from "./logger.js";

describe("nodeFileSystem", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "beauvoir-core-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes, syncs, renames, lists and removes real files", async () => {
    const file = join(dir, "a.tmp");
    const handle = await nodeFileSystem.open(file, "wx", 0o600);
    const { bytesWritten } = await handle.write(Buffer.from("hello"));
    await handle.sync();
    expect((await handle.stat()).size).toBe(5);
    await handle.close();
    expect(bytesWritten).toBe(5);
    await nodeFileSystem.rename(file, join(dir, "a.json"));
    await nodeFileSystem.fsyncDirectory(dir);
    expect(await nodeFileSystem.readdir(dir)).toEqual(["a.json"]);
    expect((await nodeFileSystem.readFile(join(dir, "a.json"))).toString()).toBe("hello");
    expect((await nodeFileSystem.stat(join(dir, "a.json"))).size).toBe(5);
    await nodeFileSystem.unlink(join(dir, "a.json"));
    await nodeFileSystem.mkdir(join(dir, "x", "y"), { recursive: true });
    expect(await nodeFileSystem.readdir(dir)).toEqual(["x"]);
  });

  it("fails fsyncDirectory on a missing directory", async () => {
    await expect(nodeFileSystem.fsyncDirectory(join(dir, "missing"))).rejects.toMatchObject({
      code: "ENOENT",
    });
  });

  it("provides a silent logger that accepts every level", () => {
    for (const level of ["debug", "info", "warn", "error"] as const) {
      expect(silentLogger[level]("message", { any: 1 })).toBeUndefined();
    }
  });
});

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureDurableDirectory } from "./durable-directory.js";
import { createFaultyFileSystem } from "./faulty-file-system.js";
import { routeDirectoryFsyncs } from "./routed-directory-fsync.js";

describe("routeDirectoryFsyncs", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "beauvoir-core-routed-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("hands every directory fsync to `through` and passes the other calls on", async () => {
    const base = createFaultyFileSystem();
    const routed: string[] = [];
    const fs = routeDirectoryFsyncs(base, async (fsync, path) => {
      routed.push(path);
      await fsync();
    });
    const file = join(dir, "file");
    const handle = await fs.open(file, "wx", 0o600);
    await handle.write(Buffer.from("bytes"));
    await handle.close();
    await fs.link(file, `${file}.link`);
    await fs.rename(`${file}.link`, `${file}.moved`);
    expect((await fs.readFile(`${file}.moved`)).toString()).toBe("bytes");
    expect((await fs.stat(file)).size).toBe(5);
    await fs.unlink(`${file}.moved`);
    await fs.mkdir(join(dir, "sub"), { recursive: true });
    expect(await fs.readdir(dir)).toEqual(expect.arrayContaining(["file", "sub"]));
    await fs.fsyncDirectory(dir);
    expect(routed).toEqual([dir]);
    expect(base.calls.map((call) => call.operation)).toEqual([
      "open",
      "write",
      "close",
      "link",
      "rename",
      "readFile",
      "stat",
      "unlink",
      "mkdir",
      "readdir",
      "fsyncDirectory",
    ]);
  });

  it("lets `through` refuse a directory fsync without making it", async () => {
    const base = createFaultyFileSystem();
    const failure = new Error("stopped");
    const fs = routeDirectoryFsyncs(base, async () => {
      throw failure;
    });
    await expect(ensureDurableDirectory(fs, join(dir, "a", "b"))).rejects.toBe(failure);
    expect(base.calls.some((call) => call.operation === "fsyncDirectory")).toBe(false);
  });
});

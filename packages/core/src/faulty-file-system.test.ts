import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createFaultyFileSystem, SIMULATED_CRASH } from "./faulty-file-system.js";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "beauvoir-core-faulty-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function listDir(path: string): Promise<string[]> {
  return (await readdir(path)).sort();
}

describe("createFaultyFileSystem", () => {
  it("passes calls through to the real filesystem and records them in order", async () => {
    const fs = createFaultyFileSystem();
    const file = join(dir, "a.txt");
    const handle = await fs.open(file, "wx+", 0o600);
    await handle.write(Buffer.from("hello"));
    await handle.truncate(4);
    expect((await handle.stat()).size).toBe(4);
    expect((await handle.readFile()).toString()).toBe("");
    await handle.sync();
    await handle.close();
    await fs.rename(file, join(dir, "b.txt"));
    await fs.fsyncDirectory(dir);
    await fs.mkdir(join(dir, "sub"), { recursive: true });
    expect((await fs.readFile(join(dir, "b.txt"))).toString()).toBe("hell");
    expect((await fs.stat(join(dir, "b.txt"))).size).toBe(4);
    expect((await fs.readdir(dir)).sort()).toEqual(["b.txt", "sub"]);
    await fs.unlink(join(dir, "b.txt"));
    expect(fs.calls.map((call) => call.operation)).toEqual([
      "open",
      "write",
      "truncate",
      "handleStat",
      "handleReadFile",
      "sync",
      "close",
      "rename",
      "fsyncDirectory",
      "mkdir",
      "readFile",
      "stat",
      "readdir",
      "unlink",
    ]);
    expect(fs.calls[7]).toEqual({
      index: 8,
      operation: "rename",
      path: file,
      destination: join(dir, "b.txt"),
    });
    expect(fs.crashed).toBe(false);
  });

  it("fails a chosen call with a Node-style error and does not perform it", async () => {
    const fs = createFaultyFileSystem({
      inject: (call) => (call.operation === "rename" ? { error: "ENOSPC" } : undefined),
    });
    const file = join(dir, "a.txt");
    await (await fs.open(file, "wx")).close();
    const error = await fs.rename(file, join(dir, "b.txt")).catch((caught) => caught);
    expect(error).toMatchObject({ code: "ENOSPC", syscall: "rename", path: file, errno: -28 });
    expect((error as Error).message).toContain("ENOSPC");
    expect(await listDir(dir)).toEqual(["a.txt"]);
    const unknown = createFaultyFileSystem({ inject: () => ({ error: "EWHATEVER" }) });
    await expect(unknown.stat(file)).rejects.toMatchObject({ code: "EWHATEVER", errno: undefined });
  });

  it("writes short when told to", async () => {
    const fs = createFaultyFileSystem({ inject: () => ({ shortWrite: 3 }) });
    const file = join(dir, "a.txt");
    const handle = await fs.open(file, "wx");
    expect(await handle.write(Buffer.from("abcdef"), 1)).toMatchObject({ bytesWritten: 3 });
    await handle.close();
    expect(await readFile(file, "utf8")).toBe("bcd");
  });

  it("crashes after N calls: later calls fail and reach nothing, but descriptors are released", async () => {
    const fs = createFaultyFileSystem({ crashAfterCalls: 2 });
    const file = join(dir, "a.txt");
    const handle = await fs.open(file, "wx");
    await handle.write(Buffer.from("x"));
    await expect(handle.sync()).rejects.toMatchObject({ code: SIMULATED_CRASH });
    await expect(handle.close()).rejects.toMatchObject({ code: SIMULATED_CRASH });
    await expect(fs.unlink(file)).rejects.toMatchObject({ code: SIMULATED_CRASH });
    expect(fs.crashed).toBe(true);
    expect(await listDir(dir)).toEqual(["a.txt"]);
    expect(fs.calls).toHaveLength(5);
  });

  it("crashes at a call chosen by inject, or on demand", async () => {
    const fs = createFaultyFileSystem({
      inject: (call) => (call.operation === "readdir" ? { crash: true } : undefined),
    });
    await fs.mkdir(join(dir, "x"), { recursive: true });
    await expect(fs.readdir(dir)).rejects.toMatchObject({ code: SIMULATED_CRASH });
    await expect(fs.mkdir(join(dir, "y"), { recursive: true })).rejects.toThrow("simulated crash");
    expect(await listDir(dir)).toEqual(["x"]);
    const manual = createFaultyFileSystem();
    manual.crash();
    await expect(manual.readFile(join(dir, "x"))).rejects.toMatchObject({ code: SIMULATED_CRASH });
  });
});

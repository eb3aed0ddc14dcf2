// The Linux fsync-failure emulation used by the fail-stop runs: the bytes of
// a failed fsync read back as written but never reach the disk, unless they
// are written and fsynced again.

import { createCrashStateFileSystem } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { createFsyncFailureFileSystem } from "./power-loss-fsync-failure.js";

async function setUp() {
  const base = createCrashStateFileSystem();
  await base.mkdir("/data", { recursive: true });
  base.syncAll();
  const fs = createFsyncFailureFileSystem(base);
  const file = await fs.open("/data/log", "a", 0o600);
  await fs.fsyncDirectory("/data");
  return { fs, file };
}

describe("createFsyncFailureFileSystem", () => {
  it("keeps what a failed fsync could not write out of the disk, though the file reads back as written", async () => {
    const { fs, file } = await setUp();
    await file.write(Buffer.from("one\n"));
    await file.sync();
    await file.write(Buffer.from("two\n"));
    fs.failNextSync("/data/log");
    await expect(file.sync()).rejects.toMatchObject({ code: "EIO", syscall: "fsync" });
    await file.write(Buffer.from("three\n"));
    await file.sync(); // succeeds, but does not write "two\n" again
    expect((await fs.readFile("/data/log")).toString()).toBe("one\ntwo\nthree\n");
    const disk = await fs.diskImage();
    expect((await disk.readFile("/data/log")).toString()).toBe("one\n\0\0\0\0three\n");
    expect(fs.syncCalls).toBe(3);
  });

  it("gives the disk the bytes back once they are cut and written again", async () => {
    const { fs, file } = await setUp();
    await file.write(Buffer.from("one\n"));
    await file.sync();
    await file.write(Buffer.from("two\n"));
    fs.failNextSync("/data/log");
    await expect(file.sync()).rejects.toMatchObject({ code: "EIO" });
    await file.truncate(4);
    await file.sync();
    await file.write(Buffer.from("TWO\n"));
    await file.sync();
    const disk = await fs.diskImage();
    expect((await disk.readFile("/data/log")).toString()).toBe("one\nTWO\n");
  });

  it("tracks positioned writes of a handle not opened for appending", async () => {
    const { fs } = await setUp();
    const file = await fs.open("/data/other", "w", 0o600);
    await fs.fsyncDirectory("/data");
    await file.write(Buffer.from("abcd"), 0, 4, 0);
    fs.failNextSync("/data/other");
    await expect(file.sync()).rejects.toMatchObject({ code: "EIO" });
    await file.write(Buffer.from("XY"));
    await file.sync();
    const disk = await fs.diskImage();
    expect((await disk.readFile("/data/other")).toString()).toBe("XY\0\0");
  });
});

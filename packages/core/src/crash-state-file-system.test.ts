import { constants } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  type CrashStateFileSystem,
  createCrashStateFileSystem,
} from "./crash-state-file-system.js";
import { ensureDurableDirectory } from "./durable-directory.js";
import { SIMULATED_CRASH } from "./faulty-file-system.js";
import { ManualClock } from "./manual-clock.js";
import { openPrivateFile, SymlinkRefusedError } from "./private-files.js";

/** Path → content (files), "dir" (directories) or "-> target" (links) of what a filesystem shows. */
function view(fs: CrashStateFileSystem): Record<string, string> {
  return Object.fromEntries(
    fs
      .entries()
      .map((entry) => [
        entry.path,
        entry.kind === "file"
          ? (entry.data as Buffer).toString("utf8")
          : entry.kind === "directory"
            ? "dir"
            : `-> ${entry.target}`,
      ]),
  );
}

async function writeFile(
  fs: CrashStateFileSystem,
  path: string,
  text: string,
  { sync = true, flags = "w" as string | number } = {},
): Promise<void> {
  const handle = await fs.open(path, flags);
  await handle.write(Buffer.from(text));
  if (sync) await handle.sync();
  await handle.close();
}

/** A filesystem holding a durable /data directory. */
async function withDataDirectory(): Promise<CrashStateFileSystem> {
  const fs = createCrashStateFileSystem({ clock: new ManualClock(1_000) });
  await fs.mkdir("/data", { recursive: true });
  await fs.fsyncDirectory("/");
  return fs;
}

describe("createCrashStateFileSystem: durability", () => {
  it("keeps a file's data out of the durable layer until that file is synced", async () => {
    const fs = await withDataDirectory();
    const handle = await fs.open("/data/x", "w");
    await handle.write(Buffer.from("hello"));
    await fs.fsyncDirectory("/data");
    expect(view(fs.durableImage())).toEqual({ "/data": "dir", "/data/x": "" });
    expect(view(fs)).toEqual({ "/data": "dir", "/data/x": "hello" });
    await handle.sync();
    expect(view(fs.durableImage())).toEqual({ "/data": "dir", "/data/x": "hello" });
    expect(fs.pendingOperations).toEqual([]);
  });

  it("does not make a new file's name durable by syncing the file", async () => {
    const fs = await withDataDirectory();
    await writeFile(fs, "/data/x", "hello");
    expect(view(fs.durableImage())).toEqual({ "/data": "dir" });
    expect(fs.pendingOperations.map((operation) => operation.kind)).toEqual(["create"]);
    await fs.fsyncDirectory("/data");
    expect(view(fs.durableImage())).toEqual({ "/data": "dir", "/data/x": "hello" });
  });

  it("leaves the old names after a rename whose directory was not fsynced", async () => {
    const fs = await withDataDirectory();
    await writeFile(fs, "/data/state", "old");
    await writeFile(fs, "/data/state.tmp", "new");
    await fs.fsyncDirectory("/data");
    await fs.rename("/data/state.tmp", "/data/state");
    expect(view(fs)).toEqual({ "/data": "dir", "/data/state": "new" });
    expect(view(fs.durableImage())).toEqual({
      "/data": "dir",
      "/data/state": "old",
      "/data/state.tmp": "new",
    });
    await fs.fsyncDirectory("/data");
    expect(view(fs.durableImage())).toEqual({ "/data": "dir", "/data/state": "new" });
  });

  it("makes a rename across two directories durable only once both are fsynced", async () => {
    const fs = await withDataDirectory();
    await fs.mkdir("/data/a", { recursive: true });
    await fs.mkdir("/data/b", { recursive: true });
    await fs.fsyncDirectory("/data");
    await writeFile(fs, "/data/a/x", "x");
    await fs.fsyncDirectory("/data/a");
    await fs.rename("/data/a/x", "/data/b/x");
    await fs.fsyncDirectory("/data/b");
    expect(view(fs.durableImage())["/data/a/x"]).toBe("x");
    expect(view(fs.durableImage())["/data/b/x"]).toBeUndefined();
    await fs.fsyncDirectory("/data/a");
    expect(view(fs.durableImage())["/data/a/x"]).toBeUndefined();
    expect(view(fs.durableImage())["/data/b/x"]).toBe("x");
  });

  it("makes only the synced file's data durable", async () => {
    const fs = await withDataDirectory();
    await writeFile(fs, "/data/a", "", { sync: false });
    await writeFile(fs, "/data/b", "", { sync: false });
    fs.syncAll();
    const a = await fs.open("/data/a", "r+");
    const b = await fs.open("/data/b", "r+");
    await a.write(Buffer.from("first"));
    await b.write(Buffer.from("other"));
    await a.write(Buffer.from(" second"));
    const [first, other, second] = fs.pendingOperations;
    expect(second?.dependsOn).toEqual([first?.id]);
    expect(other?.dependsOn).toEqual([]);
    await a.sync();
    expect(view(fs.durableImage())).toEqual({
      "/data": "dir",
      "/data/a": "first second",
      "/data/b": "",
    });
    await a.close();
    await b.close();
  });

  it("keeps a change of an entry pending while an earlier change of it waits for another directory", async () => {
    const fs = await withDataDirectory();
    await fs.mkdir("/data/a", { recursive: true });
    await fs.mkdir("/data/b", { recursive: true });
    await writeFile(fs, "/data/a/x", "x");
    fs.syncAll();
    await fs.rename("/data/a/x", "/data/b/x");
    await fs.unlink("/data/b/x");
    await fs.fsyncDirectory("/data/b");
    // The unlink of b/x waits for the rename that made b/x, which waits for /data/a.
    expect(fs.pendingOperations.map((operation) => operation.kind)).toEqual(["rename", "unlink"]);
    expect(view(fs.durableImage())["/data/a/x"]).toBe("x");
    await fs.fsyncDirectory("/data/a");
    expect(fs.pendingOperations).toEqual([]);
    expect(view(fs.durableImage())).toEqual({ "/data": "dir", "/data/a": "dir", "/data/b": "dir" });
  });

  it("loses a directory made by mkdir, and every file fsynced in it, until its parent is fsynced", async () => {
    const fs = await withDataDirectory();
    await fs.mkdir("/data/new/deeper", { recursive: true, mode: 0o700 });
    await fs.fsyncDirectory("/data/new");
    await writeFile(fs, "/data/new/deeper/x", "x");
    await fs.fsyncDirectory("/data/new/deeper");
    expect(view(fs.durableImage())).toEqual({ "/data": "dir" });
    await fs.fsyncDirectory("/data");
    expect(view(fs.durableImage())).toEqual({
      "/data": "dir",
      "/data/new": "dir",
      "/data/new/deeper": "dir",
      "/data/new/deeper/x": "x",
    });
    expect((await fs.stat("/data/new")).mode & 0o777).toBe(0o700);
  });

  it("makes every level durable through core's ensureDurableDirectory", async () => {
    const fs = createCrashStateFileSystem();
    expect(await ensureDurableDirectory(fs, "/var/lib/agent")).toEqual([
      "/var",
      "/var/lib",
      "/var/lib/agent",
    ]);
    expect(view(fs.durableImage())).toEqual({
      "/var": "dir",
      "/var/lib": "dir",
      "/var/lib/agent": "dir",
    });
  });

  it("keeps an unlinked or replaced name until the directory is fsynced", async () => {
    const fs = await withDataDirectory();
    await writeFile(fs, "/data/x", "x");
    await fs.fsyncDirectory("/data");
    await fs.unlink("/data/x");
    expect(view(fs)).toEqual({ "/data": "dir" });
    expect(view(fs.durableImage())).toEqual({ "/data": "dir", "/data/x": "x" });
    await fs.fsyncDirectory("/data");
    expect(view(fs.durableImage())).toEqual({ "/data": "dir" });
  });

  it("makes a hard link durable with its directory, sharing the inode", async () => {
    const fs = await withDataDirectory();
    await writeFile(fs, "/data/x.tmp", "record");
    await fs.link("/data/x.tmp", "/data/x");
    expect((await fs.stat("/data/x")).ino).toBe((await fs.stat("/data/x.tmp")).ino);
    await fs.unlink("/data/x.tmp");
    expect(view(fs.durableImage())).toEqual({ "/data": "dir" });
    await fs.fsyncDirectory("/data");
    expect(view(fs.durableImage())).toEqual({ "/data": "dir", "/data/x": "record" });
  });

  it("keeps the old content of a file opened with O_TRUNC until it is synced", async () => {
    const fs = await withDataDirectory();
    await writeFile(fs, "/data/x", "old content");
    await fs.fsyncDirectory("/data");
    const handle = await fs.open("/data/x", "w");
    expect(view(fs)["/data/x"]).toBe("");
    expect(view(fs.durableImage())["/data/x"]).toBe("old content");
    await handle.write(Buffer.from("new"));
    await handle.sync();
    await handle.close();
    expect(view(fs.durableImage())["/data/x"]).toBe("new");
  });

  it("writes through a handle to its inode after a rename or an unlink, as a descriptor does", async () => {
    const fs = await withDataDirectory();
    const handle = await fs.open("/data/x", "w");
    await fs.rename("/data/x", "/data/y");
    await handle.write(Buffer.from("after rename"));
    expect(view(fs)["/data/y"]).toBe("after rename");
    await fs.unlink("/data/y");
    await handle.write(Buffer.from(" and unlink"));
    await handle.sync();
    await handle.close();
    await fs.fsyncDirectory("/data");
    expect(view(fs)).toEqual({ "/data": "dir" });
    expect(view(fs.durableImage())).toEqual({ "/data": "dir" });
  });

  it("makes each write durable at once on an O_SYNC handle", async () => {
    const fs = await withDataDirectory();
    await writeFile(fs, "/data/log", "", { sync: true });
    await fs.fsyncDirectory("/data");
    const handle = await fs.open("/data/log", "as");
    await handle.write(Buffer.from("one"));
    expect(view(fs.durableImage())["/data/log"]).toBe("one");
    await handle.close();
    const numeric = await fs.open("/data/log", constants.O_WRONLY | constants.O_DSYNC);
    await numeric.write(Buffer.from("two"), 0, 3, 0);
    await numeric.close();
    expect(view(fs.durableImage())["/data/log"]).toBe("two");
  });

  it("treats sync() on a directory handle as fsyncDirectory", async () => {
    const fs = await withDataDirectory();
    await writeFile(fs, "/data/x", "x");
    const directory = await fs.open("/data", constants.O_RDONLY | constants.O_DIRECTORY);
    await directory.sync();
    await directory.close();
    expect(view(fs.durableImage())["/data/x"]).toBe("x");
  });

  it("makes everything durable with syncAll(), which is not a call", async () => {
    const fs = await withDataDirectory();
    await fs.mkdir("/data/a/b", { recursive: true });
    await writeFile(fs, "/data/a/b/x", "x", { sync: false });
    const calls = fs.calls.length;
    fs.syncAll();
    expect(fs.calls.length).toBe(calls);
    expect(fs.pendingOperations).toEqual([]);
    expect(view(fs.durableImage())).toEqual(view(fs));
  });

  it("keeps an image independent of its source and of other images", async () => {
    const fs = await withDataDirectory();
    await writeFile(fs, "/data/x", "x");
    await fs.fsyncDirectory("/data");
    const first = fs.durableImage();
    const second = fs.durableImage();
    await writeFile(first, "/data/x", "changed");
    await first.unlink("/data/x");
    await writeFile(first, "/data/y", "y");
    first.syncAll();
    expect(view(second)).toEqual({ "/data": "dir", "/data/x": "x" });
    expect(view(fs)).toEqual({ "/data": "dir", "/data/x": "x" });
    expect(first.calls.length).toBeGreaterThan(0);
    expect(second.calls).toEqual([]);
  });

  it("captures a frozen crash state that later calls do not change", async () => {
    const fs = await withDataDirectory();
    await writeFile(fs, "/data/x", "x", { sync: false });
    const state = fs.captureCrashState();
    expect(state.afterCall).toBe(fs.calls.length);
    expect(state.lastCall?.operation).toBe("close");
    expect(state.capturedAt).toBe(1_000);
    await fs.fsyncDirectory("/data");
    fs.syncAll();
    expect(state.pendingOperations.map((operation) => operation.kind)).toEqual(["create", "write"]);
    expect(view(state.durableImage())).toEqual({ "/data": "dir" });
  });
});

describe("createCrashStateFileSystem: handles", () => {
  it("writes at the file position, at an explicit position, and always at the end with O_APPEND", async () => {
    const fs = await withDataDirectory();
    const handle = await fs.open("/data/x", "w+");
    await handle.write(Buffer.from("abcdef"), 2, 3);
    await handle.write(Buffer.from("XY"));
    await handle.write(Buffer.from("_"), 0, 1, 0);
    expect(view(fs)["/data/x"]).toBe("_deXY");
    await handle.write(Buffer.from("!"), 0, 1, 8);
    expect(view(fs)["/data/x"]).toBe("_deXY\0\0\0!");
    await handle.close();
    const appending = await fs.open("/data/x", "a");
    await appending.write(Buffer.from("END"), 0, 3, 0);
    expect(view(fs)["/data/x"]).toBe("_deXY\0\0\0!END");
    expect((await appending.stat()).size).toBe(12);
    await appending.close();
  });

  it("reads from the file position to the end, as Node's FileHandle.readFile does", async () => {
    const fs = await withDataDirectory();
    await writeFile(fs, "/data/x", "hello");
    const handle = await fs.open("/data/x", "r+");
    await handle.write(Buffer.from("HE"));
    expect((await handle.readFile()).toString()).toBe("llo");
    expect((await handle.readFile()).toString()).toBe("");
    await handle.close();
    const reader = await fs.open("/data/x", "r");
    expect((await reader.readFile()).toString()).toBe("HEllo");
    await reader.close();
  });

  it("writes at most maxBytesPerWrite bytes per call, reporting a short write", async () => {
    const fs = createCrashStateFileSystem({ maxBytesPerWrite: 4 });
    const handle = await fs.open("/x", "w");
    expect((await handle.write(Buffer.from("0123456789"))).bytesWritten).toBe(4);
    expect((await handle.write(Buffer.from("0123456789"), 4)).bytesWritten).toBe(4);
    await handle.close();
    expect(view(fs)["/x"]).toBe("01234567");
  });

  it("cuts or extends a file with truncate(), and refuses it on a read-only handle", async () => {
    const fs = await withDataDirectory();
    await writeFile(fs, "/data/x", "hello");
    const handle = await fs.open("/data/x", "r+");
    await handle.truncate(2);
    expect(view(fs)["/data/x"]).toBe("he");
    await handle.truncate(4);
    expect(view(fs)["/data/x"]).toBe("he\0\0");
    await handle.truncate();
    expect((await handle.stat()).size).toBe(0);
    await handle.close();
    const reader = await fs.open("/data/x", "r");
    await expect(reader.truncate(1)).rejects.toMatchObject({
      code: "EINVAL",
      syscall: "ftruncate",
    });
    await expect(reader.write(Buffer.from("x"))).rejects.toMatchObject({ code: "EBADF" });
    await reader.close();
    const writer = await fs.open("/data/x", "w");
    await expect(writer.readFile()).rejects.toMatchObject({ code: "EBADF", syscall: "read" });
    await writer.close();
  });

  it("fails calls on a closed handle with EBADF, and closes twice without error", async () => {
    const fs = createCrashStateFileSystem();
    const handle = await fs.open("/x", "w");
    await handle.close();
    await handle.close();
    expect(handle.closed).toBe(true);
    for (const call of [
      () => handle.write(Buffer.from("x")),
      () => handle.sync(),
      () => handle.truncate(0),
      () => handle.stat(),
      () => handle.readFile(),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: "EBADF", message: "file closed" });
    }
  });

  it("rejects out-of-range write arguments like Node", async () => {
    const fs = createCrashStateFileSystem();
    const handle = await fs.open("/x", "w");
    await expect(handle.write(Buffer.from("abc"), 2, 5)).rejects.toMatchObject({
      code: "ERR_OUT_OF_RANGE",
    });
    await expect(handle.write(Buffer.from("abc"), -1)).rejects.toBeInstanceOf(RangeError);
    await expect(handle.write(Buffer.from("abc"), 0, 1, -3)).rejects.toBeInstanceOf(RangeError);
    await expect(handle.truncate(-1)).rejects.toBeInstanceOf(RangeError);
    await handle.close();
  });

  it("reads a directory handle as EISDIR and stats files, directories and links", async () => {
    const fs = await withDataDirectory();
    await writeFile(fs, "/data/x", "abc");
    fs.syncAll();
    fs.plantSymlink("/data/link", "/data/x");
    const directory = await fs.open("/data", "r");
    await expect(directory.readFile()).rejects.toMatchObject({ code: "EISDIR" });
    expect((await directory.stat()).isDirectory()).toBe(true);
    await directory.close();
    const file = await fs.stat("/data/x");
    expect([file.isFile(), file.isDirectory(), file.isSymbolicLink(), file.size]).toEqual([
      true,
      false,
      false,
      3,
    ]);
    expect(file.mtime.getTime()).toBe(file.mtimeMs);
    expect((await fs.stat("/data/link")).ino).toBe(file.ino);
  });

  it("takes mtimes from the injected clock", async () => {
    const clock = new ManualClock(5_000);
    const fs = createCrashStateFileSystem({ clock });
    const handle = await fs.open("/x", "w");
    clock.advance(250);
    await handle.write(Buffer.from("x"));
    await handle.close();
    expect((await fs.stat("/x")).mtimeMs).toBe(5_250);
  });
});

describe("createCrashStateFileSystem: symbolic links", () => {
  async function withLink(target: string): Promise<CrashStateFileSystem> {
    const fs = await withDataDirectory();
    await writeFile(fs, "/data/victim", "precious");
    fs.syncAll();
    fs.plantSymlink("/data/journal", target);
    return fs;
  }

  it("refuses a planted link with ELOOP under O_NOFOLLOW, so openPrivateFile throws SYMLINK_REFUSED", async () => {
    const fs = await withLink("/data/victim");
    await expect(
      fs.open("/data/journal", constants.O_WRONLY | constants.O_NOFOLLOW),
    ).rejects.toMatchObject({ code: "ELOOP", syscall: "open", path: "/data/journal" });
    const refusal = await openPrivateFile(fs, "/data/journal", "append").catch((error) => error);
    expect(SymlinkRefusedError.isInstance(refusal)).toBe(true);
    expect(view(fs)["/data/victim"]).toBe("precious");
  });

  it("follows a link without O_NOFOLLOW, and creates a dangling link's target with O_CREAT", async () => {
    const fs = await withLink("/data/victim");
    await writeFile(fs, "/data/journal", "overwritten", { flags: "w" });
    expect(view(fs)["/data/victim"]).toBe("overwritten");
    fs.plantSymlink("/data/dangling", "created-through-link");
    await writeFile(fs, "/data/dangling", "new", { flags: "a" });
    expect(view(fs)["/data/created-through-link"]).toBe("new");
  });

  it("refuses an exclusive create over a link, and unlinks or renames the link itself", async () => {
    const fs = await withLink("/data/victim");
    await expect(fs.open("/data/journal", "wx")).rejects.toMatchObject({ code: "EEXIST" });
    await fs.rename("/data/journal", "/data/moved");
    expect(view(fs)["/data/moved"]).toBe("-> /data/victim");
    await fs.unlink("/data/moved");
    expect(view(fs)).toEqual({ "/data": "dir", "/data/victim": "precious" });
  });

  it("reports a loop with ELOOP and follows links in the middle of a path", async () => {
    const fs = await withDataDirectory();
    await fs.mkdir("/data/real", { recursive: true });
    fs.syncAll();
    fs.plantSymlink("/data/loop-a", "/data/loop-b");
    fs.plantSymlink("/data/loop-b", "loop-a");
    fs.plantSymlink("/data/via", "real");
    await expect(fs.readFile("/data/loop-a")).rejects.toMatchObject({ code: "ELOOP" });
    await writeFile(fs, "/data/via/x", "x");
    expect(await fs.readdir("/data/via")).toEqual(["x"]);
    expect(await fs.mkdir("/data/via", { recursive: true })).toBeUndefined();
    fs.plantSymlink("/data/to-root", "/");
    expect(await fs.readdir("/data/to-root")).toEqual(["data"]);
  });

  it("plants only where the directory is durable and the name is free", async () => {
    const fs = await withDataDirectory();
    await fs.mkdir("/data/fresh", { recursive: true });
    expect(() => fs.plantSymlink("/data/fresh/link", "/x")).toThrow(
      expect.objectContaining({ code: "ENOENT" }),
    );
    expect(() => fs.plantSymlink("/data", "/x")).toThrow(
      expect.objectContaining({ code: "EEXIST" }),
    );
  });
});

describe("createCrashStateFileSystem: power loss and options", () => {
  it("fails every call after crashAfterCalls with SIMULATED_CRASH and changes nothing", async () => {
    const fs = createCrashStateFileSystem({ crashAfterCalls: 2 });
    const handle = await fs.open("/x", "w");
    await handle.write(Buffer.from("x"));
    await expect(handle.sync()).rejects.toMatchObject({ code: SIMULATED_CRASH });
    await expect(fs.mkdir("/d", { recursive: true })).rejects.toMatchObject({
      code: SIMULATED_CRASH,
    });
    await expect(handle.close()).rejects.toMatchObject({ code: SIMULATED_CRASH });
    expect(handle.closed).toBe(true);
    expect(fs.crashed).toBe(true);
    expect(view(fs)).toEqual({ "/x": "x" });
    expect(view(fs.durableImage())).toEqual({});
    expect(fs.calls.map((call) => call.operation)).toEqual([
      "open",
      "write",
      "sync",
      "mkdir",
      "close",
    ]);
  });

  it("loses power on crash()", async () => {
    const fs = createCrashStateFileSystem();
    fs.crash();
    await expect(fs.readdir("/")).rejects.toMatchObject({ code: SIMULATED_CRASH });
  });

  it("calls onCall after each call took effect, failed calls included", async () => {
    const seen: string[] = [];
    const fs = createCrashStateFileSystem({
      onCall: (call, fileSystem) => {
        seen.push(`${call.index} ${call.operation} ${fileSystem.entries().length}`);
      },
    });
    await fs.mkdir("/d", { recursive: true });
    await expect(fs.unlink("/missing")).rejects.toMatchObject({ code: "ENOENT" });
    expect(seen).toEqual(["1 mkdir 1", "2 unlink 1"]);
  });

  it("resolves relative paths from cwd", async () => {
    const fs = createCrashStateFileSystem({ cwd: "/work" });
    await fs.mkdir("/work", { recursive: true });
    await writeFile(fs, "relative", "x");
    expect(view(fs)["/work/relative"]).toBe("x");
  });

  it("rejects bad options naming them", () => {
    expect(() => createCrashStateFileSystem({ cwd: "relative" })).toThrow(/cwd/);
    expect(() => createCrashStateFileSystem({ maxBytesPerWrite: 0 })).toThrow(/maxBytesPerWrite/);
    expect(() => createCrashStateFileSystem({ crashAfterCalls: -1 })).toThrow(/crashAfterCalls/);
    expect(() => createCrashStateFileSystem({ clock: {} as never })).toThrow(/clock/);
    expect(() => createCrashStateFileSystem({ onCall: 1 as never })).toThrow(/onCall/);
    expect(() => createCrashStateFileSystem(null as never)).toThrow(TypeError);
  });

  it("rejects unknown flag strings and bad paths like Node", async () => {
    const fs = createCrashStateFileSystem();
    await expect(fs.open("/x", "rw")).rejects.toMatchObject({ code: "ERR_INVALID_ARG_VALUE" });
    await expect(fs.readFile("")).rejects.toBeInstanceOf(TypeError);
    await expect(fs.readFile("/a\0b")).rejects.toBeInstanceOf(TypeError);
  });
});

// The crash-state filesystem is a test oracle: code under test must see the
// same results and the same errors as on Linux. Each step below runs on a
// real directory and on the crash-state filesystem, and the outcomes (value
// or error code, syscall and message, with the base directory replaced) must
// be identical.
import { constants } from "node:fs";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CrashStateFileSystem,
  createCrashStateFileSystem,
} from "./crash-state-file-system.js";
import type { CrashStateFileHandle } from "./crash-state-handle.js";
import { type FileHandleLike, type FileSystem, nodeFileSystem } from "./file-system.js";

interface Side {
  fs: FileSystem;
  base: string;
  handles: Map<string, FileHandleLike>;
  plant(name: string, target: string): Promise<void>;
}

type Step = (side: Side, path: (name: string) => string) => Promise<unknown>;

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_APPEND, O_TRUNC } =
  constants;

/** Each step's outcome, as text comparable across the two sides. */
async function outcome(side: Side, step: Step): Promise<string> {
  const path = (name: string) => (name === "" ? side.base : join(side.base, name));
  try {
    const value = await step(side, path);
    if (Buffer.isBuffer(value)) return `ok buffer ${JSON.stringify(value.toString("utf8"))}`;
    if (value && typeof value === "object" && "bytesWritten" in value) {
      return `ok wrote ${(value as { bytesWritten: number }).bytesWritten}`;
    }
    if (typeof value === "string") return `ok ${value.split(side.base).join("<base>")}`;
    // Linux lists a directory in its own order; the crash-state filesystem sorts.
    if (Array.isArray(value)) return `ok ${JSON.stringify([...value].sort())}`;
    return `ok ${JSON.stringify(value ?? null)}`;
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    const message = failure.message.split(side.base).join("<base>");
    return `error ${failure.code} ${failure.syscall ?? "-"} ${message}`;
  }
}

const open =
  (name: string, flags: string | number, handle = name): Step =>
  async (side, path) => {
    side.handles.set(handle, await side.fs.open(path(name), flags, 0o600));
    return "opened";
  };
const onHandle =
  (handle: string, act: (file: FileHandleLike) => Promise<unknown>): Step =>
  async (side) =>
    act(side.handles.get(handle) as FileHandleLike);
const sizeOf =
  (name: string): Step =>
  async (side, path) =>
    (await side.fs.stat(path(name))).size;

/** The steps, in order; each may depend on the state the earlier ones left. */
const STEPS: Array<[string, Step]> = [
  ["mkdir recursive new", (side, path) => side.fs.mkdir(path("a/b/c"), { recursive: true })],
  ["mkdir recursive existing", (side, path) => side.fs.mkdir(path("a/b"), { recursive: true })],
  [
    "mkdir non-recursive existing",
    (side, path) => side.fs.mkdir(path("a"), { recursive: false } as never),
  ],
  [
    "mkdir non-recursive missing parent",
    (side, path) => side.fs.mkdir(path("q/r"), { recursive: false } as never),
  ],
  [
    "mkdir non-recursive",
    (side, path) => side.fs.mkdir(path("a/d"), { recursive: false } as never),
  ],
  ["open missing read", open("missing", "r")],
  ["open missing parent write", open("missing/x", "w")],
  ["create f", open("f", "wx")],
  ["write f", onHandle("f", (file) => file.write(Buffer.from("hello world")))],
  ["sync f", onHandle("f", (file) => file.sync())],
  ["stat f handle", onHandle("f", async (file) => (await file.stat()).size)],
  ["close f", onHandle("f", (file) => file.close())],
  ["close f again", onHandle("f", (file) => file.close())],
  ["write closed f", onHandle("f", (file) => file.write(Buffer.from("x")))],
  ["create existing f", open("f", "wx")],
  ["create existing f numeric", open("f", O_WRONLY | O_CREAT | O_EXCL)],
  ["open f under file", open("f/x", "r")],
  ["open f with O_DIRECTORY", open("f", O_RDONLY | O_DIRECTORY)],
  ["open f with trailing slash", open("f/", "r")],
  ["create with trailing slash", open("newfile/", "w")],
  ["open dir for write", open("a", "w")],
  ["open dir with O_CREAT", open("a", O_RDONLY | O_CREAT)],
  ["open dir read", open("a", "r", "dir")],
  ["read dir handle", onHandle("dir", (file) => file.readFile())],
  ["close dir", onHandle("dir", (file) => file.close())],
  ["readFile f", (side, path) => side.fs.readFile(path("f"))],
  ["readFile dir", (side, path) => side.fs.readFile(path("a"))],
  ["readFile missing", (side, path) => side.fs.readFile(path("missing"))],
  ["readdir base", (side, path) => side.fs.readdir(path(""))],
  ["readdir file", (side, path) => side.fs.readdir(path("f"))],
  ["readdir missing", (side, path) => side.fs.readdir(path("missing"))],
  ["stat missing", (side, path) => side.fs.stat(path("missing"))],
  ["stat under file", (side, path) => side.fs.stat(path("f/x"))],
  ["stat trailing slash", (side, path) => side.fs.stat(path("f/"))],
  ["stat f", sizeOf("f")],
  ["r+ f", open("f", "r+", "rw")],
  ["write at position", onHandle("rw", (file) => file.write(Buffer.from("HE"), 0, 2, 0))],
  ["write at file position", onHandle("rw", (file) => file.write(Buffer.from("__")))],
  ["readFile from position", onHandle("rw", (file) => file.readFile())],
  ["readFile at end", onHandle("rw", (file) => file.readFile())],
  ["write out of range", onHandle("rw", (file) => file.write(Buffer.from("abc"), 2, 5))],
  ["truncate", onHandle("rw", (file) => file.truncate(5))],
  ["close rw", onHandle("rw", (file) => file.close())],
  ["readFile truncated", (side, path) => side.fs.readFile(path("f"))],
  ["append open", open("f", O_WRONLY | O_APPEND, "append")],
  ["append ignores position", onHandle("append", (file) => file.write(Buffer.from("++"), 0, 2, 0))],
  ["close append", onHandle("append", (file) => file.close())],
  ["readFile appended", (side, path) => side.fs.readFile(path("f"))],
  ["read-only open", open("f", "r", "ro")],
  ["write read-only", onHandle("ro", (file) => file.write(Buffer.from("x")))],
  ["truncate read-only", onHandle("ro", (file) => file.truncate(0))],
  ["sync read-only", onHandle("ro", (file) => file.sync())],
  ["close ro", onHandle("ro", (file) => file.close())],
  ["write-only readFile", open("g", "w", "wo")],
  ["readFile write-only", onHandle("wo", (file) => file.readFile())],
  ["close wo", onHandle("wo", (file) => file.close())],
  ["O_TRUNC", open("f", O_RDWR | O_TRUNC, "trunc")],
  ["size after O_TRUNC", sizeOf("f")],
  ["close trunc", onHandle("trunc", (file) => file.close())],
  ["w+ over existing", open("g", "w+", "wplus")],
  ["close wplus", onHandle("wplus", (file) => file.close())],
  ["rename missing", (side, path) => side.fs.rename(path("missing"), path("other"))],
  ["rename to missing parent", (side, path) => side.fs.rename(path("f"), path("missing/f"))],
  ["rename from missing parent", (side, path) => side.fs.rename(path("missing/f"), path("f2"))],
  ["rename file over directory", (side, path) => side.fs.rename(path("f"), path("a"))],
  ["mkdir empty", (side, path) => side.fs.mkdir(path("empty"), { recursive: true })],
  ["rename directory over file", (side, path) => side.fs.rename(path("empty"), path("f"))],
  ["rename directory over non-empty", (side, path) => side.fs.rename(path("empty"), path("a"))],
  ["rename directory into itself", (side, path) => side.fs.rename(path("a"), path("a/b/inner"))],
  ["rename to itself", (side, path) => side.fs.rename(path("f"), path("f"))],
  [
    "rename directory over empty directory",
    (side, path) => side.fs.rename(path("a/d"), path("empty")),
  ],
  ["rename file", (side, path) => side.fs.rename(path("g"), path("g2"))],
  ["link onto existing", (side, path) => side.fs.link(path("f"), path("g2"))],
  ["link a directory", (side, path) => side.fs.link(path("a"), path("a-link"))],
  ["link missing", (side, path) => side.fs.link(path("missing"), path("m2"))],
  ["link to missing parent", (side, path) => side.fs.link(path("f"), path("missing/f"))],
  ["link", (side, path) => side.fs.link(path("f"), path("f-link"))],
  ["rename between hard links", (side, path) => side.fs.rename(path("f"), path("f-link"))],
  ["readdir after link", (side, path) => side.fs.readdir(path(""))],
  ["unlink directory", (side, path) => side.fs.unlink(path("a"))],
  ["unlink missing", (side, path) => side.fs.unlink(path("missing"))],
  ["unlink under file", (side, path) => side.fs.unlink(path("f/x"))],
  ["unlink", (side, path) => side.fs.unlink(path("f-link"))],
  ["mkdir recursive over file", (side, path) => side.fs.mkdir(path("f"), { recursive: true })],
  ["mkdir recursive under file", (side, path) => side.fs.mkdir(path("f/x/y"), { recursive: true })],
  ["fsyncDirectory", (side, path) => side.fs.fsyncDirectory(path("a"))],
  ["fsyncDirectory missing", (side, path) => side.fs.fsyncDirectory(path("missing"))],
  ["fsyncDirectory file", (side, path) => side.fs.fsyncDirectory(path("f"))],
  [
    "plant links",
    async (side) => {
      await side.plant("link-to-f", "f");
      await side.plant("dangling", "nowhere");
      await side.plant("loop-1", "loop-2");
      await side.plant("loop-2", "loop-1");
      await side.plant("link-to-a", "a");
      return "planted";
    },
  ],
  ["open link O_NOFOLLOW", open("link-to-f", O_RDONLY | O_NOFOLLOW)],
  ["create dangling O_NOFOLLOW", open("dangling", O_WRONLY | O_CREAT | O_NOFOLLOW)],
  ["create exclusive over link", open("link-to-f", "wx")],
  ["open loop", open("loop-1", "r")],
  ["readFile through link", (side, path) => side.fs.readFile(path("link-to-f"))],
  ["readdir through link", (side, path) => side.fs.readdir(path("link-to-a"))],
  [
    "mkdir recursive through link",
    (side, path) => side.fs.mkdir(path("link-to-a"), { recursive: true }),
  ],
  [
    "mkdir recursive on dangling link",
    (side, path) => side.fs.mkdir(path("dangling"), { recursive: true }),
  ],
  ["stat dangling", (side, path) => side.fs.stat(path("dangling"))],
  ["create through dangling link", open("dangling", "a", "through")],
  ["close through", onHandle("through", (file) => file.close())],
  ["readdir after create through link", (side, path) => side.fs.readdir(path(""))],
  ["link a link", (side, path) => side.fs.link(path("loop-1"), path("loop-copy"))],
  ["rename over link", (side, path) => side.fs.rename(path("g2"), path("link-to-a"))],
  ["unlink link", (side, path) => side.fs.unlink(path("link-to-f"))],
  ["readdir at end", (side, path) => side.fs.readdir(path(""))],
];

describe("crash-state filesystem conformance with Linux", () => {
  let realBase: string;
  const real: Side = {
    fs: nodeFileSystem,
    base: "",
    handles: new Map(),
    plant: (name, target) => symlink(target, join(real.base, name)),
  };
  const crashState: CrashStateFileSystem = createCrashStateFileSystem();
  const memory: Side = {
    fs: crashState,
    base: "/conformance/base",
    handles: new Map(),
    plant: async (name, target) => {
      crashState.syncAll();
      crashState.plantSymlink(join(memory.base, name), target);
    },
  };

  beforeAll(async () => {
    realBase = await mkdtemp(join(tmpdir(), "beauvoir-crash-state-"));
    real.base = join(realBase, "base");
    await nodeFileSystem.mkdir(real.base, { recursive: true });
    await crashState.mkdir(memory.base, { recursive: true });
  });
  afterAll(async () => {
    for (const side of [real, memory]) {
      for (const handle of side.handles.values()) await handle.close().catch(() => {});
    }
    await rm(realBase, { recursive: true, force: true });
  });

  it("gives every step the outcome Linux gives", async () => {
    const mismatches: string[] = [];
    for (const [name, step] of STEPS) {
      const expected = await outcome(real, step);
      const actual = await outcome(memory, step);
      if (expected !== actual)
        mismatches.push(`${name}:\n  linux:       ${expected}\n  crash-state: ${actual}`);
    }
    expect(mismatches).toEqual([]);
  });

  it("exposes handles with the CrashStateFileHandle class", () => {
    const handle = memory.handles.get("through") as CrashStateFileHandle;
    expect(handle.closed).toBe(true);
  });
});

// Issue 12, finding 4: no durable file of the store is opened through a
// symbolic link. A link planted where the primary, the bak or a tmp file
// belongs is a typed error (SYMLINK_REFUSED); its target is neither read
// into the state nor written, and nothing of the store is changed.
import { lstat, mkdir, readFile, readlink, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SymlinkRefusedError } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { inspectStore, ResilientJsonStore, StoreError } from "../src/index.js";
import { listDir, makeTempDir } from "./helpers.js";

let root: string;
let dir: string;
let remove: () => Promise<void>;
let path: string;
let outside: string;

beforeEach(async () => {
  ({ dir: root, remove } = await makeTempDir());
  dir = join(root, "data");
  await mkdir(dir);
  path = join(dir, "state.json");
  // A file outside the data directory, shaped like a store file with a high epoch.
  outside = join(root, "outside.json");
  await writeFile(outside, JSON.stringify({ _writeEpoch: 99, secret: "outside" }), { mode: 0o644 });
});
afterEach(async () => {
  await remove();
});

async function outsideFingerprint() {
  const info = await stat(outside);
  return { bytes: await readFile(outside), mode: info.mode, mtimeMs: info.mtimeMs };
}

const plantings: Array<{ name: string; file: () => string }> = [
  { name: "the primary", file: () => path },
  { name: "the bak", file: () => `${path}.bak` },
  { name: "a tmp file of another process", file: () => `${path}.4242.tmp` },
];

describe("a symbolic link where a store file belongs", () => {
  for (const planting of plantings) {
    it(`at ${planting.name}: SYMLINK_REFUSED on get() and set(), the target untouched`, async () => {
      const seed = new ResilientJsonStore<{ n: number }>({ path });
      await seed.set({ n: 1 });
      await seed.set({ n: 2 });
      const link = planting.file();
      await (await import("node:fs/promises")).rm(link, { force: true });
      await symlink(outside, link);
      const before = await outsideFingerprint();
      const entries = await listDir(dir);

      const store = new ResilientJsonStore<{ n: number }>({ path });
      for (const call of [() => store.get(), () => store.set({ n: 3 }), () => store.exists()]) {
        const error = await call().catch((caught: unknown) => caught);
        expect(SymlinkRefusedError.isInstance(error), String(error)).toBe(true);
        expect(StoreError.isInstance(error)).toBe(true);
        expect(error).toMatchObject({ code: "SYMLINK_REFUSED", path: link, storePath: path });
      }
      expect(await outsideFingerprint()).toEqual(before);
      expect(await listDir(dir)).toEqual(entries);
      expect((await lstat(link)).isSymbolicLink()).toBe(true);
      expect(await readlink(link)).toBe(outside);
      // The read-only inspection says so too, without touching anything.
      const inspection = await inspectStore({ path });
      const report =
        planting.file() === path
          ? inspection.primary
          : planting.file() === `${path}.bak`
            ? inspection.bak
            : inspection.tmps[0];
      expect(report).toMatchObject({ file: link, health: "symlink" });
      expect(await listDir(dir)).toEqual(entries);
    });
  }

  it("a link planted as the tmp name of this process is replaced, never written through", async () => {
    const store = new ResilientJsonStore<{ n: number }>({ path });
    await store.set({ n: 1 });
    const before = await outsideFingerprint();
    await symlink(outside, `${path}.${process.pid}.tmp`);
    await store.set({ n: 2 });
    expect(await outsideFingerprint()).toEqual(before);
    expect(await listDir(dir)).toEqual(["state.json", "state.json.bak"]);
    expect(await new ResilientJsonStore<{ n: number }>({ path }).get()).toEqual({ n: 2 });
  });

  it("a link planted at the next quarantine name is never overwritten", async () => {
    await writeFile(path, "damaged", { mode: 0o600 });
    await writeFile(`${path}.bak`, JSON.stringify({ n: 1, _writeEpoch: 1 }), { mode: 0o600 });
    const { ManualClock } = await import("@beauvoir/core");
    await symlink(outside, `${path}.quarantine.5`);
    const before = await outsideFingerprint();
    const store = new ResilientJsonStore<{ n: number }>({ path, clock: new ManualClock(5) });
    expect(await store.get()).toEqual({ n: 1 });
    expect(await outsideFingerprint()).toEqual(before);
    expect(await readlink(`${path}.quarantine.5`)).toBe(outside);
    expect(await readFile(`${path}.quarantine.5-1`, "utf8")).toBe("damaged");
  });
});

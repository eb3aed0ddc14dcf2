// Issue 12, "bad-files matrix": every file the store writes (primary, bak, a
// leftover tmp, a quarantine file) truncated, with a flipped bit, replaced by
// garbage, by a directory, by a symbolic link, or made unreadable (chmod 000);
// the directory made read-only; the disk full. Each case ends in a typed
// error or the documented recovery, with the newest intact resolved state
// served and nothing outside the data directory touched. The tests run as
// root: they mount small tmpfs filesystems, and read as `nobody` where root's
// permissions would hide a chmod 000.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmod,
  chown,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ManualClock } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { inspectStore, ResilientJsonStore } from "../src/index.js";
import { makeTempDir, withTmpfs } from "./helpers.js";

interface State {
  v: number;
  text: string;
}
const stateOf = (v: number, size = 2_000): State => ({ v, text: `${v}`.repeat(size) });
const NOBODY = 65534;
const childFixture = fileURLToPath(new URL("./fixtures/get-as-nobody.mjs", import.meta.url));

type Target = "primary" | "bak" | "tmp" | "quarantine";
type Damage = "truncate" | "bit-flip" | "garbage" | "directory" | "symlink" | "chmod-000";

let root: string;
let remove: () => Promise<void>;
let data: string;
let path: string;
let outside: string;

beforeEach(async () => {
  ({ dir: root, remove } = await makeTempDir());
  data = join(root, "data");
  await mkdir(data, { mode: 0o700 });
  path = join(data, "state.json");
  outside = join(root, "outside.json");
  await writeFile(outside, JSON.stringify({ _writeEpoch: 99, v: -1, text: "outside" }), {
    mode: 0o644,
  });
});
afterEach(async () => {
  await remove();
});

const fileOf = (target: Target): string =>
  ({
    primary: path,
    bak: `${path}.bak`,
    tmp: `${path}.4242.tmp`,
    quarantine: `${path}.quarantine.1000`,
  })[target];

/** v1 then v2 resolved; a crashed writer's complete tmp (epoch 3); an old quarantine file. */
async function seed(storePath: string, size?: number): Promise<void> {
  const store = new ResilientJsonStore<State>({ path: storePath });
  await store.set(stateOf(1, size));
  await store.set(stateOf(2, size));
  const scratch = `${storePath}.scratch`;
  const other = new ResilientJsonStore<State>({ path: scratch });
  for (const v of [1, 2, 3]) await other.set(stateOf(v, size));
  await writeFile(`${storePath}.4242.tmp`, await readFile(scratch), { mode: 0o600 });
  await rm(scratch);
  await rm(`${scratch}.bak`);
  await writeFile(`${storePath}.quarantine.1000`, "an old damaged file", { mode: 0o600 });
}

async function damage(file: string, how: Damage): Promise<Buffer | undefined> {
  const bytes = await readFile(file);
  switch (how) {
    case "truncate": {
      const cut = bytes.subarray(0, Math.floor(bytes.length / 2));
      await writeFile(file, cut);
      return cut;
    }
    case "bit-flip": {
      const flipped = Buffer.from(bytes);
      const at = Math.floor(bytes.length / 2);
      flipped[at] = flipped[at]! ^ 0b100;
      await writeFile(file, flipped);
      return flipped;
    }
    case "garbage": {
      const garbage = randomBytes(bytes.length);
      await writeFile(file, garbage);
      return garbage;
    }
    case "directory":
      await rm(file);
      await mkdir(file);
      await writeFile(join(file, "inside"), "x");
      return undefined;
    case "symlink":
      await rm(file);
      await symlink(outside, file);
      return undefined;
    case "chmod-000":
      await chmod(file, 0o000);
      return bytes;
  }
}

/** Everything in a directory tree: names, kinds, bytes. */
async function tree(dir: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const entry of (await readdir(dir, { recursive: true })).sort()) {
    const full = join(dir, entry);
    const info = await lstat(full);
    found[entry] = info.isSymbolicLink()
      ? "link"
      : info.isDirectory()
        ? "directory"
        : (await readFile(full)).toString("base64");
  }
  return found;
}

async function outsideFingerprint() {
  const info = await stat(outside);
  return { bytes: await readFile(outside), mode: info.mode, mtimeMs: info.mtimeMs };
}

/** What the store does with a damaged file: the documented outcome of each row. */
function expected(target: Target, how: Damage): { serves: number } | { code: string } {
  if (target === "quarantine") return { serves: 2 }; // never read
  if (how === "directory") return { code: "STORE_READ_FAILED" };
  if (how === "symlink") return { code: "SYMLINK_REFUSED" };
  if (how === "chmod-000") return { serves: 2 }; // root reads it anyway
  return { serves: target === "primary" ? 1 : 2 };
}

const targets: Target[] = ["primary", "bak", "tmp", "quarantine"];
const damages: Damage[] = ["truncate", "bit-flip", "garbage", "directory", "symlink", "chmod-000"];

describe("a damaged store file", () => {
  for (const target of targets) {
    for (const how of damages) {
      const outcome = expected(target, how);
      const says = "code" in outcome ? outcome.code : `serves v${outcome.serves}`;
      it(`${target}, ${how}: ${says}`, async () => {
        await seed(path);
        const damagedBytes = await damage(fileOf(target), how);
        const before = await tree(data);
        const outsideBefore = await outsideFingerprint();
        const store = new ResilientJsonStore<State>({ path, clock: new ManualClock(5_000) });
        if ("code" in outcome) {
          for (const call of [() => store.get(), () => store.set(stateOf(4))]) {
            await expect(call()).rejects.toMatchObject({ code: outcome.code, storePath: path });
          }
          // Nothing was changed, and the read-only inspection names the file.
          expect(await tree(data)).toEqual(before);
          const inspection = await inspectStore({ path });
          const report =
            target === "primary"
              ? inspection.primary
              : target === "bak"
                ? inspection.bak
                : inspection.tmps[0];
          expect(report?.health).toBe(how === "symlink" ? "symlink" : "unreadable");
          expect(await tree(data)).toEqual(before);
        } else {
          expect(await store.get()).toEqual(stateOf(outcome.serves));
          if (outcome.serves === 1 && damagedBytes) {
            // The damaged primary is kept aside byte for byte.
            expect(await readFile(`${path}.quarantine.5000`)).toEqual(damagedBytes);
          }
          await store.set(stateOf(4));
          expect(await new ResilientJsonStore<State>({ path }).get()).toEqual(stateOf(4));
          // The state before the write is the bak now.
          expect(JSON.parse(await readFile(`${path}.bak`, "utf8")).v).toBe(outcome.serves);
          if (target === "quarantine") {
            // Never read, never replaced: still there as it was.
            const entry = "state.json.quarantine.1000";
            const after = await tree(data);
            for (const name of Object.keys(before).filter((key) => key.startsWith(entry))) {
              expect(after[name], name).toBe(before[name]);
            }
          }
        }
        expect(await outsideFingerprint()).toEqual(outsideBefore);
        expect((await readdir(root)).sort()).toEqual(["data", "outside.json"]);
      });
    }
  }
});

describe("a store file unreadable by its (unprivileged) user: chmod 000", () => {
  for (const target of targets) {
    const outcome = target === "quarantine" ? "serves v2" : "STORE_READ_FAILED";
    it(`${target}: ${outcome}, nothing changed`, async () => {
      await seed(path);
      await chown(root, NOBODY, NOBODY);
      await chown(data, NOBODY, NOBODY);
      for (const entry of await readdir(data)) await chown(join(data, entry), NOBODY, NOBODY);
      await chmod(fileOf(target), 0o000);
      const before = await tree(data);
      const child = spawnSync(process.execPath, [childFixture, path, String(NOBODY)], {
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(child.stderr).toBe("");
      const result = JSON.parse(child.stdout) as { ok: boolean; code?: string; state?: State };
      if (target === "quarantine") {
        expect(result).toEqual({ ok: true, state: stateOf(2) });
      } else {
        expect(result).toMatchObject({ ok: false, code: "STORE_READ_FAILED" });
        expect(await tree(data)).toEqual(before);
      }
    });
  }
});

describe("a read-only directory (a read-only mount)", () => {
  it("serves the state, refuses writes with STORE_WRITE_FAILED, and changes nothing", async () => {
    await withTmpfs(1024, async ({ dir, remountReadOnly }) => {
      const storePath = join(dir, "state.json");
      await seed(storePath);
      remountReadOnly();
      const before = await tree(dir);
      const store = new ResilientJsonStore<State>({ path: storePath });
      expect(await store.get()).toEqual(stateOf(2));
      await expect(store.set(stateOf(3))).rejects.toMatchObject({
        code: "STORE_WRITE_FAILED",
        rolledBack: true,
        cause: expect.objectContaining({ code: "EROFS" }),
      });
      expect(await tree(dir)).toEqual(before);
      expect(await store.get()).toEqual(stateOf(2));
    });
  });

  it("with a damaged primary: STORE_WRITE_FAILED (the quarantine cannot be made), nothing changed", async () => {
    await withTmpfs(1024, async ({ dir, remountReadOnly }) => {
      const storePath = join(dir, "state.json");
      await seed(storePath);
      await damage(storePath, "bit-flip");
      remountReadOnly();
      const before = await tree(dir);
      await expect(new ResilientJsonStore<State>({ path: storePath }).get()).rejects.toMatchObject({
        code: "STORE_WRITE_FAILED",
        step: "quarantine",
        rolledBack: true,
      });
      expect(await tree(dir)).toEqual(before);
      const inspection = await inspectStore({ path: storePath });
      expect(inspection).toMatchObject({
        current: "bak",
        primary: { health: "checksum-mismatch" },
        bak: { health: "valid", state: stateOf(1) },
      });
    });
  });
});

describe("a full disk (ENOSPC on a small tmpfs)", () => {
  it("rejects set() with STORE_WRITE_FAILED, rolled back, and writes again once there is room", async () => {
    await withTmpfs(512, async ({ dir }) => {
      const storePath = join(dir, "state.json");
      const size = 40_000;
      await seed(storePath, size);
      await rm(`${storePath}.4242.tmp`);
      // Fill what is left.
      const filler = join(dir, "filler");
      const handle = await open(filler, "w");
      try {
        for (;;) await handle.write(Buffer.alloc(4096));
      } catch (error) {
        expect(error).toMatchObject({ code: "ENOSPC" });
      } finally {
        await handle.close();
      }
      const primary = await readFile(storePath);
      const bak = await readFile(`${storePath}.bak`);
      const store = new ResilientJsonStore<State>({ path: storePath });
      expect(await store.get()).toEqual(stateOf(2, size));
      await expect(store.set(stateOf(3, size))).rejects.toMatchObject({
        code: "STORE_WRITE_FAILED",
        rolledBack: true,
        cause: expect.objectContaining({ code: "ENOSPC" }),
      });
      expect(await readFile(storePath)).toEqual(primary);
      expect(await readFile(`${storePath}.bak`)).toEqual(bak);
      expect((await readdir(dir)).sort()).toEqual([
        "filler",
        "state.json",
        "state.json.bak",
        "state.json.quarantine.1000",
      ]);
      expect(await new ResilientJsonStore<State>({ path: storePath }).get()).toEqual(
        stateOf(2, size),
      );
      // Not an fsync failure: the store goes on once there is room.
      await rm(filler);
      await store.set(stateOf(3, size));
      expect(await new ResilientJsonStore<State>({ path: storePath }).get()).toEqual(
        stateOf(3, size),
      );
    });
  });
});

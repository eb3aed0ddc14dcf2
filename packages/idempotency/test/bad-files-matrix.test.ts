import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  truncate,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BeauvoirError } from "@beauvoir/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IdempotencyEntry } from "../src/entry.js";
import { IdempotencyIndex } from "../src/idempotency-index.js";
import { repairIdempotencyIndex } from "../src/repair-index.js";
import { verifyIdempotencyIndex } from "../src/verify-index.js";

/**
 * Every file the index writes (its journals, the snapshot and its backup, the
 * temporary files of a rotation and of the store, the owner lock), damaged in
 * every way a disk, an operator or an attacker can: cut in half or to 0, a
 * flipped bit, garbage, a directory or a symbolic link in its place, deleted,
 * unreadable (chmod 000, for a user that is not root), a read-only directory,
 * a full disk. Each case ends in a documented recovery with every resolved
 * transition intact, or in a typed error that leaves the files as they were;
 * nothing outside the directory is ever touched.
 */

const BUILD_HISTORY = fileURLToPath(new URL("./fixtures/build-history-child.mjs", import.meta.url));
const OPEN_INDEX = fileURLToPath(new URL("./fixtures/open-index-child.mjs", import.meta.url));
const NOBODY = 65534;
const OUTSIDE_TEXT = "root:x:0:0:root:/root:/bin/bash\n";

/** The transitions the history child resolved, as a fresh index must find them. */
const EXPECTED = new Map<string, Partial<IdempotencyEntry>>([
  ...Array.from(
    { length: 10 },
    (_, n) => [`c${n}`, { status: "completed", result: { n } }] as const,
  ),
  ["f0", { status: "failed", error: "error 0" }],
  ["f1", { status: "failed", error: "error 1" }],
  ["p", { status: "pending", intentSeq: 30 }],
]);

type Ending = "shutdown" | "crash";
let root: string;
const templates = new Map<Ending, string>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "idem-matrix-"));
  // Traversable, so the cases run as another user can reach their own directories.
  await chmod(root, 0o711);
  for (const ending of ["shutdown", "crash"] as const) {
    const dir = join(root, `template-${ending}`);
    spawnSync(process.execPath, [BUILD_HISTORY, dir, ending], { stdio: "ignore" });
    templates.set(ending, dir);
  }
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let caseNumber = 0;
/** A copy of the history, and a file outside it that must never change. */
async function freshCase(ending: Ending): Promise<{ dir: string; outside: string }> {
  caseNumber += 1;
  const base = join(root, `case-${caseNumber}`);
  await mkdir(base);
  const outside = join(base, "outside.txt");
  await writeFile(outside, OUTSIDE_TEXT);
  const dir = join(base, "index");
  await cp(templates.get(ending) as string, dir, { recursive: true });
  return { dir, outside };
}

/** Everything under `dir` except the lock directory, which acquiring a lock changes. */
async function fingerprint(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (path.startsWith(join(dir, "locks"))) continue;
    const info = await lstat(path);
    if (info.isSymbolicLink()) result[path] = `link ${await readlink(path)}`;
    else if (info.isDirectory()) result[path] = "dir";
    else
      result[path] = createHash("sha256")
        .update(await readFile(path))
        .digest("hex");
  }
  return result;
}

function journalsOf(names: readonly string[]): string[] {
  return names
    .filter((name) => /^journal\.\d+\.jsonl$/.test(name))
    .sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]));
}

function expectIntact(entries: ReadonlyMap<string, IdempotencyEntry | null>, label: string): void {
  for (const [key, fields] of EXPECTED)
    expect(entries.get(key), `${label}: ${key}`).toMatchObject(fields);
}

type Outcome =
  | { opened: true; entries: Map<string, IdempotencyEntry | null>; size: number }
  | { opened: false; error: unknown };

async function openIndex(dir: string): Promise<Outcome> {
  // A low threshold, so the writes below also rotate the journal and write snapshots.
  const index = new IdempotencyIndex({ dir, compactionThreshold: 2 });
  try {
    await index.initialize();
  } catch (error) {
    await index.close();
    return { opened: false, error };
  }
  const entries = new Map<string, IdempotencyEntry | null>();
  for (const key of EXPECTED.keys()) entries.set(key, await index.check(key));
  const size = index.size;
  // It keeps working, through compactions: new transitions are durable across a restart.
  for (let n = 0; n < 20; n += 1) await index.markPending(`after-damage-${n}`, 100 + n);
  await index.close();
  const again = new IdempotencyIndex({ dir });
  await again.initialize();
  for (let n = 0; n < 20; n += 1) {
    expect(await again.check(`after-damage-${n}`)).toMatchObject({ status: "pending" });
  }
  await again.close();
  return { opened: true, entries, size };
}

type Damage = (path: string, outside: string) => Promise<void>;
const DAMAGES: Record<string, Damage> = {
  "cut in half": async (path) => truncate(path, Math.floor((await readFile(path)).length / 2)),
  "cut to 0": async (path) => truncate(path, 0),
  "a flipped bit": async (path) => {
    const bytes = await readFile(path);
    const at = Math.floor(bytes.length * 0.6);
    bytes[at] = (bytes[at] as number) ^ 0x04;
    await writeFile(path, bytes);
  },
  garbage: async (path) => {
    const bytes = await readFile(path);
    for (let at = 0; at < bytes.length; at += 1) bytes[at] = (at * 7919 + 13) & 0xff;
    await writeFile(path, bytes);
  },
  "a directory": async (path) => {
    await rm(path, { force: true });
    await mkdir(path);
  },
  "a symlink": async (path, outside) => {
    await rm(path, { force: true });
    await symlink(outside, path);
  },
  deleted: async (path) => rm(path),
};
/** For names the index creates only now and then: something planted there beforehand. */
const PLANTS: Record<string, Damage> = {
  garbage: async (path) => writeFile(path, "\u0000garbage\n{not json"),
  "a directory": async (path) => mkdir(path),
  "a symlink": async (path, outside) => symlink(outside, path),
  "a dangling symlink": async (path, outside) => symlink(`${outside}.missing`, path),
};

/**
 * What the index does with damage to its own journals, pinned (the store and
 * the lock manager document their files' recovery themselves). `intact`: it
 * opens with every resolved transition; a code: it refuses with that error.
 * The active journal cut in half after a crash is the one documented loss: a
 * mid-line cut is exactly what a torn write looks like, so it is cut as one.
 */
const JOURNAL_OUTCOMES: Record<Ending, Record<string, Record<string, string>>> = {
  shutdown: {
    active: {
      "cut in half": "intact",
      "cut to 0": "INDEX_CORRUPT",
      "a flipped bit": "INDEX_CORRUPT",
      garbage: "INDEX_CORRUPT",
      "a directory": "INDEX_IO_FAILED",
      "a symlink": "SYMLINK_REFUSED",
      deleted: "INDEX_CORRUPT",
    },
  },
  crash: {
    active: {
      "cut in half": "torn",
      "cut to 0": "INDEX_CORRUPT",
      "a flipped bit": "INDEX_CORRUPT",
      garbage: "INDEX_CORRUPT",
      "a directory": "INDEX_IO_FAILED",
      "a symlink": "SYMLINK_REFUSED",
      deleted: "INDEX_CORRUPT",
    },
    older: {
      "cut in half": "INDEX_CORRUPT",
      // Only the store's backup needs it; the snapshot holds every record in it.
      "cut to 0": "intact",
      "a flipped bit": "INDEX_CORRUPT",
      garbage: "INDEX_CORRUPT",
      "a directory": "INDEX_IO_FAILED",
      "a symlink": "SYMLINK_REFUSED",
      deleted: "intact",
    },
  },
};

async function runCase(
  ending: Ending,
  target: (dir: string, names: string[]) => string,
  damage: Damage,
  expected?: string,
): Promise<void> {
  const { dir, outside } = await freshCase(ending);
  const path = target(dir, await readdir(dir));
  await damage(path, outside);
  const before = await fingerprint(dir);
  const outcome = await openIndex(dir);
  expect(await readFile(outside, "utf8")).toBe(OUTSIDE_TEXT);
  if (outcome.opened) {
    if (expected === "torn") {
      // The records before the cut are all there; the ones after it are gone.
      const present = [...outcome.entries].filter(([, entry]) => entry !== null);
      expect(present.length).toBeLessThan(EXPECTED.size);
      for (const [key] of present) {
        const entry = outcome.entries.get(key);
        if (entry?.status === EXPECTED.get(key)?.status)
          expect(entry).toMatchObject(EXPECTED.get(key) as object);
      }
      return;
    }
    if (expected !== undefined) expect("intact").toBe(expected);
    expectIntact(outcome.entries, path);
    return;
  }
  const { error } = outcome;
  expect(BeauvoirError.isInstance(error), String(error)).toBe(true);
  if (expected !== undefined) expect((error as BeauvoirError).code).toBe(expected);
  // A refusal changes nothing.
  expect(await fingerprint(dir)).toEqual(before);
  if ((error as BeauvoirError).code === "INDEX_CORRUPT") {
    // And the operator's repair gets a working index back, with every entry a
    // snapshot or a readable line still held.
    await repairIdempotencyIndex({ dir });
    expect((await verifyIdempotencyIndex({ dir })).intact).toBe(true);
    const repaired = await openIndex(dir);
    expect(repaired.opened).toBe(true);
    if (repaired.opened && ending === "shutdown")
      expectIntact(repaired.entries, `${path} repaired`);
  }
}

const active = (dir: string, names: string[]) => join(dir, journalsOf(names).at(-1) as string);
const older = (dir: string, names: string[]) => join(dir, journalsOf(names).at(-2) as string);
const nextGeneration = (names: string[]) => Number(journalsOf(names).at(-1)?.split(".")[1]) + 1;

describe.each(["shutdown", "crash"] as const)("after a %s", (ending) => {
  it("the template holds every resolved transition, in more than one journal after a crash", async () => {
    const names = await readdir(templates.get(ending) as string);
    expect(names).toContain("snapshot.json");
    expect(names).toContain("snapshot.json.bak");
    if (ending === "crash") expect(journalsOf(names).length).toBeGreaterThanOrEqual(2);
    const { dir } = await freshCase(ending);
    const outcome = await openIndex(dir);
    expect(outcome.opened).toBe(true);
    if (outcome.opened) expectIntact(outcome.entries, "template");
  });

  for (const which of ["active", "older"] as const) {
    const outcomes = JOURNAL_OUTCOMES[ending][which];
    if (!outcomes) continue;
    for (const [name, damage] of Object.entries(DAMAGES)) {
      it(`the ${which} journal, ${name}: ${outcomes[name]}`, async () => {
        await runCase(ending, which === "active" ? active : older, damage, outcomes[name]);
      });
    }
  }

  for (const file of ["snapshot.json", "snapshot.json.bak"]) {
    for (const [name, damage] of Object.entries(DAMAGES)) {
      it(`${file}, ${name}: recovered from the other copy and the journals, or refused`, async () => {
        await runCase(ending, (dir) => join(dir, file), damage);
      });
    }
  }

  const planted: Array<[string, (dir: string, names: string[]) => string]> = [
    ["the next journal", (dir, names) => join(dir, `journal.${nextGeneration(names)}.jsonl`)],
    [
      "a rotation's temporary file",
      (dir, names) => join(dir, `journal.${nextGeneration(names)}.jsonl.tmp`),
    ],
    ["the store's temporary file", (dir) => join(dir, "snapshot.json.99999.tmp")],
  ];
  for (const [what, target] of planted) {
    for (const [name, plant] of Object.entries(PLANTS)) {
      it(`${what}, planted as ${name}: recovered or refused, nothing written through it`, async () => {
        await runCase(ending, target, plant);
      });
    }
  }

  // Not the dangling link: @beauvoir/locks on this branch spins on one (reported).
  for (const name of ["garbage", "a directory", "a symlink"]) {
    it(`the owner lock file, ${name}: recovered or refused`, async () => {
      const lockFile = (dir: string) => join(dir, "locks", "idempotency-index.lock");
      await runCase(ending, lockFile, async (path, outside) => {
        await mkdir(join(path, ".."), { recursive: true });
        await rm(path, { force: true, recursive: true });
        await (PLANTS[name] as Damage)(path, outside);
      });
    });
  }
});

describe("permissions, a read-only directory and a full disk", () => {
  function openAsNobody(dir: string) {
    const child = spawnSync(process.execPath, [OPEN_INDEX, dir], {
      uid: NOBODY,
      gid: NOBODY,
      encoding: "utf8",
      env: { ...process.env, KEYS: JSON.stringify([...EXPECTED.keys()]) },
    });
    const line = child.stdout.trim().split("\n").at(-1) ?? "";
    return JSON.parse(line) as
      | { opened: true; size: number; entries: Record<string, IdempotencyEntry | null> }
      | { opened: false; code: unknown; message: string };
  }

  for (const ending of ["shutdown", "crash"] as const) {
    for (const target of [
      "active journal",
      "snapshot.json",
      "snapshot.json.bak",
      "the directory",
    ]) {
      it(`chmod 000 on ${target} (${ending}), for a user that is not root: a typed error or intact`, async () => {
        const { dir, outside } = await freshCase(ending);
        const base = join(dir, "..");
        execFileSync("chown", ["-R", `${NOBODY}:${NOBODY}`, base]);
        await chown(outside, 0, 0);
        const names = await readdir(dir);
        const path =
          target === "active journal"
            ? active(dir, names)
            : target === "the directory"
              ? dir
              : join(dir, target);
        const control = openAsNobody(dir);
        expect(control.opened, JSON.stringify(control)).toBe(true);
        await chmod(path, 0);
        const before = await fingerprint(dir);
        const outcome = openAsNobody(dir);
        if (outcome.opened) {
          expectIntact(new Map(Object.entries(outcome.entries)), target);
        } else {
          expect(typeof outcome.code, outcome.message).toBe("string");
          expect(["INDEX_IO_FAILED", "STORE_READ_FAILED", "SYMLINK_REFUSED"]).toContain(
            outcome.code,
          );
          expect(await fingerprint(dir)).toEqual(before);
        }
        await chmod(path, target === "the directory" ? 0o700 : 0o600);
        const restored = openAsNobody(dir);
        expect(restored.opened, JSON.stringify(restored)).toBe(true);
        if (restored.opened)
          expectIntact(new Map(Object.entries(restored.entries)), `${target} restored`);
        expect(await readFile(outside, "utf8")).toBe(OUTSIDE_TEXT);
      });
    }
  }

  describe("on a small tmpfs", () => {
    let mount: string;
    beforeAll(async () => {
      mount = join(root, "mount");
      await mkdir(mount);
    });
    function mountTmpfs(size: string): void {
      execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", mount]);
    }
    function unmount(): void {
      execFileSync("umount", [mount]);
    }

    it("a read-only directory: a typed error, verify still reads it, and it opens intact once writable", async () => {
      mountTmpfs("4m");
      try {
        const dir = join(mount, "index");
        spawnSync(process.execPath, [BUILD_HISTORY, dir, "shutdown"], { stdio: "ignore" });
        execFileSync("mount", ["-o", "remount,ro", mount]);
        const outcome = await openIndex(dir);
        expect(outcome.opened).toBe(false);
        if (!outcome.opened) {
          expect(outcome.error).toMatchObject({ code: "INDEX_IO_FAILED" });
          expect((outcome.error as Error).message).toContain("EROFS");
        }
        const report = await verifyIdempotencyIndex({ dir });
        expect(report).toMatchObject({ intact: true, entries: { total: EXPECTED.size } });
        execFileSync("mount", ["-o", "remount,rw", mount]);
        const reopened = await openIndex(dir);
        expect(reopened.opened).toBe(true);
        if (reopened.opened) expectIntact(reopened.entries, "after remount");
      } finally {
        unmount();
      }
    });

    it("a full disk (ENOSPC): typed errors, every resolved transition intact once there is room", async () => {
      mountTmpfs("96k");
      try {
        const dir = join(mount, "index");
        const index = new IdempotencyIndex({ dir, compactionThreshold: 8 });
        await index.initialize();
        const resolved = new Map<string, Partial<IdempotencyEntry>>();
        const codes = new Set<string>();
        let failures = 0;
        for (let n = 0; n < 600 && failures < 40; n += 1) {
          const key = `k${n}`;
          try {
            await index.markPending(key, n + 1);
            resolved.set(key, { status: "pending", intentSeq: n + 1 });
            await index.markCompleted(key, { n, padding: "x".repeat(300) });
            resolved.set(key, { status: "completed", result: { n, padding: "x".repeat(300) } });
          } catch (error) {
            expect(BeauvoirError.isInstance(error), String(error)).toBe(true);
            codes.add((error as BeauvoirError).code);
            failures += 1;
          }
        }
        expect(
          [...codes].every((code) => ["JOURNAL_WRITE_FAILED", "FAIL_STOPPED"].includes(code)),
        ).toBe(true);
        expect(codes.size).toBeGreaterThan(0);
        // Failed transitions are rolled back; the index still answers for the rest.
        for (const [key, fields] of resolved)
          expect(await index.check(key), key).toMatchObject(fields);
        await index.close();
        execFileSync("mount", ["-o", "remount,size=8m", mount]);
        const fresh = new IdempotencyIndex({ dir });
        await fresh.initialize();
        for (const [key, fields] of resolved)
          expect(await fresh.check(key), key).toMatchObject(fields);
        await fresh.markPending("room-again", 1);
        await fresh.close();
      } finally {
        unmount();
      }
    });
  });
});

import { lstat, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFaultyFileSystem, SymlinkRefusedError } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { IdempotencyIndex } from "../src/idempotency-index.js";

/**
 * No file of the index is opened through a symbolic link, files are 0600 and
 * directories 0700, and a directory the index creates is durable in its parent.
 */

let root: string;
let outside: string;
const TARGET_TEXT = "root:x:0:0:root:/root:/bin/bash\n";

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "idem-private-"));
  outside = join(root, "outside.txt");
  await writeFile(outside, TARGET_TEXT);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function seed(dir: string, count: number, compactionThreshold = 1000, from = 0) {
  const index = new IdempotencyIndex({ dir, compactionThreshold });
  await index.initialize();
  for (let n = from; n < from + count; n += 1) {
    await index.markPending(`k${n}`, n + 1);
    await index.markCompleted(`k${n}`, n);
  }
  await index.close();
}

describe("symbolic links planted where the index's files belong", () => {
  it("journal.0.jsonl as a symlink on a fresh directory: refused, target untouched", async () => {
    const dir = join(root, "index");
    await seed(dir, 0);
    await rm(join(dir, "journal.0.jsonl"));
    await symlink(outside, join(dir, "journal.0.jsonl"));
    const index = new IdempotencyIndex({ dir });
    const error = await index.initialize().catch((caught: unknown) => caught);
    expect(SymlinkRefusedError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "SYMLINK_REFUSED", path: join(dir, "journal.0.jsonl") });
    await index.close();
    expect(await readFile(outside, "utf8")).toBe(TARGET_TEXT);
    expect((await lstat(join(dir, "journal.0.jsonl"))).isSymbolicLink()).toBe(true);
  });

  it("a journal replaced by a symlink after records were written: refused, target untouched", async () => {
    const dir = join(root, "index");
    await seed(dir, 3);
    const journal = join(dir, "journal.0.jsonl");
    await rm(journal);
    await symlink(outside, journal);
    const index = new IdempotencyIndex({ dir });
    await expect(index.initialize()).rejects.toMatchObject({ code: "SYMLINK_REFUSED" });
    await index.close();
    expect(await readFile(outside, "utf8")).toBe(TARGET_TEXT);
    expect(await readlink(journal)).toBe(outside);
  });

  it("the next journal pre-planted as a symlink before a compaction: nothing written through it", async () => {
    const dir = join(root, "index");
    await seed(dir, 0);
    for (let generation = 1; generation < 6; generation += 1) {
      await symlink(outside, join(dir, `journal.${generation}.jsonl`));
    }
    const index = new IdempotencyIndex({ dir, compactionThreshold: 2 });
    const error = await index.initialize().then(
      async () => {
        for (let n = 0; n < 10; n += 1) await index.markPending(`k${n}`, n + 1);
        return undefined;
      },
      (caught: unknown) => caught,
    );
    await index.close();
    expect(await readFile(outside, "utf8")).toBe(TARGET_TEXT);
    // Refused at open (a symlink sits where a journal belongs).
    expect(error).toMatchObject({ code: "SYMLINK_REFUSED" });
  });

  it("snapshot.json as a symlink: the target is never written", async () => {
    const dir = join(root, "index");
    await seed(dir, 0);
    await rm(join(dir, "snapshot.json"), { force: true });
    await symlink(outside, join(dir, "snapshot.json"));
    const index = new IdempotencyIndex({ dir, compactionThreshold: 2 });
    await index
      .initialize()
      .then(async () => {
        for (let n = 0; n < 6; n += 1) await index.markPending(`k${n}`, n + 1);
      })
      .catch(() => {});
    await index.close();
    expect(await readFile(outside, "utf8")).toBe(TARGET_TEXT);
  });
});

describe("file modes and durable directories", () => {
  it("creates the directory 0700 and the journal 0600, also when used alone", async () => {
    const dir = join(root, "a", "b", "index");
    await seed(dir, 1);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, "a"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "journal.0.jsonl"))).mode & 0o777).toBe(0o600);
    await seed(dir, 6, 2, 1);
    for (const name of ["journal.0.jsonl", "snapshot.json"]) {
      const path = join(dir, name);
      const exists = await stat(path).then(
        () => true,
        () => false,
      );
      if (exists) expect((await stat(path)).mode & 0o777, name).toBe(0o600);
    }
  });

  it("makes a directory it creates durable in its parent before the first record", async () => {
    const dir = join(root, "missing", "index");
    const fs = createFaultyFileSystem({});
    const index = new IdempotencyIndex({ dir, fs });
    await index.initialize();
    await index.markPending("k", 1);
    await index.close();
    const calls = fs.calls.map((call) => `${call.operation} ${call.path}`);
    const mkdirAt = calls.indexOf(`mkdir ${dir}`);
    expect(mkdirAt).toBeGreaterThanOrEqual(0);
    const parentSync = calls.indexOf(`fsyncDirectory ${join(root, "missing")}`, mkdirAt);
    expect(parentSync).toBeGreaterThan(mkdirAt);
    const firstJournalWrite = calls.findIndex(
      (call) => call.startsWith("write ") && call.includes("journal."),
    );
    expect(parentSync).toBeLessThan(firstJournalWrite);
  });
});

import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryLocks } from "../src/__fixtures__/memory-dependencies.js";
import { IndexCorruptError } from "../src/errors.js";
import { IdempotencyIndex } from "../src/idempotency-index.js";
import type { IdempotencyIndexOptions } from "../src/options.js";

/**
 * Recovery may cut only a torn tail. Damage anywhere else (a flipped bit in
 * a line that is not the last one, a journal cut short while a snapshot says
 * more existed) is reported with the file and line, and nothing is changed.
 */

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "idem-damage-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function withIndex<T>(
  options: Partial<IdempotencyIndexOptions>,
  body: (index: IdempotencyIndex) => Promise<T>,
): Promise<T> {
  const index = new IdempotencyIndex({ dir, ...options });
  await index.initialize();
  try {
    return await body(index);
  } finally {
    await index.close();
  }
}

async function runSteps(index: IdempotencyIndex, count: number, from: number): Promise<void> {
  for (let n = from; n < from + count; n += 1) {
    const key = index.generateKey("add_labels", "acme/widgets", `issue-${n}`, { n });
    await index.markPending(key, n + 1);
    await index.markCompleted(key, { n });
  }
}

/** Completes `count` steps, then closes the index (a clean shutdown). */
async function completeSteps(
  count: number,
  options: Partial<IdempotencyIndexOptions> = {},
  from = 0,
) {
  await withIndex(options, (index) => runSteps(index, count, from));
}

/** Completes `count` steps, then abandons the index without closing it, as a crash does. */
async function completeStepsThenCrash(
  count: number,
  options: Partial<IdempotencyIndexOptions> = {},
) {
  const index = new IdempotencyIndex({ dir, locks: new MemoryLocks(), ...options });
  await index.initialize();
  await runSteps(index, count, 0);
}

const ENDINGS = [
  ["a clean shutdown", completeSteps],
  ["a crash", completeStepsThenCrash],
] as const;

/** Every file under `dir` with its SHA-256, so a test can assert nothing changed. */
async function fingerprint(): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    result[path.slice(dir.length)] = createHash("sha256")
      .update(await readFile(path))
      .digest("hex");
  }
  return result;
}

async function journalNames(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => /^journal\.\d+\.jsonl$/.test(name)).sort();
}

async function flipBitInLine(file: string, lineNumber: number): Promise<void> {
  const path = join(dir, file);
  const bytes = await readFile(path);
  let start = 0;
  for (let line = 1; line < lineNumber; line += 1) start = bytes.indexOf(0x0a, start) + 1;
  // A byte in the middle of the line, inside the record: a flipped bit there is
  // still text, only the checksum can tell.
  const end = bytes.indexOf(0x0a, start);
  const at = start + Math.floor((end - start) * 0.7);
  bytes[at] = (bytes[at] as number) ^ 0x01;
  await writeFile(path, bytes);
}

async function initializeError(options: Partial<IdempotencyIndexOptions> = {}) {
  const index = new IdempotencyIndex({ dir, ...options });
  const error = await index.initialize().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  await index.close();
  return error;
}

describe("damage in the middle of a journal", () => {
  it.each(ENDINGS)(
    "a flipped bit in line 3 is reported with its file and line, and nothing is changed (after %s)",
    async (_, finish) => {
      await finish(5);
      const [journal] = await journalNames();
      await flipBitInLine(journal as string, 3);
      const before = await fingerprint();
      const error = await initializeError();
      expect(IndexCorruptError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({
        code: "INDEX_CORRUPT",
        file: join(dir, journal as string),
        line: 3,
      });
      expect((error as Error).message).toContain(`${journal}`);
      expect((error as Error).message).toContain("line 3");
      expect(await fingerprint()).toEqual(before);
      // Refused again on the next attempt: damage is not forgotten.
      expect(await initializeError()).toMatchObject({ code: "INDEX_CORRUPT", line: 3 });
    },
  );

  it("a flipped bit in the last complete line is damage, not a torn tail", async () => {
    await completeSteps(2);
    const [journal] = await journalNames();
    const lines = (await readFile(join(dir, journal as string), "utf8")).split("\n").length - 1;
    await flipBitInLine(journal as string, lines);
    const before = await fingerprint();
    expect(await initializeError()).toMatchObject({ code: "INDEX_CORRUPT", line: lines });
    expect(await fingerprint()).toEqual(before);
  });

  it("garbage appended after the last line is damage, not a torn tail", async () => {
    await completeSteps(2);
    const [journal] = await journalNames();
    const path = join(dir, journal as string);
    await writeFile(path, Buffer.concat([await readFile(path), Buffer.from("garbage")]));
    const before = await fingerprint();
    expect(await initializeError()).toMatchObject({
      code: "INDEX_CORRUPT",
      file: join(dir, journal as string),
    });
    expect(await fingerprint()).toEqual(before);
  });

  it("a last line whose newline was flipped is damage (its record is complete)", async () => {
    await completeSteps(2);
    const [journal] = await journalNames();
    const path = join(dir, journal as string);
    const bytes = await readFile(path);
    bytes[bytes.length - 1] = 0x0b;
    await writeFile(path, bytes);
    expect(await initializeError()).toMatchObject({
      code: "INDEX_CORRUPT",
      file: join(dir, journal as string),
    });
  });

  it("still cuts a torn tail (an incomplete last line) and keeps every record before it", async () => {
    await completeSteps(3);
    const [journal] = await journalNames();
    const path = join(dir, journal as string);
    const good = await readFile(path);
    const firstLine = good.subarray(0, good.indexOf(0x0a) + 1);
    await writeFile(path, Buffer.concat([good, firstLine.subarray(0, 30)]));
    await withIndex({}, async (index) => {
      expect(index.size).toBe(3);
    });
    expect((await readFile(path)).subarray(0, good.length)).toEqual(good);
  });
});

describe("a journal cut short while a snapshot says more existed", () => {
  it.each(ENDINGS)(
    "the active journal truncated to 0 after a compaction is detected (after %s)",
    async (_, finish) => {
      await finish(12, { compactionThreshold: 5 });
      const journals = await journalNames();
      const active = journals.at(-1) as string;
      await truncate(join(dir, active), 0);
      const error = await initializeError();
      expect(IndexCorruptError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ file: join(dir, active) });
    },
  );

  it.each(ENDINGS)(
    "a journal truncated to 0 on a fresh directory (no compaction yet) is detected (after %s)",
    async (_, finish) => {
      await finish(5);
      const [journal] = await journalNames();
      await truncate(join(dir, journal as string), 0);
      const before = await fingerprint();
      expect(await initializeError()).toMatchObject({
        code: "INDEX_CORRUPT",
        file: join(dir, journal as string),
      });
      expect(await fingerprint()).toEqual(before);
    },
  );

  it("after a clean shutdown, the journal cut in half costs no entry (the snapshot holds them all)", async () => {
    await completeSteps(5);
    const [journal] = await journalNames();
    const path = join(dir, journal as string);
    const { length } = await readFile(path);
    await truncate(path, Math.floor(length / 2));
    await withIndex({}, async (index) => {
      expect(index.size).toBe(5);
      for (let n = 0; n < 5; n += 1) {
        const key = index.generateKey("add_labels", "acme/widgets", `issue-${n}`, { n });
        expect(await index.check(key)).toMatchObject({ status: "completed", result: { n } });
      }
      // Appending after the cut leaves a gap in the journal's seqs that the snapshot covers.
      await index.markPending("after-the-cut", 6);
    });
    await withIndex({}, async (index) => {
      expect(index.size).toBe(6);
      expect(await index.check("after-the-cut")).toMatchObject({ status: "pending" });
    });
  });

  it("a deleted journal that the snapshot continues from is detected", async () => {
    await completeSteps(12, { compactionThreshold: 5 });
    const active = (await journalNames()).at(-1) as string;
    await rm(join(dir, active));
    expect(await initializeError()).toMatchObject({
      code: "INDEX_CORRUPT",
      file: join(dir, active),
    });
  });

  it("an older journal cut in half (not the tail of the history) is damage", async () => {
    await completeStepsThenCrash(12, { compactionThreshold: 5 });
    const journals = await journalNames();
    expect(journals.length).toBeGreaterThanOrEqual(2);
    const older = journals.at(-2) as string;
    const path = join(dir, older);
    const { length } = await readFile(path);
    await truncate(path, Math.floor(length / 2));
    const before = await fingerprint();
    expect(await initializeError()).toMatchObject({
      code: "INDEX_CORRUPT",
      file: join(dir, older),
    });
    expect(await fingerprint()).toEqual(before);
  });
});

describe("a damaged snapshot never forgets completed keys", () => {
  it.each(ENDINGS)(
    "snapshot.json truncated to half: all 30 completed keys survive (after %s)",
    async (_, finish) => {
      await finish(30, { compactionThreshold: 5 });
      const path = join(dir, "snapshot.json");
      const { length } = await readFile(path);
      await truncate(path, Math.floor(length / 2));
      await withIndex({ compactionThreshold: 5 }, async (index) => {
        expect(index.size).toBe(30);
        for (let n = 0; n < 30; n += 1) {
          const key = index.generateKey("add_labels", "acme/widgets", `issue-${n}`, { n });
          expect(await index.markPending(key, 100 + n)).toMatchObject({
            claimed: false,
            reason: "completed",
          });
        }
      });
    },
  );

  it("keeps the .bak's journals through many compactions, so any one damaged snapshot loses nothing", async () => {
    let total = 0;
    for (let round = 0; round < 4; round += 1) {
      await completeSteps(8 + round * 7, { compactionThreshold: 3 }, total);
      total += 8 + round * 7;
      for (const victim of ["snapshot.json", "snapshot.json.bak"]) {
        const copyDir = await mkdtemp(join(tmpdir(), "idem-damage-copy-"));
        try {
          for (const name of await readdir(dir)) {
            if (name === "locks") continue;
            await writeFile(join(copyDir, name), await readFile(join(dir, name)));
          }
          const path = join(copyDir, victim);
          const { length } = await readFile(path).catch(() => Buffer.alloc(0));
          if (length > 0) await truncate(path, Math.floor(length / 2));
          const index = new IdempotencyIndex({ dir: copyDir, compactionThreshold: 3 });
          await index.initialize();
          expect(index.size, `round ${round}, ${victim} damaged`).toBe(total);
          await index.close();
        } finally {
          await rm(copyDir, { recursive: true, force: true });
        }
      }
    }
  });

  it("both snapshot files lost while the journals start late: missing records are reported", async () => {
    await completeSteps(30, { compactionThreshold: 5 });
    await rm(join(dir, "snapshot.json"));
    await rm(join(dir, "snapshot.json.bak"));
    const error = await initializeError();
    expect(IndexCorruptError.isInstance(error)).toBe(true);
    expect((error as IndexCorruptError).detail).toMatch(/missing/);
  });
});

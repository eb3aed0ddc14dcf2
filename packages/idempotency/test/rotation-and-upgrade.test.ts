import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFaultyFileSystem, ManualClock } from "@beauvoir/core";
import { ResilientJsonStore } from "@beauvoir/resilient-store";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryLocks } from "../src/__fixtures__/memory-dependencies.js";
import type { IdempotencyEntry } from "../src/entry.js";
import { IdempotencyIndex } from "../src/idempotency-index.js";
import { decodeJournal, encodeJournalLine, type JournalRecord } from "../src/journal-format.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "idem-rotation-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entry = (key: string, status: IdempotencyEntry["status"], seq: number): IdempotencyEntry => ({
  key,
  status,
  intentSeq: seq,
  strategy: "skip",
  action: "a",
  createdAt: 1,
  updatedAt: 1,
});

/** A directory as 0.1 wrote it: journals without a header, a format-1 snapshot. */
async function writeVersion01(records: JournalRecord[], tail = ""): Promise<void> {
  await writeFile(join(dir, "journal.0.jsonl"), records.map(encodeJournalLine).join("") + tail);
}

describe("directories written by 0.1", () => {
  it("open with every entry, cutting a torn tail, and go on in a journal with a header", async () => {
    await writeVersion01(
      [
        { seq: 1, type: "put", entry: entry("a", "pending", 1) },
        { seq: 2, type: "put", entry: entry("a", "completed", 1) },
        { seq: 3, type: "put", entry: entry("b", "pending", 2) },
      ],
      '{"sum":"0f',
    );
    const index = new IdempotencyIndex({ dir });
    await index.initialize();
    expect(await index.check("a")).toMatchObject({ status: "completed" });
    expect(await index.check("b")).toMatchObject({ status: "pending" });
    const names = (await readdir(dir)).filter((name) => name.startsWith("journal."));
    expect(names.sort()).toEqual(["journal.0.jsonl", "journal.1.jsonl"]);
    expect(decodeJournal(await readFile(join(dir, "journal.0.jsonl"))).tornTail).toBeUndefined();
    expect(decodeJournal(await readFile(join(dir, "journal.1.jsonl"))).header).toEqual({
      format: 2,
      generation: 1,
      afterSeq: 3,
    });
    await index.markCompleted("b");
    await index.close();
    // Two snapshots now hold everything journal.0 held: it is gone.
    expect((await readdir(dir)).filter((name) => name.startsWith("journal."))).toEqual([
      "journal.1.jsonl",
    ]);
    const again = new IdempotencyIndex({ dir });
    await again.initialize();
    expect(await again.check("b")).toMatchObject({ status: "completed" });
    await again.close();
  });

  it("accepts a last record whose newline is missing, and appends after it", async () => {
    const index = new IdempotencyIndex({ dir });
    await index.initialize();
    await index.markPending("a", 1);
    await index.close();
    const [journal] = (await readdir(dir)).filter((name) => name.endsWith(".jsonl"));
    const path = join(dir, journal as string);
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 1));
    const fresh = new IdempotencyIndex({ dir });
    await fresh.initialize();
    expect(await fresh.check("a")).toMatchObject({ status: "pending" });
    await fresh.markCompleted("a");
    await fresh.close();
    const third = new IdempotencyIndex({ dir });
    await third.initialize();
    expect(await third.check("a")).toMatchObject({ status: "completed" });
    await third.close();
  });
});

describe("a rotation that fails", () => {
  function rotatingIndex(inject: (operation: string, path: string) => string | undefined) {
    const clock = new ManualClock(1);
    const fs = createFaultyFileSystem({
      inject: ({ operation, path }) => {
        const code = inject(operation, path);
        return code === undefined ? undefined : { error: code };
      },
    });
    const store = new ResilientJsonStore<never>({ path: join(dir, "snapshot.json"), fs, clock });
    return new IdempotencyIndex({
      dir,
      fs,
      store,
      clock,
      locks: new MemoryLocks(),
      compactionThreshold: 2,
    });
  }

  it("before the new journal is linked: the old journal goes on, nothing is lost", async () => {
    let failing = false;
    const index = rotatingIndex((operation, path) =>
      failing && operation === "write" && path.endsWith(".jsonl.tmp") ? "ENOSPC" : undefined,
    );
    await index.initialize();
    failing = true;
    for (let n = 0; n < 8; n += 1) await index.markPending(`k${n}`, n);
    failing = false;
    await index.markPending("after", 9);
    await index.close();
    expect((await readdir(dir)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
    const fresh = new IdempotencyIndex({ dir });
    await fresh.initialize();
    expect(fresh.size).toBe(9);
    await fresh.close();
  });

  it("after the link (the directory fsync failed): the index fails stop, the disk stays consistent", async () => {
    let armed = false;
    let rotations = 0;
    const index = rotatingIndex((operation, path) => {
      if (armed && operation === "link" && path.endsWith(".jsonl.tmp")) rotations += 1;
      return rotations > 0 && operation === "fsyncDirectory" ? "EIO" : undefined;
    });
    await index.initialize();
    armed = true;
    const resolved: string[] = [];
    let stopped: unknown;
    for (let n = 0; n < 10 && stopped === undefined; n += 1) {
      await index.markPending(`k${n}`, n).then(
        () => resolved.push(`k${n}`),
        (error: unknown) => {
          stopped = error;
        },
      );
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(rotations).toBe(1);
    expect(stopped).toMatchObject({ code: "FAIL_STOPPED" });
    await index.close();
    const fresh = new IdempotencyIndex({ dir });
    await fresh.initialize();
    for (const key of resolved)
      expect(await fresh.check(key), key).toMatchObject({ status: "pending" });
    await fresh.markPending("after", 99);
    await fresh.close();
  });
});

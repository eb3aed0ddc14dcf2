import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FailStoppedError } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FaultHook, faultyFileSystem } from "./__fixtures__/faulty-file-system.js";
import { JournalWriteError } from "./errors.js";
import { decodeJournal, type JournalDraft, type JournalRecord } from "./journal-format.js";
import { JournalWriter } from "./journal-writer.js";

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "idem-writer-"));
  path = join(dir, "journal.0.jsonl");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function openWriter(hook: FaultHook = () => undefined, lastSeq = 0) {
  const fs = faultyFileSystem(hook);
  const handle = await fs.open(path, "a");
  return new JournalWriter(handle, path, 0, lastSeq);
}

const draft = (key: string): JournalDraft => ({ type: "reset", key });

async function keysOnDisk(file = path): Promise<Array<[number, string]>> {
  const decoded = decodeJournal(await readFile(file));
  return decoded.lines.flatMap((line) =>
    line.kind === "record" && line.record.type === "reset"
      ? [[line.record.seq, line.record.key] as [number, string]]
      : [],
  );
}

describe("JournalWriter", () => {
  it("shares one fsync among records appended together (group commit) and numbers them", async () => {
    let syncs = 0;
    const writer = await openWriter((operation) => {
      if (operation === "sync") syncs += 1;
      return undefined;
    }, 10);
    const first = await Promise.all(
      Array.from({ length: 50 }, (_, n) => writer.append(draft(`a${n}`))),
    );
    expect(syncs).toBe(1);
    expect(first.map((record) => record.seq)).toEqual(Array.from({ length: 50 }, (_, n) => 11 + n));
    await Promise.all(Array.from({ length: 5 }, (_, n) => writer.append(draft(`b${n}`))));
    expect(syncs).toBe(2);
    expect(writer.lastSeq).toBe(65);
    await writer.close();
    const onDisk = await keysOnDisk();
    expect(onDisk).toHaveLength(55);
    expect(onDisk[0]).toEqual([11, "a0"]);
    expect(onDisk[54]).toEqual([65, "b4"]);
  });

  it("cuts back a batch whose write failed, reuses its seqs and keeps working", async () => {
    let failWrite = true;
    const writer = await openWriter((operation) => {
      if (operation === "write" && failWrite) {
        failWrite = false;
        throw Object.assign(new Error("ENOSPC"), { code: "ENOSPC" });
      }
      return undefined;
    });
    const seen: string[] = [];
    const failure = await writer
      .append(draft("a"), () => seen.push("a"))
      .catch((error: unknown) => error);
    expect(JournalWriteError.isInstance(failure)).toBe(true);
    expect((failure as JournalWriteError).path).toBe(path);
    const record = await writer.append(draft("b"), (durable) => seen.push(`b${durable.seq}`));
    expect(record.seq).toBe(1);
    expect(seen).toEqual(["b1"]);
    await writer.close();
    expect(await keysOnDisk()).toEqual([[1, "b"]]);
  });

  it("fails stop on a failed fsync: cuts the batch back out, never fsyncs it again, refuses every later call", async () => {
    let syncs = 0;
    let failSync = true;
    const writer = await openWriter((operation) => {
      if (operation === "sync") {
        syncs += 1;
        if (failSync) {
          failSync = false;
          throw Object.assign(new Error("EIO"), { code: "EIO" });
        }
      }
      return undefined;
    });
    const failure = await writer.append(draft("a")).catch((error: unknown) => error);
    expect(FailStoppedError.isInstance(failure)).toBe(true);
    expect(failure).toMatchObject({ code: "FAIL_STOPPED", path, cause: { code: "EIO" } });
    expect(writer.failure).toBe(failure);
    // The batch is cut (and the cut fsynced), so the file reads back as the disk holds it.
    expect((await readFile(path)).length).toBe(0);
    expect(syncs).toBe(2);
    await expect(writer.append(draft("b"))).rejects.toBe(failure);
    await expect(writer.exclusive(async () => {})).rejects.toBe(failure);
    expect(syncs).toBe(2);
    await writer.close();
  });

  it("fails stop on a failed fsync whose cut fails too, saying so in the cause", async () => {
    const writer = await openWriter((operation) => {
      if (operation === "sync") throw Object.assign(new Error("EIO"), { code: "EIO" });
      return undefined;
    });
    const failure = await writer.append(draft("a")).catch((error: unknown) => error);
    expect(failure).toMatchObject({
      code: "FAIL_STOPPED",
      cause: { errors: [{ code: "EIO" }, { code: "EIO" }] },
    });
    await writer.close();
  });

  it("fails stop when a failed write cannot be cut back", async () => {
    const writer = await openWriter((operation) => {
      if (operation === "write" || operation === "truncate") throw new Error("EIO");
      return undefined;
    });
    await expect(writer.append(draft("a"))).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await expect(writer.append(draft("b"))).rejects.toMatchObject({ code: "FAIL_STOPPED" });
  });

  it("rejects records queued behind a batch that stopped the writer", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const fs = faultyFileSystem((operation) => {
      if (operation === "sync") throw new Error("EIO");
      return undefined;
    });
    const handle = await fs.open(path, "a");
    const slow = {
      ...handle,
      write: async (...args: Parameters<typeof handle.write>) => {
        await gate;
        return handle.write(...args);
      },
    };
    const writer = new JournalWriter(slow, path, 0, 0);
    const first = writer.append(draft("a"));
    await Promise.resolve();
    await Promise.resolve();
    const second = writer.append(draft("b"));
    const task = writer.exclusive(async () => {});
    release();
    await expect(first).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await expect(second).rejects.toMatchObject({ code: "FAIL_STOPPED" });
    await expect(task).rejects.toMatchObject({ code: "FAIL_STOPPED" });
  });

  it("rejects only a record that cannot be encoded", async () => {
    const writer = await openWriter();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad = writer.append({
      type: "put",
      entry: { key: "k", result: cyclic } as unknown as Extract<
        JournalRecord,
        { type: "put" }
      >["entry"],
    });
    const good = writer.append(draft("ok"));
    await expect(bad).rejects.toThrow(TypeError);
    expect((await good).seq).toBe(1);
    await writer.close();
  });

  it("loops on short writes, and gives up after three in a row", async () => {
    let limit: number | undefined = 30;
    const writer = await openWriter((operation) => (operation === "write" ? limit : undefined));
    await writer.append(draft("short"));
    limit = 1;
    const failure = await writer.append(draft("x".repeat(40))).catch((error: unknown) => error);
    expect(JournalWriteError.isInstance(failure)).toBe(true);
    expect(String((failure as Error).cause)).toMatch(/short writes/);
    limit = undefined;
    await writer.append(draft("ok"));
    await writer.close();
    expect(await keysOnDisk()).toEqual([
      [1, "short"],
      [2, "ok"],
    ]);
  });

  it("runs exclusive tasks between batches and can switch files", async () => {
    const writer = await openWriter();
    const order: string[] = [];
    const next = join(dir, "journal.1.jsonl");
    const first = writer.append(draft("one"), () => order.push("one"));
    const task = writer.exclusive(async () => {
      order.push(`task after ${writer.lastSeq}`);
      const handle = await faultyFileSystem(() => undefined).open(next, "a");
      const previous = writer.replaceFile(handle, next, 0);
      await previous.close();
    });
    const second = writer.append(draft("two"), () => order.push("two"));
    await Promise.all([first, task, second]);
    expect(order).toEqual(["one", "task after 1", "two"]);
    expect(writer.path).toBe(next);
    await writer.close();
    expect(await keysOnDisk()).toEqual([[1, "one"]]);
    expect(await keysOnDisk(next)).toEqual([[2, "two"]]);
  });

  it("passes a failing exclusive task's error to its caller only", async () => {
    const writer = await openWriter();
    await expect(writer.exclusive(async () => Promise.reject(new Error("nope")))).rejects.toThrow(
      "nope",
    );
    await writer.append(draft("still fine"));
    await writer.close();
    expect(await keysOnDisk()).toEqual([[1, "still fine"]]);
  });

  it("waits for queued records on close, then refuses", async () => {
    const writer = await openWriter();
    const pending = writer.append(draft("last"));
    await writer.close();
    await pending;
    await writer.close();
    await expect(writer.append(draft("late"))).rejects.toMatchObject({
      code: "INDEX_NOT_OPEN",
      reason: "closed",
    });
    expect(await keysOnDisk()).toEqual([[1, "last"]]);
  });
});

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FaultHook, faultyFileSystem } from "./__fixtures__/faulty-file-system.js";
import { IndexNotOpenError, JournalWriteError } from "./errors.js";
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

async function openWriter(hook: FaultHook = () => undefined) {
  const fs = faultyFileSystem(hook);
  const handle = await fs.open(path, "a");
  return new JournalWriter(handle, path, 0);
}

describe("JournalWriter", () => {
  it("shares one fsync among lines appended together (group commit)", async () => {
    let syncs = 0;
    const writer = await openWriter((operation) => {
      if (operation === "sync") syncs += 1;
      return undefined;
    });
    await Promise.all(Array.from({ length: 50 }, (_, index) => writer.append(`line ${index}\n`)));
    expect(syncs).toBe(1);
    await Promise.all(Array.from({ length: 5 }, (_, index) => writer.append(`more ${index}\n`)));
    expect(syncs).toBe(2);
    await writer.close();
    const lines = (await readFile(path, "utf8")).trimEnd().split("\n");
    expect(lines).toHaveLength(55);
    expect(lines[0]).toBe("line 0");
    expect(lines[54]).toBe("more 4");
  });

  it("runs onDurable before the promise resolves and only on success", async () => {
    let failSync = true;
    const writer = await openWriter((operation) => {
      if (operation === "sync" && failSync) {
        failSync = false;
        throw new Error("EIO");
      }
      return undefined;
    });
    const seen: string[] = [];
    await expect(writer.append("a\n", () => seen.push("a"))).rejects.toBeInstanceOf(
      JournalWriteError,
    );
    await writer.append("b\n", () => seen.push("b"));
    expect(seen).toEqual(["b"]);
    await writer.close();
    // The failed batch was cut off, so the file holds only the durable line.
    expect(await readFile(path, "utf8")).toBe("b\n");
  });

  it("loops on short writes", async () => {
    const writer = await openWriter((operation) => (operation === "write" ? 3 : undefined));
    await writer.append("0123456789\n");
    await writer.close();
    expect(await readFile(path, "utf8")).toBe("0123456789\n");
  });

  it("gives up after three short writes in a row and cuts the partial bytes", async () => {
    let limit: number | undefined = 1;
    const writer = await openWriter((operation) => (operation === "write" ? limit : undefined));
    const failure = await writer.append("0123456789\n").catch((error: unknown) => error);
    expect(JournalWriteError.isInstance(failure)).toBe(true);
    expect((failure as JournalWriteError).path).toBe(path);
    expect(String((failure as Error).cause)).toMatch(/short writes/);
    limit = undefined;
    await writer.append("ok\n");
    await writer.close();
    expect(await readFile(path, "utf8")).toBe("ok\n");
  });

  it("refuses all work once the file cannot be cut back", async () => {
    const writer = await openWriter((operation) => {
      if (operation === "sync" || operation === "truncate") throw new Error("EIO");
      return undefined;
    });
    await expect(writer.append("a\n")).rejects.toBeInstanceOf(JournalWriteError);
    const refused = await writer.append("b\n").catch((error: unknown) => error);
    expect(IndexNotOpenError.isInstance(refused)).toBe(true);
    expect((refused as IndexNotOpenError).reason).toBe("broken");
    await expect(writer.exclusive(async () => {})).rejects.toMatchObject({
      code: "INDEX_NOT_OPEN",
    });
  });

  it("rejects lines queued behind a batch that broke the writer", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const fs = faultyFileSystem((operation) => {
      if (operation === "sync" || operation === "truncate") throw new Error("EIO");
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
    const writer = new JournalWriter(slow, path, 0);
    const first = writer.append("a\n");
    await Promise.resolve();
    await Promise.resolve();
    const second = writer.append("b\n");
    release();
    await expect(first).rejects.toBeInstanceOf(JournalWriteError);
    await expect(second).rejects.toMatchObject({ code: "INDEX_NOT_OPEN", reason: "broken" });
  });

  it("runs exclusive tasks between batches and can switch files", async () => {
    const writer = await openWriter();
    const order: string[] = [];
    const first = writer.append("one\n", () => order.push("one"));
    const task = writer.exclusive(async () => {
      order.push("task");
      const fs = faultyFileSystem(() => undefined);
      const next = await fs.open(join(dir, "journal.1.jsonl"), "a");
      const previous = writer.replaceFile(next, join(dir, "journal.1.jsonl"), 0);
      await previous.close();
    });
    const second = writer.append("two\n", () => order.push("two"));
    await Promise.all([first, task, second]);
    expect(order).toEqual(["one", "task", "two"]);
    expect(writer.path).toBe(join(dir, "journal.1.jsonl"));
    await writer.close();
    expect(await readFile(path, "utf8")).toBe("one\n");
    expect(await readFile(join(dir, "journal.1.jsonl"), "utf8")).toBe("two\n");
  });

  it("passes a failing exclusive task's error to its caller only", async () => {
    const writer = await openWriter();
    await expect(writer.exclusive(async () => Promise.reject(new Error("nope")))).rejects.toThrow(
      "nope",
    );
    await writer.append("still fine\n");
    await writer.close();
    expect(await readFile(path, "utf8")).toBe("still fine\n");
  });

  it("waits for queued lines on close, then refuses", async () => {
    const writer = await openWriter();
    const pending = writer.append("last\n");
    await writer.close();
    await pending;
    await writer.close();
    await expect(writer.append("late\n")).rejects.toMatchObject({
      code: "INDEX_NOT_OPEN",
      reason: "closed",
    });
    expect(await readFile(path, "utf8")).toBe("last\n");
  });
});

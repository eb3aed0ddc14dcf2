import { describe, expect, it } from "vitest";
import type { IdempotencyEntry } from "./entry.js";
import { decodeJournal, encodeJournalLine, type JournalRecord } from "./journal-format.js";

const entry = (key: string): IdempotencyEntry => ({
  key,
  status: "pending",
  intentSeq: 1,
  strategy: "skip",
  action: "a",
  createdAt: 1,
  updatedAt: 1,
});

const records: JournalRecord[] = [
  { seq: 1, type: "put", entry: entry("a:x/y:1") },
  {
    seq: 2,
    type: "put",
    entry: { ...entry("a:x/y:1"), status: "completed", result: { ok: "ünïcødé\n" } },
  },
  { seq: 5, type: "evict", keys: ["a:x/y:1"] },
];

const encode = (list: JournalRecord[]) => Buffer.from(list.map(encodeJournalLine).join(""), "utf8");

describe("journal format", () => {
  it("round-trips records, one checksummed line each", () => {
    const bytes = encode(records);
    expect(bytes.toString().split("\n")).toHaveLength(4);
    const decoded = decodeJournal(bytes);
    expect(decoded.records).toEqual(records);
    expect(decoded.validBytes).toBe(bytes.length);
    expect(decoded.droppedBytes).toBe(0);
    expect(decoded.problem).toBeUndefined();
  });

  it("drops a torn last line at every cut point", () => {
    const bytes = encode(records);
    const firstTwo = encode(records.slice(0, 2)).length;
    for (let cut = firstTwo + 1; cut < bytes.length; cut += 1) {
      const decoded = decodeJournal(bytes.subarray(0, cut));
      expect(decoded.records).toEqual(records.slice(0, 2));
      expect(decoded.validBytes).toBe(firstTwo);
      expect(decoded.droppedBytes).toBe(cut - firstTwo);
      expect(decoded.problem).toBeDefined();
    }
  });

  it("stops at a line whose checksum does not match", () => {
    const text = encode(records).toString().replace('"intentSeq":1', '"intentSeq":7');
    const decoded = decodeJournal(Buffer.from(text));
    expect(decoded.records).toEqual([]);
    expect(decoded.problem).toBe("checksum mismatch");
  });

  it("stops at malformed lines, unknown shapes and sequence regressions", () => {
    const good = encodeJournalLine(records[0] as JournalRecord);
    expect(decodeJournal(Buffer.from(`${good}garbage\n`)).problem).toBe("malformed line");
    expect(decodeJournal(Buffer.from(`${good}{"sum":"0123456789abcdef"xx}\n`)).problem).toBe(
      "malformed line",
    );
    const unknown = encodeJournalLine({ seq: 2, type: "other" } as unknown as JournalRecord);
    expect(decodeJournal(Buffer.from(good + unknown)).problem).toBe("unknown record shape");
    const badEntry = encodeJournalLine({
      seq: 2,
      type: "put",
      entry: { key: 3 },
    } as unknown as JournalRecord);
    expect(decodeJournal(Buffer.from(good + badEntry)).problem).toBe("unknown record shape");
    const badKeys = encodeJournalLine({
      seq: 2,
      type: "evict",
      keys: [1],
    } as unknown as JournalRecord);
    expect(decodeJournal(Buffer.from(good + badKeys)).problem).toBe("unknown record shape");
    const zeroSeq = encodeJournalLine({ ...records[0], seq: 0 } as JournalRecord);
    expect(decodeJournal(Buffer.from(zeroSeq)).problem).toBe("unknown record shape");
    const regress = decodeJournal(
      encode([records[1] as JournalRecord, records[0] as JournalRecord]),
    );
    expect(regress.records).toHaveLength(1);
    expect(regress.problem).toMatch(/sequence went from 2 back to 1/);
  });

  it("reports invalid JSON that happens to carry a matching checksum", async () => {
    const { createHash } = await import("node:crypto");
    const body = "{not json";
    const sum = createHash("sha256").update(body).digest("hex").slice(0, 16);
    expect(decodeJournal(Buffer.from(`{"sum":"${sum}","record":${body}}\n`)).problem).toBe(
      "invalid JSON",
    );
  });

  it("decodes an empty file", () => {
    expect(decodeJournal(Buffer.alloc(0))).toEqual({ records: [], validBytes: 0, droppedBytes: 0 });
  });
});

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { IdempotencyEntry } from "./entry.js";
import {
  applyRecord,
  type DecodedLine,
  decodeJournal,
  encodeJournalHeader,
  encodeJournalLine,
  type JournalRecord,
} from "./journal-format.js";

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
  { seq: 3, type: "evict", keys: ["a:x/y:1"] },
  { seq: 4, type: "reset", key: "a:x/y:1" },
];

const header = encodeJournalHeader({ format: 2, generation: 3, afterSeq: 0 });
const encode = (list: JournalRecord[]) =>
  Buffer.from(header + list.map(encodeJournalLine).join(""), "utf8");
const recordsOf = (lines: readonly DecodedLine[]) =>
  lines.flatMap((line) => (line.kind === "record" ? [line.record] : []));
const badLines = (lines: readonly DecodedLine[]) =>
  lines.flatMap((line) => (line.kind === "bad" ? [[line.line, line.detail]] : []));

describe("journal format", () => {
  it("round-trips a header and records, one checksummed line each", () => {
    const bytes = encode(records);
    expect(bytes.toString().split("\n")).toHaveLength(6);
    const decoded = decodeJournal(bytes);
    expect(decoded.header).toEqual({ format: 2, generation: 3, afterSeq: 0 });
    expect(recordsOf(decoded.lines)).toEqual(records);
    expect(decoded.lines.map((line) => line.line)).toEqual([1, 2, 3, 4, 5]);
    expect(decoded.tornTail).toBeUndefined();
    expect(decoded.missingNewline).toBe(false);
    expect(decoded.length).toBe(bytes.length);
  });

  it("reads a journal without a header (written by 0.1)", () => {
    const decoded = decodeJournal(Buffer.from(records.map(encodeJournalLine).join("")));
    expect(decoded.header).toBeUndefined();
    expect(recordsOf(decoded.lines)).toEqual(records);
  });

  it("calls a torn last line a torn tail at every cut point, never damage", () => {
    const bytes = encode(records);
    const firstThree = encode(records.slice(0, 3)).length;
    for (let cut = firstThree + 1; cut < bytes.length - 1; cut += 1) {
      const decoded = decodeJournal(bytes.subarray(0, cut));
      expect(recordsOf(decoded.lines)).toEqual(records.slice(0, 3));
      expect(badLines(decoded.lines)).toEqual([]);
      expect(decoded.tornTail).toEqual({ line: 5, offset: firstThree });
    }
  });

  it("accepts a complete last record whose newline is missing", () => {
    const bytes = encode(records);
    const decoded = decodeJournal(bytes.subarray(0, bytes.length - 1));
    expect(recordsOf(decoded.lines)).toEqual(records);
    expect(decoded.missingNewline).toBe(true);
    expect(decoded.tornTail).toBeUndefined();
  });

  it("calls zeros after the last line a torn tail (a filesystem that extended the file)", () => {
    const decoded = decodeJournal(Buffer.concat([encode(records), Buffer.alloc(700)]));
    expect(decoded.tornTail).toMatchObject({ line: 6 });
    expect(badLines(decoded.lines)).toEqual([]);
  });

  it("reports a bad line in the middle and goes on decoding", () => {
    const text = encode(records).toString().replace('"intentSeq":1', '"intentSeq":7');
    const decoded = decodeJournal(Buffer.from(text));
    expect(badLines(decoded.lines)).toEqual([[2, "checksum mismatch"]]);
    expect(recordsOf(decoded.lines)).toEqual(records.slice(1));
  });

  it("reports what a crash cannot leave at the end of the file as damage", () => {
    const good = encode(records);
    const garbage = decodeJournal(Buffer.concat([good, Buffer.from("garbage")]));
    expect(badLines(garbage.lines)).toEqual([[6, "bytes after the last line"]]);
    expect(garbage.tornTail).toBeUndefined();
    const flipped = Buffer.from(good);
    flipped[flipped.length - 1] = 0x0b;
    expect(badLines(decodeJournal(flipped).lines)).toEqual([
      [5, "a complete line without its newline"],
    ]);
    const headerOnly = Buffer.from(header.slice(0, -1));
    expect(badLines(decodeJournal(headerOnly).lines)).toEqual([
      [1, "a complete line without its newline"],
    ]);
  });

  it("reports malformed lines, unknown shapes and a header out of place", () => {
    const good = encodeJournalLine(records[0] as JournalRecord);
    const shapes: Array<[string, string]> = [
      ["garbage\n", "not a journal line"],
      ['{"sum":"0123456789abcdef"xx}\n', "not a journal line"],
      [
        encodeJournalLine({ seq: 2, type: "other" } as unknown as JournalRecord),
        "unknown record shape",
      ],
      [
        encodeJournalLine({ seq: 2, type: "put", entry: { key: 3 } } as unknown as JournalRecord),
        "unknown record shape",
      ],
      [
        encodeJournalLine({
          seq: 2,
          type: "put",
          entry: { ...entry("k"), intentSeq: -1 },
        } as JournalRecord),
        "unknown record shape",
      ],
      [
        encodeJournalLine({ seq: 2, type: "evict", keys: [1] } as unknown as JournalRecord),
        "unknown record shape",
      ],
      [
        encodeJournalLine({ seq: 2, type: "reset", key: null } as unknown as JournalRecord),
        "unknown record shape",
      ],
      [encodeJournalLine({ ...records[0], seq: 0 } as JournalRecord), "unknown record shape"],
      [header, "a header after the first line"],
    ];
    for (const [line, detail] of shapes) {
      expect(badLines(decodeJournal(Buffer.from(good + line)).lines), line).toEqual([[2, detail]]);
    }
    const sum = (body: string) => createHash("sha256").update(body).digest("hex").slice(0, 16);
    const badHeader = `{"sum":"${sum('{"format":9}')}","journal":{"format":9}}\n`;
    expect(badLines(decodeJournal(Buffer.from(badHeader)).lines)).toEqual([
      [1, "unknown header shape"],
    ]);
    const notJson = `{"sum":"${sum("{not json")}","record":{not json}\n`;
    expect(badLines(decodeJournal(Buffer.from(notJson)).lines)).toEqual([
      [1, "invalid JSON under a valid checksum"],
    ]);
  });

  it("decodes an empty file", () => {
    expect(decodeJournal(Buffer.alloc(0))).toEqual({
      header: undefined,
      lines: [],
      tornTail: undefined,
      missingNewline: false,
      length: 0,
    });
  });

  it("applies puts, evictions and resets", () => {
    const entries = new Map<string, IdempotencyEntry>();
    applyRecord(entries, records[1] as JournalRecord);
    expect(entries.get("a:x/y:1")).toMatchObject({ status: "completed" });
    expect(Object.isFrozen(entries.get("a:x/y:1"))).toBe(true);
    applyRecord(entries, records[2] as JournalRecord);
    expect(entries.size).toBe(0);
    applyRecord(entries, records[0] as JournalRecord);
    applyRecord(entries, records[3] as JournalRecord);
    expect(entries.size).toBe(0);
  });
});

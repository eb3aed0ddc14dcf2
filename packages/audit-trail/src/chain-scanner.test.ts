import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildChain, forgeLine, recordObject } from "./__fixtures__/chain.js";
import { canonicalJson } from "./canonical-json.js";
import { type ScanOptions, scanChain } from "./chain-scanner.js";
import { GENESIS, sha256Hex } from "./record-line.js";

const key = Buffer.from("k3y");
const scan = (text: string, options?: ScanOptions) => scanChain(Buffer.from(text), options);

/** Intent/result pairs with nested params, a denial and a dry run: every kind of field. */
const sample = [
  {
    params: { body: "hello", meta: { labels: ["a", "b"], nested: { z: 1, a: [true, null] } } },
    dedupeKey: "k1",
  },
  { phase: "result" as const, intentSeq: 1, result: { id: 7, url: "https://x/y" } },
  { params: { n: 1.5 } },
  { phase: "result" as const, intentSeq: 3, error: "Error: boom" },
  { phase: "denied" as const, error: "policy", params: { why: ["x"] } },
  { phase: "dry_run" as const, params: { é: "ü 😀" } },
];

describe("record lines", () => {
  it("hold the canonical body, then hash, then hmac; the hash covers exactly the body", () => {
    fc.assert(
      fc.property(
        fc.record({
          params: fc.dictionary(fc.string(), fc.jsonValue()),
          result: fc.option(fc.jsonValue(), { nil: undefined }),
          error: fc.option(fc.string(), { nil: undefined }),
          action: fc.string({ minLength: 1 }),
          target: fc.string(),
          dedupeKey: fc.option(fc.string(), { nil: undefined }),
        }),
        fc.boolean(),
        (spec, signed) => {
          const { lines } = buildChain(
            [{ params: {} }, { ...spec, phase: "result", intentSeq: 1 }],
            signed ? { key } : {},
          );
          const line = lines[1]!.slice(0, -1);
          const record = JSON.parse(line);
          const { hash, hmac, ...rest } = record;
          const body = canonicalJson(rest)!;
          expect(line.startsWith(body.slice(0, -1))).toBe(true);
          expect(sha256Hex(body)).toBe(hash);
          expect(hmac !== undefined).toBe(signed);
          expect(scan(lines.join(""), signed ? { hmacKey: key } : {}).break).toBeUndefined();
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("scanChain", () => {
  it("accepts a valid chain and reports its tail, open intents and signatures", () => {
    const { text, hashes } = buildChain([...sample, { params: {} }], { key });
    const records: number[] = [];
    const result = scan(text, { hmacKey: key, onRecord: (record) => records.push(record.seq) });
    expect(result.break).toBeUndefined();
    expect(result).toMatchObject({
      records: 7,
      firstSeq: 1,
      lastSeq: 7,
      lastHash: hashes[6],
      signedRecords: 7,
    });
    expect(result.validBytes).toBe(Buffer.byteLength(text));
    expect([...result.openIntents.keys()]).toEqual([7]);
    expect(records).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("accepts an empty file", () => {
    expect(scan("")).toMatchObject({ records: 0, validBytes: 0, linesAfterBreak: 0 });
  });

  it.each([
    ["not JSON", "{nope\n", "malformed_line"],
    ["a JSON array", "[1]\n", "malformed_line"],
    ["an empty line", "\n", "malformed_line"],
    [
      "a hash that is not hex",
      `${JSON.stringify({ ...recordObject(1, GENESIS), hash: "x" })}\n`,
      "malformed_line",
    ],
  ])("stops at %s", (_name, line, reason) => {
    const { text } = buildChain([{}]);
    const result = scan(text + line + text);
    expect(result.break).toMatchObject({ reason, line: 2, seq: 2 });
    expect(result.records).toBe(1);
    expect(result.linesAfterBreak).toBe(2);
  });

  it("stops at a torn last line and counts it", () => {
    const { text, lines } = buildChain([{}, {}, {}]);
    const torn = text.slice(0, -10);
    const result = scan(torn);
    expect(result.break).toMatchObject({ reason: "malformed_line", line: 3, seq: 3 });
    expect(result.validBytes).toBe(Buffer.byteLength(lines[0]! + lines[1]!));
    expect(result.linesAfterBreak).toBe(1);
  });

  it("requires hash and hmac to be the last members, in that order", () => {
    const { lines } = buildChain([{}]);
    const record = JSON.parse(lines[0]!);
    const moved = `${JSON.stringify({ hash: record.hash, ...record })}\n`;
    expect(scan(moved).break?.reason).toBe("malformed_line");
  });

  it("detects an edited nested value as a hash mismatch at that record", () => {
    const { lines } = buildChain(sample);
    const edited = lines[0]!.replace('"z":1', '"z":2');
    expect(edited).not.toBe(lines[0]);
    const result = scan([edited, ...lines.slice(1)].join(""), { first: { kind: "head" } });
    expect(result.break).toMatchObject({ reason: "hash_mismatch", seq: 1, line: 1 });
  });

  it("rejects records with wrong field types even when their hash is right", () => {
    const cases: Record<string, unknown>[] = [
      recordObject(1, GENESIS, { phase: "bogus" }),
      recordObject(1, GENESIS, { seq: 0 }),
      recordObject(1, GENESIS, { ts: 1 }),
      recordObject(1, GENESIS, { action: 1 }),
      recordObject(1, GENESIS, { target: null }),
      recordObject(1, GENESIS, { params: [] }),
      recordObject(1, GENESIS, { dryRun: "no" }),
      recordObject(1, GENESIS, { dedupeKey: 3 }),
      recordObject(1, GENESIS, { error: {} }),
      recordObject(1, GENESIS, { previousSegmentHash: "short" }),
      recordObject(1, GENESIS, { intentSeq: 1 }),
      recordObject(1, GENESIS, { phase: "result" }),
      recordObject(1, GENESIS, { phase: "result", intentSeq: 1 }),
    ];
    for (const record of cases) {
      expect(scan(forgeLine(record)).break?.reason, JSON.stringify(record)).toBe("invalid_record");
    }
  });

  it("detects a removed record (seq gap) and a swapped one (prevHash)", () => {
    const { lines } = buildChain([{}, {}, {}]);
    expect(scan(lines[0]! + lines[2]!).break).toMatchObject({
      reason: "seq_mismatch",
      line: 2,
      seq: 2,
    });
    const first = JSON.parse(lines[0]!);
    const wrongPrev = forgeLine(recordObject(2, "a".repeat(64)));
    expect(scan(lines[0]! + wrongPrev).break).toMatchObject({
      reason: "prev_hash_mismatch",
      seq: 2,
    });
    const rightPrev = forgeLine(recordObject(2, first.hash));
    expect(scan(lines[0]! + rightPrev).break).toBeUndefined();
  });

  it("requires genesis and seq 1 at the start, unless the file continues another", () => {
    expect(scan(forgeLine(recordObject(1, "b".repeat(64)))).break?.reason).toBe(
      "prev_hash_mismatch",
    );
    expect(scan(forgeLine(recordObject(5, GENESIS))).break).toMatchObject({
      reason: "seq_mismatch",
      seq: 5,
    });
    const link = "c".repeat(64);
    const continuing = buildChain([{}, {}], { firstSeq: 5, link }).text;
    expect(scan(continuing).break).toBeUndefined();
    expect(
      scan(continuing, { first: { kind: "continues", seq: 4, hash: link } }).break,
    ).toBeUndefined();
    expect(
      scan(continuing, { first: { kind: "continues", seq: 4, hash: "d".repeat(64) } }).break,
    ).toMatchObject({
      reason: "segment_link_mismatch",
      seq: 5,
    });
    expect(
      scan(continuing, { first: { kind: "continues", seq: 3, hash: link } }).break,
    ).toMatchObject({
      reason: "seq_mismatch",
      seq: 4,
    });
    expect(scan(continuing, { first: { kind: "head" } }).break).toMatchObject({
      reason: "history_head_missing",
      seq: 1,
    });
    const notFirst = forgeLine(
      recordObject(2, JSON.parse(buildChain([{}]).lines[0]!).hash, { previousSegmentHash: link }),
    );
    expect(scan(buildChain([{}]).text + notFirst).break?.reason).toBe("invalid_record");
  });

  it("rejects a result whose intent is not open before it", () => {
    expect(
      scan(
        buildChain([{}, { phase: "result", intentSeq: 1 }, { phase: "result", intentSeq: 1 }]).text,
      ).break,
    ).toMatchObject({
      reason: "orphan_result",
      seq: 3,
    });
    expect(
      scan(buildChain([{ phase: "denied" }, { phase: "result", intentSeq: 1 }]).text).break?.reason,
    ).toBe("orphan_result");
  });

  describe("HMAC", () => {
    const signed = buildChain([{}, {}, {}], { key });
    const unsigned = buildChain([{}, {}, {}]);

    it("verifies signatures under the key and ignores them without it", () => {
      expect(scan(signed.text, { hmacKey: key }).break).toBeUndefined();
      expect(scan(signed.text).signedRecords).toBe(3);
      expect(scan(signed.text, { hmacKey: Buffer.from("other") }).break).toMatchObject({
        reason: "hmac_mismatch",
        seq: 1,
      });
    });

    it("checks signed records under the key and leaves unsigned ones to the history, unless requireHmac", () => {
      const firstUnsigned = buildChain([{}]);
      const mixed =
        firstUnsigned.lines[0]! + forgeLine(recordObject(2, firstUnsigned.hashes[0]!), key);
      // Whether an unsigned record is allowed depends on a signing switch later in the history (scanHistory).
      expect(scan(mixed, { hmacKey: key }).break).toBeUndefined();
      expect(scan(mixed, { hmacKey: key, requireHmac: true }).break).toMatchObject({
        reason: "hmac_missing",
        seq: 1,
      });
      expect(scan(unsigned.text, { requireHmac: true }).break?.reason).toBe("hmac_missing");
    });

    it("requires a signing_started record to be signed and to start signing at its own seq", () => {
      const head = buildChain([{}]);
      const switchRecord = (extra: Record<string, unknown>) =>
        recordObject(2, head.hashes[0]!, { phase: "signing_started", signedFromSeq: 2, ...extra });
      expect(
        scan(head.lines[0]! + forgeLine(switchRecord({}), key), { hmacKey: key }).break,
      ).toBeUndefined();
      expect(
        scan(head.lines[0]! + forgeLine(switchRecord({})), { hmacKey: key }).break,
      ).toMatchObject({
        reason: "invalid_record",
        seq: 2,
      });
      expect(
        scan(head.lines[0]! + forgeLine(switchRecord({ signedFromSeq: 1 }), key)).break,
      ).toMatchObject({ reason: "invalid_record" });
      expect(
        scan(forgeLine(recordObject(1, GENESIS, { signedFromSeq: 1 }), key)).break,
      ).toMatchObject({
        reason: "invalid_record",
        detail: expect.stringContaining("signedFromSeq"),
      });
    });

    it("catches a chain rewritten without the key, hashes recomputed", () => {
      const rewritten = buildChain([{ params: { evil: true } }, {}, {}], {
        key: Buffer.from("attacker"),
      });
      expect(scan(rewritten.text).break).toBeUndefined();
      expect(scan(rewritten.text, { hmacKey: key }).break).toMatchObject({
        reason: "hmac_mismatch",
        seq: 1,
      });
    });

    it("marks a last line without newline as torn, and nothing else", () => {
      const { text, lines } = buildChain([{}, {}]);
      expect(scan(text.slice(0, -10)).break).toMatchObject({
        reason: "malformed_line",
        torn: true,
        line: 2,
      });
      expect(scan(lines[0]! + "not json\n").break).not.toHaveProperty("torn");
    });
  });

  describe("any changed byte of any record breaks the chain at that record", () => {
    const check = (text: string, options: ScanOptions) => {
      const bytes = Buffer.from(text);
      const lineOf: number[] = [];
      let line = 1;
      for (const byte of bytes) {
        lineOf.push(line);
        if (byte === 10) line++;
      }
      for (let position = 0; position < bytes.length; position++) {
        for (const flip of [0x01, 0x20, 0x80]) {
          const corrupted = Buffer.from(bytes);
          corrupted[position]! ^= flip;
          const result = scanChain(corrupted, { ...options, first: { kind: "head" } });
          expect(result.break?.seq, `byte ${position} ^ ${flip}`).toBe(lineOf[position]);
        }
      }
    };

    it("without HMAC", () => check(buildChain(sample).text, {}));
    it("with HMAC, under the key", () => check(buildChain(sample, { key }).text, { hmacKey: key }));
  });

  it("reports progress", () => {
    const { text } = buildChain(Array.from({ length: 4_100 }, () => ({})));
    const seen: number[] = [];
    scan(text, { onProgress: (bytes) => seen.push(bytes) });
    expect(seen.length).toBe(3);
    expect(seen[seen.length - 1]).toBe(Buffer.byteLength(text));
  });
});

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BeauvoirError } from "@beauvoir/core";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../src/__fixtures__/helpers.js";
import { AuditTrail, verifyAuditFile } from "../src/index.js";

const keepEverything = { redactAny: (value: unknown) => value };
const key = "property key";
/** Soak runs (BEAUVOIR_SOAK) do 5,000 cases per property. */
const soakTimeout = process.env.BEAUVOIR_SOAK ? 1_800_000 : 60_000;
/** The error codes initialize() documents for a damaged file. */
const DOCUMENTED = ["AUDIT_CORRUPT", "AUDIT_READ", "AUDIT_WRITE"];

let dir: string;
let cleanup: () => Promise<void>;
let counter = 0;
const originals: Record<"plain" | "signed", Buffer> = {
  plain: Buffer.alloc(0),
  signed: Buffer.alloc(0),
};

async function writeOriginal(hmacKey: string | undefined): Promise<Buffer> {
  const path = join(dir, `original-${hmacKey ? "signed" : "plain"}.jsonl`);
  const trail = new AuditTrail({ path, hmacKey, redactor: keepEverything });
  await trail.initialize();
  for (let index = 0; index < 5; index++) {
    const seq = await trail.recordIntent({
      action: "add_issue_comment",
      target: `acme/app#${index}`,
      params: {
        body: `comment ${index} é😀`,
        meta: { labels: ["x", "y"], depth: { n: index, ok: true, none: null } },
      },
      dedupeKey: `key-${index}`,
    });
    await trail.recordResult(
      seq,
      { id: index * 10, nested: [1, { a: "b" }] },
      index === 2 ? "Error: 502" : undefined,
    );
  }
  await trail.recordDenied({ action: "merge", target: "acme/app#9", params: {}, reason: "policy" });
  await trail.recordDryRun({ action: "close", target: "acme/app#9", params: { why: "stale" } });
  await trail.close();
  return readFile(path);
}

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir());
  originals.plain = await writeOriginal(undefined);
  originals.signed = await writeOriginal(key);
});
afterAll(() => cleanup());

/** Byte edits: each sets one position (modulo the size) to a value. */
const edits = fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), {
  minLength: 1,
  maxLength: 4,
});

function corrupt(
  original: Buffer,
  changes: { at: number; value: number }[],
  cut: number | null,
): Buffer {
  const bytes = Buffer.from(original);
  for (const { at, value } of changes) bytes[at % bytes.length] = value;
  return cut === null ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
}

describe.each(["plain", "signed"] as const)("random byte corruption of a %s file", (kind) => {
  const hmacKey = kind === "signed" ? key : undefined;

  it(
    "never makes initialize() throw an undocumented error; it cuts at most a torn last line, else leaves the file untouched",
    async () => {
      await fc.assert(
        fc.asyncProperty(edits, fc.option(fc.nat(), { nil: null }), async (changes, cut) => {
          const corrupted = corrupt(originals[kind], changes, cut);
          const path = join(dir, `case-${counter++}.jsonl`);
          await writeFile(path, corrupted);
          const trail = new AuditTrail({ path, hmacKey, redactor: keepEverything });
          let report: Awaited<ReturnType<AuditTrail["initialize"]>>;
          try {
            report = await trail.initialize();
          } catch (error) {
            expect(BeauvoirError.isInstance(error)).toBe(true);
            expect(DOCUMENTED).toContain((error as BeauvoirError).code);
            expect((await readFile(path)).equals(corrupted)).toBe(true);
            return;
          }
          const kept = await readFile(path);
          // Recovery only ever cuts a torn last line: what is left is a prefix
          // of what was there, and what was cut holds no complete line.
          expect(corrupted.subarray(0, kept.length).equals(kept)).toBe(true);
          expect(kept.length + report.truncatedBytes).toBe(corrupted.length);
          expect(corrupted.subarray(kept.length).includes(10)).toBe(false);
          expect(report.recordsLost).toBeLessThanOrEqual(1);
          expect(await trail.verifyChain()).toMatchObject({ valid: true, records: report.records });
          // And the trail goes on writing a chain that verifies.
          await trail.recordIntent({ action: "after", target: "t", params: {} });
          expect(await trail.verifyChain()).toMatchObject({
            valid: true,
            records: report.records + 1,
          });
          await trail.close();
        }),
        { numRuns: process.env.BEAUVOIR_SOAK ? 5_000 : 120 },
      );
    },
    soakTimeout,
  );

  it(
    "makes verification fail at the record holding any changed byte",
    async () => {
      const original = originals[kind];
      const lineOf: number[] = [];
      let line = 1;
      for (const byte of original) {
        lineOf.push(line);
        if (byte === 10) line++;
      }
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: original.length - 1 }),
          fc.integer({ min: 1, max: 255 }),
          async (at, flip) => {
            const bytes = Buffer.from(original);
            bytes[at]! ^= flip;
            // A directory is verified as a history, whose first record must be seq 1.
            const historyDir = join(dir, `history-${counter++}`);
            await mkdir(historyDir);
            await writeFile(join(historyDir, "audit.jsonl"), bytes);
            const result = await verifyAuditFile(historyDir, { hmacKey });
            expect(result.valid).toBe(false);
            expect(result.brokenAt).toBe(lineOf[at]);
          },
        ),
        { numRuns: process.env.BEAUVOIR_SOAK ? 5_000 : 150 },
      );
    },
    soakTimeout,
  );
});

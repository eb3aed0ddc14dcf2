import { readFile, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { useAuditDirectory } from "./__fixtures__/audit-directory.js";
import { buildChain, forgeLine, type RecordSpec } from "./__fixtures__/chain.js";
import { keepEverything, recordingLogger } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";
import type { AuditTrailOptions } from "./options.js";

let path: string;
const key = Buffer.from("damage key");
const trails = useAuditDirectory((made) => {
  ({ path } = made);
});

function trailFor(options: Partial<AuditTrailOptions> = {}): AuditTrail {
  const trail = new AuditTrail({ path, redactor: keepEverything, ...options });
  trails.track(trail);
  return trail;
}

/** 2,000 records: intents with their results. */
function twoThousand(): RecordSpec[] {
  const specs: RecordSpec[] = [];
  for (let index = 0; index < 1_000; index++) {
    specs.push({ params: { index }, dedupeKey: `k-${index}` });
    specs.push({ phase: "result", intentSeq: 2 * index + 1, result: { index } });
  }
  return specs;
}

async function expectCorrupt(
  bytes: Buffer,
  expected: Record<string, unknown>,
  options: Partial<AuditTrailOptions> = {},
) {
  await writeFile(path, bytes);
  const error = await trailFor(options)
    .initialize()
    .catch((caught: unknown) => caught);
  expect(error).toMatchObject({ code: "AUDIT_CORRUPT", file: path, ...expected });
  // Nothing was cut, moved or appended: the file is byte for byte what it was.
  expect((await readFile(path)).equals(bytes)).toBe(true);
  return error;
}

describe("damage is never repaired by deleting data", () => {
  it.each([
    ["without a key", undefined],
    ["with a key", key],
  ])(
    "F1: a flipped byte inside record 1 of 2,000 (%s) rejects and leaves the file as it was",
    async (_name, hmacKey) => {
      const { text } = buildChain(twoThousand(), hmacKey ? { key: hmacKey } : {});
      const bytes = Buffer.from(text);
      // A byte inside the params of record 1.
      bytes[text.indexOf('"index":0') + 2]! ^= 0x01;
      await expectCorrupt(bytes, { line: 1, seq: 1, reason: "hash_mismatch" }, { hmacKey });
    },
  );

  it("treats a complete last line with a bad hash as damage, not as a torn write", async () => {
    const { lines } = buildChain([{}, {}, {}]);
    const last = lines[2]!.replace("acme", "acne");
    await expectCorrupt(Buffer.from(lines[0]! + lines[1]! + last), {
      line: 3,
      seq: 3,
      reason: "hash_mismatch",
    });
  });

  it("treats a last record with the wrong prevHash as damage", async () => {
    const { lines } = buildChain([{}, {}, {}]);
    const wrong = forgeLine({ ...JSON.parse(lines[2]!), prevHash: "f".repeat(64) });
    await expectCorrupt(Buffer.from(lines[0]! + lines[1]! + wrong), {
      line: 3,
      reason: "prev_hash_mismatch",
    });
  });

  it("treats a missing record in the middle as damage", async () => {
    const { lines } = buildChain([{}, {}, {}, {}]);
    await expectCorrupt(Buffer.from(lines[0]! + lines[2]! + lines[3]!), {
      line: 2,
      seq: 2,
      reason: "seq_mismatch",
    });
  });

  it("treats garbage before a torn tail as damage, and does not cut the tail either", async () => {
    const { lines } = buildChain([{}, {}, {}]);
    await expectCorrupt(Buffer.from(`${lines[0]}garbage\n${lines[1]}${lines[2]!.slice(0, 30)}`), {
      line: 2,
      reason: "malformed_line",
    });
  });

  it("treats a file of garbage as damage", async () => {
    await expectCorrupt(Buffer.from('garbage\n{"seq":1}\nmore garbage'), { line: 1 });
  });

  it.each([
    ["its newline flipped", (line: string) => `${line.slice(0, -1)}\u000b`],
    ["its newline replaced by a space", (line: string) => `${line.slice(0, -1)} `],
    ["a byte after the record instead of its newline", (line: string) => `${line.slice(0, -1)}}`],
    ["its newline zeroed", (line: string) => `${line.slice(0, -1)}\u0000`],
  ])(
    "treats a complete last record with %s as damage: no torn write ends that way",
    async (_name, damage) => {
      const { lines } = buildChain([{}, { phase: "result", intentSeq: 1, result: { ok: 1 } }]);
      await expectCorrupt(Buffer.from(lines[0]! + damage(lines[1]!)), {
        line: 2,
        reason: "malformed_line",
      });
    },
  );

  it("cuts a last record that lacks only its newline: the write stopped before it", async () => {
    const { lines } = buildChain([{}, {}]);
    await writeFile(path, lines[0]! + lines[1]!.slice(0, -1));
    expect(await trailFor().initialize()).toMatchObject({ records: 1, recordsLost: 1 });
    expect(await readFile(path, "utf8")).toBe(lines[0]!);
  });

  it("cuts a torn last line (no newline): the one write that provably did not finish", async () => {
    const { text, lines } = buildChain([{}, {}, {}]);
    await writeFile(path, text.slice(0, -25));
    const logger = recordingLogger();
    const trail = trailFor({ logger });
    expect(await trail.initialize()).toMatchObject({
      records: 2,
      recordsLost: 1,
      truncatedBytes: Buffer.byteLength(lines[2]!) - 25,
      brokenAtLine: 3,
      lastSeq: 2,
    });
    expect(await readFile(path, "utf8")).toBe(lines[0]! + lines[1]!);
    expect(logger.entries.some((entry) => entry.level === "warn")).toBe(true);
    expect(await trail.recordIntent({ action: "a", target: "t", params: {} })).toBe(3);
    expect(await trail.verifyChain()).toMatchObject({ valid: true, records: 3 });
  });

  it("cuts a torn last line even under a key, whatever bytes it holds", async () => {
    const { text, lines } = buildChain([{}, {}], { key });
    await writeFile(path, `${text}{"garbage`);
    expect(await trailFor({ hmacKey: key }).initialize()).toMatchObject({
      records: 2,
      recordsLost: 1,
    });
    expect(await readFile(path, "utf8")).toBe(lines.join(""));
  });

  it("reports records signed with another key as damage instead of cutting them", async () => {
    const { lines } = buildChain([{}, {}, {}], { key });
    const forged = forgeLine(JSON.parse(lines[2]!), Buffer.from("not the key"));
    await expectCorrupt(
      Buffer.from(lines[0]! + lines[1]! + forged),
      { line: 3, seq: 3, reason: "hmac_mismatch" },
      { hmacKey: key },
    );
  });
});

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { forgeLine } from "./__fixtures__/chain.js";
import { keepEverything, makeTempDir, readRecordsOf } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";
import { canonicalJson } from "./canonical-json.js";
import { hmacHex } from "./record-line.js";
import { verifyAuditFile } from "./verify-audit-file.js";

let dir: string;
let path: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  path = join(dir, "audit.jsonl");
});
afterEach(() => cleanup());

const key = "a shared secret";

async function writeSigned(hmacKey: string | Uint8Array | null = key): Promise<void> {
  const trail = new AuditTrail({ path, hmacKey: hmacKey ?? undefined, redactor: keepEverything });
  await trail.initialize();
  const seq = await trail.recordIntent({
    action: "add_labels",
    target: "acme/app#3",
    params: { labels: ["bug"] },
  });
  await trail.recordResult(seq, { labels: ["bug"] });
  await trail.recordDenied({ action: "delete_repo", target: "acme/app", params: {} });
  await trail.close();
}

describe("HMAC signing", () => {
  it("signs every record with HMAC-SHA256 of the canonical form when a key is set", async () => {
    await writeSigned();
    for (const record of await readRecordsOf(path)) {
      const { hash: _hash, hmac, ...rest } = record;
      expect(hmac).toBe(hmacHex(Buffer.from(key), canonicalJson(rest)!));
    }
    expect(await verifyAuditFile(path, { hmacKey: key })).toMatchObject({
      valid: true,
      records: 3,
      signedRecords: 3,
    });
  });

  it("takes the key as bytes too", async () => {
    const bytes = new Uint8Array([0, 1, 2, 255]);
    await writeSigned(bytes);
    expect(await verifyAuditFile(path, { hmacKey: bytes })).toMatchObject({ valid: true });
    expect(await verifyAuditFile(path, { hmacKey: new Uint8Array([0, 1, 2, 254]) })).toMatchObject({
      valid: false,
      reason: "hmac_mismatch",
      brokenAt: 1,
    });
  });

  it("writes no hmac without a key; such files verify without a key, and under one only after a signing switch", async () => {
    await writeSigned(null);
    expect((await readRecordsOf(path)).every((record) => !("hmac" in record))).toBe(true);
    expect(await verifyAuditFile(path)).toMatchObject({ valid: true, signedRecords: 0 });
    expect(await verifyAuditFile(path, { hmacKey: key })).toMatchObject({
      valid: false,
      brokenAt: 1,
      reason: "hmac_missing",
    });
    expect(await verifyAuditFile(path, { hmacKey: key, requireHmac: true })).toMatchObject({
      valid: false,
      reason: "hmac_missing",
    });
  });

  it("lets a key-holder catch a chain rewritten with recomputed hashes", async () => {
    await writeSigned();
    const records = await readRecordsOf(path);
    // The attacker edits record 2 and recomputes every hash after it, keeping or dropping the HMACs it cannot recompute.
    const rewrite = (keepHmac: boolean) => {
      let prevHash = records[0]!.hash as string;
      const lines: string[] = [];
      for (const record of records.slice(1)) {
        const edited = {
          ...record,
          prevHash,
          ...(record.seq === 2 ? { result: { labels: ["wontfix"] } } : {}),
        };
        const line = forgeLine(edited);
        prevHash = JSON.parse(line).hash;
        lines.push(keepHmac ? line.replace(/\}\n$/, `,"hmac":"${record.hmac}"}\n`) : line);
      }
      return lines;
    };
    const firstLine = (await readFile(path, "utf8")).split("\n")[0]!;
    for (const keepHmac of [true, false]) {
      const lines = rewrite(keepHmac);
      await writeFile(path, [`${firstLine}\n`, ...lines].join(""));
      expect(await verifyAuditFile(path)).toMatchObject({ valid: true });
      expect(await verifyAuditFile(path, { hmacKey: key })).toMatchObject({
        valid: false,
        brokenAt: 2,
        reason: keepHmac ? "hmac_mismatch" : "hmac_missing",
      });
    }
  });

  it("verifies through the trail with its own key", async () => {
    const trail = new AuditTrail({ path, hmacKey: key, redactor: keepEverything });
    await trail.initialize();
    await trail.recordDenied({ action: "a", target: "t", params: {} });
    expect(await trail.verifyChain()).toMatchObject({ valid: true, signedRecords: 1 });
    await trail.close();
  });
});

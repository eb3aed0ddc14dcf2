import { readFile, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { runCapturing, useAuditDirectory } from "./__fixtures__/audit-directory.js";
import { forgeLine } from "./__fixtures__/chain.js";
import { keepEverything, readRecordsOf } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";
import * as audit from "./index.js";
import { verifyAuditFile } from "./verify-audit-file.js";

let dir: string;
let path: string;
const trails = useAuditDirectory((made) => {
  ({ dir, path } = made);
});

const key = "the signing key";

function trailFor(hmacKey: string | undefined): AuditTrail {
  const trail = new AuditTrail({ path, hmacKey, redactor: keepEverything });
  trails.track(trail);
  return trail;
}

async function writeRecords(hmacKey: string | undefined, count = 3): Promise<void> {
  const trail = trailFor(hmacKey);
  await trail.initialize();
  for (let index = 0; index < count; index++) {
    const seq = await trail.recordIntent({
      action: "add_labels",
      target: `acme/app#${index}`,
      params: { index },
    });
    await trail.recordResult(seq, { ok: true });
  }
  await trail.close();
}

/** What an attacker without the key can do: edit, drop every HMAC, re-chain with SHA-256. */
async function rewriteWithoutKey(): Promise<void> {
  const records = await readRecordsOf(path);
  let prevHash = "genesis";
  const lines: string[] = [];
  for (const record of records) {
    const { hmac: _dropped, ...rest } = record;
    const edited = { ...rest, prevHash, ...(record.seq === 2 ? { action: "delete_repo" } : {}) };
    const line = forgeLine(edited);
    prevHash = JSON.parse(line).hash;
    lines.push(line);
  }
  await writeFile(path, lines.join(""));
}

describe("F6: a configured HMAC key means every record is signed", () => {
  it("rejects a signed history rewritten, re-chained and stripped of its HMACs", async () => {
    await writeRecords(key);
    await rewriteWithoutKey();
    const text = await readFile(path, "utf8");
    await expect(trailFor(key).initialize()).rejects.toMatchObject({
      code: "AUDIT_CORRUPT",
      file: path,
      line: 1,
      seq: 1,
      reason: "hmac_missing",
    });
    expect(await readFile(path, "utf8")).toBe(text);
    expect(await verifyAuditFile(path, { hmacKey: key })).toMatchObject({
      valid: false,
      brokenAt: 1,
      reason: "hmac_missing",
    });
    const cli = await runCapturing(["verify", dir, "--hmac-key-env", "KEY"], { KEY: key });
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain("hmac_missing");
  });

  it("rejects an unsigned history under a key until the switch is recorded, then signs from there", async () => {
    await writeRecords(undefined);
    await expect(trailFor(key).initialize()).rejects.toMatchObject({
      code: "AUDIT_CORRUPT",
      reason: "hmac_missing",
      message: expect.stringContaining("start-signing"),
    });
    const report = await audit.startSigning({ path, hmacKey: key });
    expect(report).toMatchObject({ started: true, signedFromSeq: 7, unsignedRecords: 6 });
    const records = await readRecordsOf(path);
    expect(records[6]).toMatchObject({ seq: 7, phase: "signing_started", signedFromSeq: 7 });
    expect(records[6]!.hmac).toMatch(/^[0-9a-f]{64}$/);

    const trail = trailFor(key);
    expect(await trail.initialize()).toMatchObject({ lastSeq: 7 });
    await trail.recordDenied({ action: "merge", target: "acme/app#1", params: {} });
    expect(await trail.verifyChain()).toMatchObject({ valid: true, records: 8, signedRecords: 2 });
    await trail.close();
    expect(await verifyAuditFile(path, { hmacKey: key })).toMatchObject({ valid: true });
    expect((await runCapturing(["verify", path, "--hmac-key-env", "KEY"], { KEY: key })).code).toBe(
      0,
    );
    // A second call finds nothing left to switch.
    expect(await audit.startSigning({ path, hmacKey: key })).toMatchObject({ started: false });
  });

  it("rejects unsigned records appended after the switch", async () => {
    await writeRecords(undefined, 1);
    await audit.startSigning({ path, hmacKey: key });
    await writeRecords(undefined, 1);
    await expect(trailFor(key).initialize()).rejects.toMatchObject({
      code: "AUDIT_CORRUPT",
      seq: 4,
      reason: "hmac_missing",
    });
  });

  it("does not let an unsigned copy of the switch record stand in for a signed one", async () => {
    await writeRecords(undefined, 1);
    await audit.startSigning({ path, hmacKey: key });
    await rewriteWithoutKey();
    await expect(trailFor(key).initialize()).rejects.toMatchObject({ code: "AUDIT_CORRUPT" });
    expect(await verifyAuditFile(path, { hmacKey: key })).toMatchObject({ valid: false });
  });
});

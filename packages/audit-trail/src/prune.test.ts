import { execFile } from "node:child_process";
import { readdir, readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ManualClock } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { errno, instrumentedFs, keepEverything, makeTempDir } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";
import { pruneAuditHistory } from "./prune.js";
import { verifyAuditFile } from "./verify-audit-file.js";

const run = promisify(execFile);
const pythonVerifier = fileURLToPath(new URL("../scripts/verify_audit.py", import.meta.url));

let dir: string;
let path: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  path = join(dir, "audit.jsonl");
});
afterEach(() => cleanup());

const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 1);

/** 30 steps, one a day, rotating every ~1 KB: several rotated files spread over a month. */
async function writeMonth(hmacKey?: string): Promise<void> {
  const clock = new ManualClock(START);
  const trail = new AuditTrail({
    path,
    clock,
    redactor: keepEverything,
    maxSizeBytes: 1_000,
    ...(hmacKey ? { hmacKey } : {}),
  });
  await trail.initialize();
  for (let day = 0; day < 30; day++) {
    const seq = await trail.recordIntent({
      action: "add_labels",
      target: `acme/app#${day}`,
      params: { day },
      dedupeKey: `k${day}`,
    });
    await trail.recordResult(seq, { ok: day });
    clock.advance(DAY);
  }
  await trail.close();
}

async function historyFiles(): Promise<string[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith(".jsonl")).sort();
  return [...names.filter((name) => name !== "audit.jsonl"), "audit.jsonl"].map((name) =>
    join(dir, name),
  );
}

async function python(files: string[], key?: string) {
  const args = key ? ["--key-env", "PRUNE_KEY", ...files] : files;
  try {
    const { stdout } = await run("python3", [pythonVerifier, ...args], {
      env: { ...process.env, PRUNE_KEY: key ?? "" },
    });
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, output: failed.stderr };
  }
}

describe("pruneAuditHistory", () => {
  it("removes the rotated files older than the date and keeps the rest verifiable, signed, in JS and Python", async () => {
    await writeMonth("prune key");
    const before = await historyFiles();
    expect(before.length).toBeGreaterThan(4);
    const report = await pruneAuditHistory({
      path,
      before: new Date(START + 15 * DAY),
      hmacKey: "prune key",
    });
    expect(report.pruned.length).toBeGreaterThan(0);
    for (const file of report.pruned)
      expect(Date.parse(file.lastTs)).toBeLessThan(START + 15 * DAY);
    const after = await historyFiles();
    expect(after).toEqual(before.slice(report.pruned.length));
    expect(report.firstSeq).toBe(report.pruned.at(-1)!.lastSeq + 1);

    const verification = await verifyAuditFile(dir, { hmacKey: "prune key" });
    expect(verification).toMatchObject({ valid: true, lastSeq: report.checkpointSeq });
    expect(verification.records).toBe(report.checkpointSeq! - report.firstSeq + 1);
    expect(await python(after, "prune key")).toMatchObject({ code: 0 });

    // The trail goes on from it, and a second prune covers the first checkpoint's files too.
    const trail = new AuditTrail({ path, hmacKey: "prune key", maxSizeBytes: 1_000 });
    await trail.initialize();
    await trail.recordDenied({ action: "a", target: "t", params: {} });
    await trail.close();
    const again = await pruneAuditHistory({
      path,
      before: new Date(START + 25 * DAY),
      hmacKey: "prune key",
    });
    expect(again.pruned.length).toBeGreaterThan(0);
    expect(await verifyAuditFile(dir, { hmacKey: "prune key" })).toMatchObject({ valid: true });
    expect(await python(await historyFiles(), "prune key")).toMatchObject({ code: 0 });
  });

  it("still catches a rotated file deleted by hand, in JS and Python", async () => {
    await writeMonth();
    const files = await historyFiles();
    await unlink(files[0]!);
    expect(await verifyAuditFile(dir)).toMatchObject({
      valid: false,
      reason: "history_head_missing",
      records: 0,
    });
    expect(await python(files.slice(1))).toMatchObject({
      code: 1,
      output: expect.stringContaining("no checkpoint record names it"),
    });
  });

  it("does not let a checkpoint cover a file it does not name", async () => {
    await writeMonth();
    const report = await pruneAuditHistory({ path, before: new Date(START + 8 * DAY) });
    expect(report.pruned.length).toBeGreaterThan(0);
    // Deleting one more file than the checkpoint named is caught.
    const [oldest, ...rest] = await historyFiles();
    await unlink(oldest!);
    expect(await verifyAuditFile(dir)).toMatchObject({
      valid: false,
      reason: "history_head_missing",
    });
    expect(await python(rest)).toMatchObject({ code: 1 });
  });

  it("is covered when a crash stopped it half way (a prefix of the files removed)", async () => {
    await writeMonth();
    let unlinks = 0;
    const fs = instrumentedFs({
      unlink: () => (++unlinks === 2 ? errno("EIO") : undefined),
    });
    await expect(
      pruneAuditHistory({ path, before: new Date(START + 20 * DAY), fs }),
    ).rejects.toMatchObject({ code: "AUDIT_WRITE", operation: "unlink" });
    expect(await verifyAuditFile(dir)).toMatchObject({ valid: true });
    expect(await python(await historyFiles())).toMatchObject({ code: 0 });
    const rerun = await pruneAuditHistory({ path, before: new Date(START + 20 * DAY) });
    expect(rerun.pruned.length).toBeGreaterThan(0);
    expect(await verifyAuditFile(dir)).toMatchObject({ valid: true });
  });

  it("changes nothing when nothing is old enough, on a dry run, or on a damaged history", async () => {
    await writeMonth();
    const files = await historyFiles();
    expect(await pruneAuditHistory({ path, before: new Date(START) })).toMatchObject({
      pruned: [],
      firstSeq: 1,
      lastSeq: 60,
    });
    const dry = await pruneAuditHistory({ path, before: new Date(START + 40 * DAY), dryRun: true });
    expect(dry.pruned.map((file) => file.file)).toEqual(files.slice(0, -1));
    expect(dry.checkpointSeq).toBeUndefined();
    expect(await historyFiles()).toEqual(files);

    const text = await readFile(files[1]!, "utf8");
    await writeFile(files[1]!, text.replace('"day":', '"dax":'));
    await expect(
      pruneAuditHistory({ path, before: new Date(START + 40 * DAY) }),
    ).rejects.toMatchObject({ code: "AUDIT_CORRUPT" });
    expect(await historyFiles()).toEqual(files);
    await expect(pruneAuditHistory({ path, before: new Date("nonsense") })).rejects.toBeInstanceOf(
      TypeError,
    );
  });
});

import { mkdir, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCapturing, useAuditDirectory } from "./__fixtures__/audit-directory.js";
import { buildChain, type RecordSpec } from "./__fixtures__/chain.js";
import { keepEverything } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";
import * as audit from "./index.js";
import { verifyAuditFile } from "./verify-audit-file.js";

let dir: string;
let path: string;
const trails = useAuditDirectory((made) => {
  ({ dir, path } = made);
});

function trailFor(maxSizeBytes = Number.POSITIVE_INFINITY): AuditTrail {
  const trail = new AuditTrail({ path, redactor: keepEverything, maxSizeBytes });
  trails.track(trail);
  return trail;
}

function specs(count: number): RecordSpec[] {
  return Array.from({ length: count }, (_, index) => ({
    phase: "denied" as const,
    params: { index },
  }));
}

describe("repairAuditHistory", () => {
  it("F1: moves the damaged part of the file aside, keeps it byte for byte, and reports what it moved", async () => {
    const { text, lines } = buildChain(specs(2_000));
    const bytes = Buffer.from(text);
    const damagedAt = Buffer.byteLength(lines.slice(0, 999).join(""));
    bytes[damagedAt + 20]! ^= 0x04;
    await writeFile(path, bytes, { mode: 0o600 });

    const report = await audit.repairAuditHistory({ path });
    expect(report).toMatchObject({
      repaired: true,
      damage: { file: path, line: 1_000, seq: 1_000, reason: expect.any(String) },
      records: 999,
      lastSeq: 999,
    });
    expect(report.quarantined).toHaveLength(1);
    const moved = report.quarantined[0]!;
    expect(moved).toMatchObject({
      file: path,
      keptBytes: damagedAt,
      movedBytes: bytes.length - damagedAt,
      movedLines: 1_001,
    });
    expect((await readFile(moved.quarantinedAs)).equals(bytes)).toBe(true);
    expect((await stat(moved.quarantinedAs)).mode & 0o777).toBe(0o600);
    expect(await readFile(path, "utf8")).toBe(lines.slice(0, 999).join(""));
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    const trail = trailFor();
    expect(await trail.initialize()).toMatchObject({ records: 999, lastSeq: 999 });
    expect(await trail.recordDenied({ action: "a", target: "t", params: {} })).toBe(1_000);
    expect(await trail.verifyChain()).toMatchObject({ valid: true, records: 1_000 });
    // The quarantined copy sits beside the history without being taken for one.
    expect(await verifyAuditFile(dir)).toMatchObject({ valid: true, records: 1_000 });
  });

  it("changes nothing in a history that verifies", async () => {
    const { text } = buildChain(specs(5));
    await writeFile(path, text);
    expect(await audit.repairAuditHistory({ path })).toMatchObject({
      repaired: false,
      quarantined: [],
      records: 5,
      lastSeq: 5,
    });
    expect(await readdir(dir)).toEqual(["audit.jsonl"]);
  });

  it("quarantines a damaged segment's tail and every file after it", async () => {
    const writer = trailFor(800);
    await writer.initialize();
    for (let index = 0; index < 30; index++)
      await writer.recordDenied({ action: "x", target: `t${index}`, params: { index } });
    await writer.close();
    const segments = (await readdir(dir)).filter((name) => name !== "audit.jsonl").sort();
    expect(segments.length).toBeGreaterThanOrEqual(3);
    const damaged = join(dir, segments[1]!);
    const original = await readFile(damaged);
    const secondLine = original.indexOf(10) + 1;
    const edited = Buffer.from(original);
    edited[secondLine + 5]! ^= 0x01;
    await writeFile(damaged, edited);
    const later = [...segments.slice(2).map((name) => join(dir, name)), path];
    const laterBytes = await Promise.all(later.map((file) => readFile(file)));

    const report = await audit.repairAuditHistory({ path });
    expect(report).toMatchObject({ repaired: true, damage: { file: damaged, line: 2 } });
    expect(report.quarantined.map((entry) => entry.file).sort()).toEqual(
      [damaged, ...later].sort(),
    );
    for (const [index, file] of later.entries()) {
      const entry = report.quarantined.find((candidate) => candidate.file === file)!;
      expect((await readFile(entry.quarantinedAs)).equals(laterBytes[index]!)).toBe(true);
    }
    expect((await readFile(damaged)).equals(original.subarray(0, secondLine))).toBe(true);
    const trail = trailFor(800);
    await trail.initialize();
    expect(await trail.verifyChain()).toMatchObject({ valid: true });
  });

  it("moves a directory or a symbolic link found in place of a history file aside", async () => {
    const { text } = buildChain(specs(2));
    await writeFile(path, text);
    const bogus = join(dir, "audit.20990101T000000000Z.jsonl");
    await mkdir(bogus);
    await expect(trailFor().initialize()).rejects.toMatchObject({
      code: "AUDIT_READ",
      path: bogus,
    });
    expect(await audit.repairAuditHistory({ path })).toMatchObject({ repaired: true });
    await rm(path);
    const outside = join(dir, "..", `outside-${Date.now()}`);
    await writeFile(outside, "keep me\n");
    try {
      await symlink(outside, path);
      const report = await audit.repairAuditHistory({ path });
      expect(report).toMatchObject({ repaired: true, quarantined: [{ file: path }] });
      expect(await readFile(outside, "utf8")).toBe("keep me\n");
    } finally {
      await rm(outside, { force: true });
    }
  });

  it("refuses while an AuditTrail of this process has the file open", async () => {
    const trail = trailFor();
    await trail.initialize();
    await expect(audit.repairAuditHistory({ path })).rejects.toMatchObject({
      code: "AUDIT_FILE_IN_USE",
    });
  });

  it("is the beauvoir-audit repair command", async () => {
    const { text, lines } = buildChain(specs(4));
    await writeFile(path, text.replace('"index":2', '"index":7'));
    const run = await runCapturing(["repair", dir]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("line 3");
    expect(run.stdout).toContain("quarantined");
    expect(await readFile(path, "utf8")).toBe(lines.slice(0, 2).join(""));
    const again = await runCapturing(["repair", path, "--json"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ repaired: false });
  });
});

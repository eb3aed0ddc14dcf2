import { readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { runCapturing, useAuditDirectory } from "./__fixtures__/audit-directory.js";
import { buildChain } from "./__fixtures__/chain.js";
import { errno, instrumentedFs, keepEverything } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";
import { repairAuditHistory } from "./repair.js";
import { startSigning } from "./start-signing.js";

let dir: string;
let path: string;
useAuditDirectory((made) => {
  ({ dir, path } = made);
});

const denied = (count: number) =>
  buildChain(Array.from({ length: count }, () => ({ phase: "denied" as const })));

describe("repairAuditHistory, the hard cases", () => {
  it("picks a free quarantine name when one with the same stamp exists", async () => {
    const clock = new ManualClock(Date.UTC(2026, 1, 8));
    const { text } = denied(3);
    await writeFile(path, text.replace('"seq":3', '"seq":4'));
    const first = await repairAuditHistory({ path, clock });
    await writeFile(path, text.replace('"seq":2', '"seq":5'));
    const second = await repairAuditHistory({ path, clock });
    expect(second.quarantined[0]!.quarantinedAs).toBe(`${first.quarantined[0]!.quarantinedAs}-2`);
  });

  it("with a key, moves aside the records that fail it", async () => {
    const key = Buffer.from("repair key");
    const { lines } = buildChain([{ phase: "denied" }, { phase: "denied" }], { key });
    const { lines: foreign } = buildChain([{ phase: "denied" }, { phase: "denied" }], {
      key: Buffer.from("other"),
    });
    await writeFile(
      path,
      lines[0]! +
        foreign[1]!.replace(/"prevHash":"[0-9a-f]+"/, `"prevHash":"${JSON.parse(lines[0]!).hash}"`),
    );
    const report = await repairAuditHistory({ path, hmacKey: key });
    expect(report).toMatchObject({ repaired: true, records: 1, damage: { line: 2 } });
    expect(await readFile(path, "utf8")).toBe(lines[0]);
  });

  it("reports a failed move as AUDIT_WRITE and loses nothing", async () => {
    const { text } = denied(3);
    const damaged = text.replace('"seq":3', '"seq":4');
    await writeFile(path, damaged);
    const fs = instrumentedFs({ link: () => errno("EPERM") });
    await expect(repairAuditHistory({ path, fs })).rejects.toMatchObject({
      code: "AUDIT_WRITE",
      operation: "link",
    });
    expect(await readFile(path, "utf8")).toBe(damaged);
    // The temporary file of the interrupted repair is replaced by the next one.
    expect(await repairAuditHistory({ path })).toMatchObject({ repaired: true, records: 2 });
    expect((await readdir(dir)).filter((name) => name.endsWith("repair-tmp"))).toEqual([]);
  });

  it("never writes through a link planted where its temporary file goes", async () => {
    const { text } = denied(3);
    await writeFile(path, text.replace('"seq":3', '"seq":4'));
    const victim = join(dir, "..", `victim-${Date.now()}`);
    await writeFile(victim, "keep\n");
    try {
      await symlink(victim, `${path}.repair-tmp`);
      expect(await repairAuditHistory({ path })).toMatchObject({ repaired: true, records: 2 });
      expect(await readFile(victim, "utf8")).toBe("keep\n");
    } finally {
      await rm(victim, { force: true });
    }
  });

  it("refuses bad options", async () => {
    await expect(repairAuditHistory(null as never)).rejects.toThrow(TypeError);
    await expect(repairAuditHistory({ path: "" })).rejects.toThrow(/path/);
    await expect(repairAuditHistory({ path, fs: {} as never })).rejects.toThrow(/fs must have/);
    await expect(repairAuditHistory({ path, clock: {} as never })).rejects.toThrow(
      /clock must have/,
    );
  });

  it("does nothing to a directory that holds no history yet", async () => {
    await expect(
      repairAuditHistory({ path: join(dir, "none", "audit.jsonl") }),
    ).resolves.toMatchObject({
      repaired: false,
      records: 0,
      lastSeq: 0,
    });
  });
});

describe("beauvoir-audit repair and start-signing", () => {
  it("prints the moves of a repair of a rotated history", async () => {
    const trail = new AuditTrail({ path, redactor: keepEverything, maxSizeBytes: 600 });
    await trail.initialize();
    for (let index = 0; index < 10; index++)
      await trail.recordDenied({ action: "a", target: `t${index}`, params: {} });
    await trail.close();
    const [oldest] = (await readdir(dir)).filter((name) => name !== "audit.jsonl").sort();
    await writeFile(
      join(dir, oldest!),
      (await readFile(join(dir, oldest!), "utf8")).replace('"t0"', '"t9"'),
    );
    const run = await runCapturing(["repair", dir]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Damage: .* line 1 \(seq 1\): hash_mismatch/);
    expect(run.stdout).toContain("quarantined the whole file");
    expect(run.stdout).toContain("The history keeps 0 record(s), up to seq 0");
    // Nothing is left: verify passes only when told an empty history is fine.
    expect((await runCapturing(["verify", dir])).code).toBe(1);
    expect((await runCapturing(["verify", dir, "--allow-empty"])).code).toBe(0);
    expect((await runCapturing(["repair", path])).stdout).toContain("Nothing to repair");
  });

  it("starts signing from the command line, once", async () => {
    await writeFile(path, denied(2).text);
    const env = { KEY: "cli signing key" };
    expect(await runCapturing(["start-signing", path], env)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("needs --hmac-key-env"),
    });
    const run = await runCapturing(["start-signing", dir, "--hmac-key-env", "KEY"], env);
    expect(run).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("Signing started at seq 3"),
    });
    expect((await runCapturing(["verify", dir, "--hmac-key-env", "KEY"], env)).code).toBe(0);
    const again = await runCapturing(
      ["start-signing", path, "--hmac-key-env", "KEY", "--json"],
      env,
    );
    expect(JSON.parse(again.stdout)).toEqual({ started: false, unsignedRecords: 0 });
    expect(
      (await runCapturing(["start-signing", path, "--hmac-key-env", "KEY"], env)).stdout,
    ).toContain("Nothing to do");
    expect(await runCapturing(["repair"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("exactly one"),
    });
  });

  it("refuses to start signing without a key, or over a damaged history", async () => {
    await expect(startSigning({ path } as never)).rejects.toThrow(TypeError);
    await writeFile(path, denied(2).text.replace('"seq":2', '"seq":3'));
    await expect(startSigning({ path, hmacKey: "k" })).rejects.toMatchObject({
      code: "AUDIT_CORRUPT",
    });
  });
});

describe("rotated files read after initialize()", () => {
  it("reports a rotated file that changed or vanished since initialize()", async () => {
    const trail = new AuditTrail({ path, redactor: keepEverything, maxSizeBytes: 600 });
    await trail.initialize();
    const intents: number[] = [];
    for (let index = 0; index < 8; index++) {
      const seq = await trail.recordIntent({ action: "a", target: `t${index}`, params: {} });
      await trail.recordResult(seq, { index });
      intents.push(seq);
    }
    await trail.close();
    const segments = (await readdir(dir)).filter((name) => name !== "audit.jsonl").sort();
    expect(segments.length).toBeGreaterThanOrEqual(2);
    const reader = new AuditTrail({ path, redactor: keepEverything, maxSizeBytes: 600 });
    await reader.initialize();
    const oldest = join(dir, segments[0]!);
    await writeFile(oldest, (await readFile(oldest, "utf8")).replace('"index":0', '"index":7'));
    await expect(reader.findResultByIntentSeq(intents[0]!)).rejects.toMatchObject({
      code: "AUDIT_CORRUPT",
      file: oldest,
    });
    await rm(oldest);
    await expect(reader.findResultByIntentSeq(intents[0]!)).rejects.toMatchObject({
      code: "AUDIT_READ",
      path: oldest,
    });
    await reader.close();
  });
});

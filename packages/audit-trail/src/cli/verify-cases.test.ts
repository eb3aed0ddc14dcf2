import { mkdir, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ManualClock } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { fakeCliIo, useAuditDirectory } from "../__fixtures__/audit-directory.js";
import { keepEverything } from "../__fixtures__/helpers.js";
import { AuditTrail } from "../audit-trail.js";
import { type CliIo, runCli } from "./run-cli.js";

let dir: string;
useAuditDirectory((made) => {
  dir = made.dir;
});

async function cli(argv: string[], extra: Partial<CliIo> = {}) {
  const run = fakeCliIo(extra);
  const code = await runCli(argv, run.io);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** A history of `steps` intents with results in `directory`, rotating every `maxSizeBytes`. */
async function writeHistory(directory: string, steps: number, maxSizeBytes = 1_000_000) {
  const path = join(directory, "audit.jsonl");
  const trail = new AuditTrail({
    path,
    redactor: keepEverything,
    maxSizeBytes,
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
  });
  await trail.initialize();
  for (let step = 0; step < steps; step++) {
    const seq = await trail.recordIntent({ action: "add_labels", target: `t${step}`, params: {} });
    await trail.recordResult(seq, { step });
  }
  await trail.close();
  return path;
}

describe("beauvoir-audit verify: nothing verified is not OK", () => {
  it("verifies boot's data directory through its audit/ directory", async () => {
    await mkdir(join(dir, "audit"));
    await mkdir(join(dir, "stores"));
    await writeHistory(join(dir, "audit"), 3);
    const result = await cli(["verify", dir]);
    expect(result).toMatchObject({ code: 0, stdout: expect.stringMatching(/^OK: 6 record\(s\)/) });
  });

  it("exits 1 for boot's data directory with an empty audit/, never OK: 0 records", async () => {
    await mkdir(join(dir, "audit"));
    await mkdir(join(dir, "locks"));
    const result = await cli(["verify", dir]);
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain("OK");
    expect(result.stdout).toMatch(/^EMPTY: no records in .*audit/);
    expect(JSON.parse((await cli(["verify", dir, "--json"])).stdout)).toMatchObject({
      valid: false,
      reason: "empty_history",
    });
    expect(await cli(["verify", dir, "--allow-empty"])).toMatchObject({ code: 0 });
  });

  it("exits 1 for an empty directory and a current file cut to 0 bytes", async () => {
    expect(await cli(["verify", dir])).toMatchObject({
      code: 1,
      stdout: expect.stringContaining("EMPTY"),
    });
    const path = await writeHistory(dir, 2);
    await truncate(path, 0);
    expect(await cli(["verify", dir])).toMatchObject({ code: 1 });
    expect(await cli(["verify", path])).toMatchObject({ code: 1 });
  });

  it("exits 1 when the current file is missing, even though the rotated files verify", async () => {
    const path = await writeHistory(dir, 20, 800);
    expect((await readdir(dir)).length).toBeGreaterThan(2);
    await rm(path);
    const result = await cli(["verify", dir]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /BROKEN \(missing_current_file\): the current file audit\.jsonl is missing/,
    );
  });

  it("with --expect-head, passes while the history holds that record, and fails once the current file is cut", async () => {
    const path = await writeHistory(dir, 20, 800);
    const json = JSON.parse((await cli(["verify", dir, "--json"])).stdout);
    const head = `${json.lastSeq}:${json.lastHash}`;
    const ok = await cli(["verify", dir, "--expect-head", head]);
    expect(ok).toMatchObject({
      code: 0,
      stdout: expect.stringContaining(`holds the expected head at seq ${json.lastSeq}`),
    });
    // An earlier head kept elsewhere still matches a history that grew since.
    const early = JSON.parse((await cli(["show", "5", dir, "--json"])).stdout);
    expect(await cli(["verify", dir, "--expect-head", `5:${early.hash}`])).toMatchObject({
      code: 0,
    });
    expect(await cli(["verify", dir, "--expect-head", `5:${"0".repeat(64)}`])).toMatchObject({
      code: 1,
      stdout: expect.stringContaining("head_mismatch"),
    });

    await truncate(path, 0);
    // Without the anchor, a cut current file after a rotation looks like a fresh one.
    expect(await cli(["verify", dir])).toMatchObject({ code: 0 });
    const cut = await cli(["verify", dir, "--expect-head", head]);
    expect(cut.code).toBe(1);
    expect(cut.stdout).toMatch(
      /BROKEN \(head_mismatch\): the history ends at seq \d+, before the expected head/,
    );
    expect(await cli(["verify", dir, "--expect-head", "12"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--expect-head needs <seq>:<hash>"),
    });
  });

  it("reports every break, not only the first", async () => {
    const path = await writeHistory(dir, 10);
    const lines = (await readFile(path, "utf8")).split("\n");
    lines[2] = lines[2]!.replace('"t1"', '"tX"'); // seq 3: edited
    lines.splice(9, 1); // seq 10: removed
    lines[14] = "garbage"; // seq 16's line
    await writeFile(path, lines.join("\n"));
    const result = await cli(["verify", path]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("BROKEN at seq 3 (hash_mismatch)");
    expect(result.stdout).toContain("2 more break(s) after it:");
    expect(result.stdout).toMatch(/- seq 10 \((seq_mismatch|prev_hash_mismatch)\)/);
    expect(result.stdout).toMatch(/\(malformed_line\): the line is not valid JSON; .* line 15/);
    const json = JSON.parse((await cli(["verify", path, "--json"])).stdout);
    expect(json.breaks.map((problem: { reason: string }) => problem.reason)).toEqual([
      "hash_mismatch",
      expect.stringMatching(/seq_mismatch|prev_hash_mismatch/),
      "malformed_line",
    ]);
  });
});

describe("beauvoir-audit: errors, help, version, records expected", () => {
  it("prints one clean line for a missing path, never Node's scandir text", async () => {
    const result = await cli(["stats"], { env: {} });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      "beauvoir-audit: Could not read audit.jsonl: ENOENT (no such file or directory)\n",
    );
    expect(result.stderr).not.toContain("scandir");
  });

  it("turns parseArgs errors into one short line", async () => {
    const unknown = await cli(["verify", "--bogus"]);
    expect(unknown.stderr.split("\n")[0]).toBe("beauvoir-audit: Unknown option --bogus");
    expect(unknown.stderr).not.toContain("place it at the end");
    const missing = await cli(["tail", "-n"]);
    expect(missing.stderr.split("\n")[0]).toBe("beauvoir-audit: Option -n needs a value");
  });

  it("has --version and --help per command", async () => {
    expect(await cli(["--version"], { version: "1.2.3" })).toMatchObject({
      code: 0,
      stdout: "1.2.3\n",
    });
    const help = await cli(["prune", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: beauvoir-audit prune/);
    expect(help.stdout).toContain("--before DATE");
    expect(help.stdout).not.toContain("start-signing <file|dir>");
    expect(await cli(["help", "verify"])).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("--expect-head"),
    });
  });

  it("exits 1 from tail and stats when there is no record", async () => {
    await writeFile(join(dir, "audit.jsonl"), "");
    expect(await cli(["tail", dir])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("No records"),
    });
    expect(await cli(["stats", dir])).toMatchObject({ code: 1 });
  });

  it("prunes old rotated files from the command line, and the rest verifies", async () => {
    await writeHistory(dir, 30, 800);
    const files = (await readdir(dir)).length;
    const usage = await cli(["prune", dir]);
    expect(usage).toMatchObject({ code: 2, stderr: expect.stringContaining("needs --before") });
    expect(await cli(["prune", dir, "--before", "yesterday"])).toMatchObject({ code: 2 });
    const dry = await cli(["prune", dir, "--before", "2030-01-01", "--dry-run"]);
    expect(dry).toMatchObject({ code: 0, stdout: expect.stringContaining("would remove") });
    expect((await readdir(dir)).length).toBe(files);
    const none = await cli(["prune", dir, "--before", "30d"], { now: () => Date.UTC(2026, 0, 1) });
    expect(none.stdout).toContain("Nothing to prune");
    const done = await cli(["prune", dir, "--before", "2030-01-01"]);
    expect(done.stdout).toMatch(/Checkpoint at seq \d+: the history now starts at seq \d+/);
    expect((await readdir(dir)).length).toBe(1);
    expect(await cli(["verify", dir])).toMatchObject({ code: 0 });
    const json = JSON.parse((await cli(["prune", dir, "--before", "2030-01-01", "--json"])).stdout);
    expect(json.pruned).toEqual([]);
  });
});

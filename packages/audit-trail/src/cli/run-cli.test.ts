import { appendFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { fakeCliIo, useAuditDirectory } from "../__fixtures__/audit-directory.js";
import { buildChain } from "../__fixtures__/chain.js";
import { errno, instrumentedFs, keepEverything } from "../__fixtures__/helpers.js";
import { AuditTrail } from "../audit-trail.js";
import { ProgressBar } from "./progress-bar.js";
import { type CliIo, runCli } from "./run-cli.js";

let dir: string;
useAuditDirectory((made) => {
  dir = made.dir;
});

const key = "cli key";

/** A history with two rotated files: 8 intents with results (one failed), one open intent, one denial. */
async function writeHistory(): Promise<string> {
  const path = join(dir, "audit.jsonl");
  const trail = new AuditTrail({
    path,
    hmacKey: key,
    redactor: keepEverything,
    maxSizeBytes: 2_000,
  });
  await trail.initialize();
  for (let index = 0; index < 8; index++) {
    const seq = await trail.recordIntent({
      action: index % 2 ? "add_labels" : "add_issue_comment",
      target: `acme/app#${index}`,
      params: { index },
    });
    await trail.recordResult(seq, { ok: index }, index === 3 ? "Error: 502" : undefined);
  }
  await trail.recordIntent({ action: "create_branch", target: "acme/app:x", params: {} });
  await trail.recordDenied({
    action: "delete_repo",
    target: "acme/app",
    params: {},
    reason: "never",
  });
  await trail.close();
  return path;
}

describe("beauvoir-audit verify", () => {
  it("exits 0 on a valid history and 1 with the seq and reason on a broken one", async () => {
    const path = await writeHistory();
    const ok = fakeCliIo({ env: { AUDIT_KEY: key } });
    expect(await runCli(["verify", dir, "--hmac-key-env", "AUDIT_KEY"], ok.io)).toBe(0);
    expect(ok.stdout()).toMatch(
      /^OK: 18 record\(s\) in 3 file\(s\), chain intact \(18 signed, HMACs verified\)/,
    );

    const text = await readFile(path, "utf8");
    await writeFile(path, text.replace("delete_repo", "delete_rep0"));
    const broken = fakeCliIo();
    expect(await runCli(["verify", dir], broken.io)).toBe(1);
    expect(broken.stdout()).toContain("BROKEN at seq 18 (hash_mismatch)");
    expect(broken.stdout()).toContain(`file: ${path}, line`);

    const json = fakeCliIo();
    expect(await runCli(["verify", path, "--json"], json.io)).toBe(1);
    expect(JSON.parse(json.stdout())).toMatchObject({
      valid: false,
      brokenAt: 18,
      reason: "hash_mismatch",
    });
  });

  it("checks HMACs with the key from the environment, and requires them on request", async () => {
    await writeHistory();
    const wrong = fakeCliIo({ env: { AUDIT_KEY: "wrong" } });
    expect(await runCli(["verify", dir, "--hmac-key-env", "AUDIT_KEY"], wrong.io)).toBe(1);
    expect(wrong.stdout()).toContain("(hmac_mismatch)");
    const unsigned = join(dir, "other");
    await writeFile(`${unsigned}.jsonl`, buildChain([{}]).text);
    const strict = fakeCliIo({ env: { AUDIT_KEY: key } });
    expect(
      await runCli(
        ["verify", `${unsigned}.jsonl`, "--hmac-key-env", "AUDIT_KEY", "--require-hmac"],
        strict.io,
      ),
    ).toBe(1);
    expect(strict.stdout()).toContain("hmac_missing");
  });

  it("exits 2 on usage and I/O errors", async () => {
    const cases: [string[], Partial<CliIo>, RegExp][] = [
      [[], {}, /No command given/],
      [["frobnicate"], {}, /Unknown command: frobnicate/],
      [["verify"], {}, /exactly one/],
      [["verify", "a", "b"], {}, /exactly one/],
      [["verify", dir, "--hmac-key-env", "NOPE"], {}, /NOPE is not set/],
      [["verify", dir, "--require-hmac"], {}, /needs --hmac-key-env/],
      [["verify", join(dir, "missing.jsonl")], {}, /Could not read .*missing\.jsonl: ENOENT/],
      [["verify", "--bogus"], {}, /Unknown option/],
      [["tail", "-n", "x", dir], {}, /-n needs a whole number/],
      [["tail", dir, dir], {}, /one path/],
      [["show", "zero", dir], {}, /needs a seq/],
      [["show"], {}, /needs a seq/],
      [["stats", dir], {}, /No audit files/],
      [["stats", join(dir, "nope")], {}, /Could not read/],
    ];
    for (const [argv, extra, message] of cases) {
      const run = fakeCliIo(extra);
      expect(await runCli(argv, run.io), argv.join(" ")).toBe(2);
      expect(run.stderr(), argv.join(" ")).toMatch(message);
    }
  });

  it("prints help", async () => {
    const run = fakeCliIo();
    expect(await runCli(["--help"], run.io)).toBe(0);
    expect(run.stdout()).toContain("Usage: beauvoir-audit");
  });

  it("draws a progress bar on a terminal only, and erases it", async () => {
    await writeHistory();
    const tty = fakeCliIo();
    (tty.io.stderr as { isTTY: boolean }).isTTY = true;
    tty.io.progressThresholdBytes = 1;
    expect(await runCli(["verify", dir], tty.io)).toBe(0);
    expect(tty.stderr()).toMatch(/\rverifying \[#+\] 100% /);
    expect(tty.stderr().endsWith("\r\u001b[K")).toBe(true);
    const piped = fakeCliIo({ progressThresholdBytes: 1 });
    await runCli(["verify", dir], piped.io);
    expect(piped.stderr()).toBe("");
  });

  it("skips the bar for small inputs and redraws only on a new percentage", () => {
    const frames: string[] = [];
    const bar = new ProgressBar({ write: (text) => frames.push(text), isTTY: true }, "x", 100);
    bar.update(10, 50);
    bar.clear();
    expect(frames).toEqual([]);
    bar.update(1, 1_000);
    bar.update(2, 1_000);
    bar.update(500, 1_000);
    expect(frames).toHaveLength(2);
    expect(frames[1]).toContain(" 50% ");
  });
});

describe("beauvoir-audit tail, show, stats", () => {
  it("tails the last records of the history, human or JSON", async () => {
    await writeHistory();
    const human = fakeCliIo();
    expect(await runCli(["tail", "-n", "3", dir], human.io)).toBe(0);
    const lines = human.stdout().trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^#16 \S+ result {2}add_labels acme\/app#7 \(intent #15\)$/);
    expect(lines[2]).toMatch(/^#18 \S+ denied {2}delete_repo acme\/app error: never$/);
    const json = fakeCliIo({ env: { BEAUVOIR_AUDIT_PATH: dir } });
    expect(await runCli(["tail", "-n", "12", "--json"], json.io)).toBe(0);
    const records = json
      .stdout()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(records.map((record) => record.seq)).toEqual(
      Array.from({ length: 12 }, (_, index) => index + 7),
    );
  });

  it("follows appended records until stopped, and starts over after a rotation", async () => {
    const path = join(dir, "audit.jsonl");
    const { lines } = buildChain([{}, {}, {}, {}]);
    await writeFile(path, lines[0]!);
    const controller = new AbortController();
    const run = fakeCliIo({ signal: controller.signal, followIntervalMs: 10 });
    const done = runCli(["tail", "-f", path], run.io);
    await vi.waitFor(() => expect(run.stdout()).toContain("#1 "));
    await appendFile(path, lines[1]! + lines[2]!.slice(0, 20));
    await vi.waitFor(() => expect(run.stdout()).toContain("#2 "));
    await appendFile(path, lines[2]!.slice(20));
    await vi.waitFor(() => expect(run.stdout()).toContain("#3 "));
    await writeFile(path, lines[3]!.replace('"seq":4', '"seq":9'));
    await vi.waitFor(() => expect(run.stdout()).toContain("#9 "));
    controller.abort();
    expect(await done).toBe(0);
  });

  it("shows one record by seq, from any file of the history", async () => {
    await writeHistory();
    const found = fakeCliIo();
    expect(await runCli(["show", "2", dir], found.io)).toBe(0);
    expect(JSON.parse(found.stdout())).toMatchObject({
      seq: 2,
      phase: "result",
      intentSeq: 1,
      result: { ok: 0 },
    });
    expect(found.stdout()).toContain('\n  "seq": 2');
    const compact = fakeCliIo();
    expect(await runCli(["show", "18", dir, "--json"], compact.io)).toBe(0);
    expect(compact.stdout().trim().split("\n")).toHaveLength(1);
    const missing = fakeCliIo();
    expect(await runCli(["show", "99", dir], missing.io)).toBe(1);
    expect(missing.stderr()).toContain("No record with seq 99");
  });

  it("counts records by phase and action and lists open intents", async () => {
    const path = await writeHistory();
    await appendFile(path, "not json\n");
    const human = fakeCliIo();
    expect(await runCli(["stats", dir], human.io)).toBe(0);
    expect(human.stdout()).toContain("records: 18 in 3 file(s)");
    expect(human.stdout()).toContain("by phase: intent 9, result 8, denied 1, dry_run 0");
    expect(human.stdout()).toMatch(/add_issue_comment\s+8\n/);
    expect(human.stdout()).toContain("open intents: 1 (seq 17)");
    expect(human.stdout()).toContain("malformed lines: 1");
    const json = fakeCliIo();
    expect(await runCli(["stats", path, "--json"], json.io)).toBe(0);
    expect(JSON.parse(json.stdout())).toMatchObject({
      files: 1,
      openIntents: [17],
      byAction: { delete_repo: 1, create_branch: 1 },
    });
  });

  it("refuses a directory holding several histories for tail, show and stats", async () => {
    await writeFile(join(dir, "a.jsonl"), buildChain([{}]).text);
    await writeFile(join(dir, "b.jsonl"), buildChain([{}]).text);
    const run = fakeCliIo();
    expect(await runCli(["stats", dir], run.io)).toBe(2);
    expect(run.stderr()).toContain("several histories (a, b)");
  });

  it("reports a read failure with its cause", async () => {
    await writeHistory();
    const run = fakeCliIo({
      fs: instrumentedFs({ readFile: () => errno("EACCES", "permission denied") }),
    });
    expect(await runCli(["stats", dir], run.io)).toBe(2);
    expect(run.stderr()).toMatch(/Could not read .*: EACCES \(permission denied\)$/m);
  });
});

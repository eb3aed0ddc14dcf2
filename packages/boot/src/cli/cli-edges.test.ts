import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ResilientJsonStore } from "@beauvoir/resilient-store";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { beauvoir as runInProcess } from "../../test/beauvoir-in-process.js";
import { boot } from "../boot-orchestrator.js";
import { RESILIENCE_STATE_STORE } from "../resilience-state.js";
import { formatDuration, formatTime } from "./output.js";
import type { BeauvoirCliIo } from "./run-beauvoir.js";

const packageDir = fileURLToPath(new URL("../..", import.meta.url));
let root: string;
let dataDir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-cli-"));
  dataDir = join(root, "data");
});
afterEach(() => rm(root, { recursive: true, force: true }));

const beauvoir = (argv: string[], extra: Partial<BeauvoirCliIo> = {}) =>
  runInProcess(argv, { env: { AUDIT_KEY: "edge key" }, now: () => Date.UTC(2026, 0, 1), ...extra });

/** A data directory from a real boot with a signed history: two steps done, one pending forever (killed mid-step is simulated by leaving it). */
async function signedRun(): Promise<void> {
  const app = await boot({ dataDir, hmacKey: "edge key", log: { level: "silent" } });
  for (const resource of ["issues/1", "issues/2"]) {
    await app.executor.execute({
      action: "add_labels",
      scope: "acme/widgets",
      resource,
      params: {},
      run: async () => ({ ok: true }),
    });
  }
  await app.executor.executeSettled({
    action: "merge_pull_request",
    scope: "acme/widgets",
    resource: "pulls/1",
    params: {},
    run: async () => {
      throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    },
  });
  await app.shutdown();
}

describe("beauvoir on a signed history", () => {
  it("needs the key to record a decision, and records it signed", async () => {
    await signedRun();
    const keys = (await beauvoir(["keys", "list", dataDir, "--json"])).json() as {
      key: string;
      status: string;
      inDoubt: boolean;
    }[];
    const merge = keys.find((entry) => entry.key.startsWith("merge_pull_request"))!;
    expect(merge).toMatchObject({ status: "failed", inDoubt: true });
    const withoutKey = await beauvoir(["keys", "resolve", dataDir, merge.key, "not_done"]);
    expect(withoutKey.code).toBe(2);
    expect(withoutKey.stderr).toContain("the audit history is signed: pass --hmac-key-env");
    const missingVariable = await beauvoir(
      ["keys", "reset", dataDir, merge.key, "--hmac-key-env", "NOPE"],
      { env: {} },
    );
    expect(missingVariable).toMatchObject({ code: 2 });
    expect(missingVariable.stderr).toContain("NOPE is not set");
    const decided = await beauvoir([
      "keys",
      "resolve",
      dataDir,
      merge.key,
      "not_done",
      "--hmac-key-env",
      "AUDIT_KEY",
      "--json",
    ]);
    expect(decided.json()).toEqual({
      key: merge.key,
      decision: "not_done",
      previousStatus: "failed",
      status: null,
    });
    const verified = await beauvoir([
      "audit",
      "verify",
      dataDir,
      "--hmac-key-env",
      "AUDIT_KEY",
      "--require-hmac",
    ]);
    expect(verified.code).toBe(0);
    const status = (
      await beauvoir(["status", dataDir, "--hmac-key-env", "AUDIT_KEY", "--json"])
    ).json();
    expect(status.audit).toMatchObject({ valid: true, hmacChecked: true });
    expect(status.keys.inDoubt).toEqual([]);
    expect((await beauvoir(["keys", "list", dataDir])).stdout).toMatch(/^STATUS +UPDATED +KEY/);
    expect((await beauvoir(["keys", "list", dataDir, "--status", "failed"])).stdout).toBe(
      "no failed keys\n",
    );
  });
});

describe("beauvoir status: what needs a human", () => {
  it("reports the last boot, saved breakers and blocks, a stale lock, damaged stores, index and chain", async () => {
    await signedRun();
    const lastBoot = new ResilientJsonStore({ path: join(dataDir, "last-boot.json") });
    await lastBoot.set({
      version: 1,
      bootedAt: "2026-01-01T00:00:00.000Z",
      pid: 4242,
      mode: "degraded",
      health: { warnings: ["rateLimiter failed: boom"], subsystems: {} },
      reconciliation: {
        promoted: ["a"],
        rerun: [],
        failed: [],
        unresolved: [],
        closedIntents: [3],
      },
    });
    const resilience = new ResilientJsonStore({
      path: join(dataDir, "stores", `${RESILIENCE_STATE_STORE}.json`),
    });
    await resilience.set({
      version: 1,
      breakers: {
        add_labels: { state: "OPEN", retryAt: Date.UTC(2026, 0, 1, 0, 5) },
        create_branch: { state: "CLOSED", retryAt: null },
      },
      limiterBlocks: {
        version: 1,
        savedAt: 0,
        blocks: [
          { kind: "secondary", until: Date.UTC(2026, 0, 1, 1) },
          { kind: "primary", until: Date.UTC(2025, 0, 1) },
        ],
        secondaryStreak: null,
      },
    });
    await writeFile(join(dataDir, "locks", "nightly.lock"), "");
    const broken = new ResilientJsonStore({ path: join(dataDir, "stores", "cursor.json") });
    await broken.set({ n: 1 });
    await writeFile(join(dataDir, "stores", "cursor.json"), "garbage");
    const journal = (await readdir(join(dataDir, "idempotency"))).find((name) =>
      name.startsWith("journal."),
    )!;
    const journalPath = join(dataDir, "idempotency", journal);
    await writeFile(
      journalPath,
      `${await readFile(journalPath, "utf8")}{"sum":"0000000000000000","record":{}}\n{"x":1}\n`,
    );
    const auditFile = join(dataDir, "audit", "audit.jsonl");
    await writeFile(auditFile, (await readFile(auditFile, "utf8")).replace("issues/1", "issues/9"));

    const human = await beauvoir(["status", dataDir]);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain("last boot: 2026-01-01T00:00:00.000Z pid 4242, mode degraded");
    expect(human.stdout).toContain("warning: rateLimiter failed: boom");
    expect(human.stdout).toContain(
      "reconciliation: promoted 1, rerun 0, failed 0, unresolved 0, closedIntents 1",
    );
    expect(human.stdout).toContain(
      "breakers: add_labels OPEN until 2026-01-01T00:05:00.000Z, create_branch CLOSED",
    );
    expect(human.stdout).toContain("rate limit: secondary block until 2026-01-01T01:00:00.000Z");
    expect(human.stdout).toMatch(/nightly: (unreadable|stale)/);
    expect(human.stdout).toContain("cursor: primary corrupt");
    expect(human.stdout).toContain("index: DAMAGED");
    expect(human.stdout).toContain("audit: BROKEN (hash_mismatch");
    const json = (await beauvoir(["status", dataDir, "--json"])).json();
    expect(json.attention).toEqual(
      expect.arrayContaining([
        "the last boot ran in degraded mode",
        expect.stringMatching(/^the audit chain does not verify/),
        expect.stringMatching(/^the idempotency index is damaged/),
        expect.stringMatching(/^store cursor: primary corrupt/),
      ]),
    );
    // The keys are still listed from every line that checks out.
    expect(json.keys.total).toBe(3);
    const report = await beauvoir(["report", dataDir, "--html", join(root, "broken.html")]);
    expect(report.code).toBe(1);
    expect(report.stdout).toContain("the audit chain is BROKEN (hash_mismatch)");
    const html = await readFile(join(root, "broken.html"), "utf8");
    expect(html).toContain('data-valid="false"');
    expect(
      await beauvoir(["report", dataDir, "--html", join(root, "missing", "x.html")]),
    ).toMatchObject({
      code: 2,
    });
  });

  it("says when the last boot aborted", async () => {
    await signedRun();
    await new ResilientJsonStore({ path: join(dataDir, "last-boot.json") }).set({
      version: 1,
      bootedAt: "2026-01-01T00:00:00.000Z",
      pid: 4243,
      mode: "degraded",
      health: { success: false, warnings: [], subsystems: {} },
      reconciliation: null,
      aborted: { step: "auditTrail", error: "AUDIT_CORRUPT: damaged at line 3" },
    });
    const status = await beauvoir(["status", dataDir, "--json"]);
    expect(status.json().attention).toContain(
      "the last boot aborted at auditTrail: AUDIT_CORRUPT: damaged at line 3",
    );
    expect((await beauvoir(["status", dataDir])).stdout).toContain(
      "  aborted at auditTrail: AUDIT_CORRUPT: damaged at line 3",
    );
  });

  it("does not call a history fine whose current file is gone or whose records are gone", async () => {
    await signedRun();
    const current = join(dataDir, "audit", "audit.jsonl");
    const html = join(root, "report.html");
    for (const damage of [
      { reason: "missing_current_file", apply: () => rm(current) },
      { reason: "empty_history", apply: () => writeFile(current, "") },
    ]) {
      const kept = await readFile(current);
      await damage.apply();
      const status = await beauvoir(["status", dataDir, "--json"]);
      expect(status.code, status.stderr).toBe(1);
      expect(status.json().audit).toMatchObject({ valid: false, reason: damage.reason });
      expect(status.json().attention).toContain(
        `the audit chain does not verify (${damage.reason})`,
      );
      const report = await beauvoir(["report", dataDir, "--html", html]);
      expect(report.code, report.stderr).toBe(1);
      expect(report.stdout).toContain(`is BROKEN (${damage.reason})`);
      await rm(html, { force: true });
      await writeFile(current, kept);
    }
    expect((await beauvoir(["status", dataDir, "--json"])).json().audit.valid).toBe(true);
  });

  it("is plain on a data directory with nothing in it yet", async () => {
    for (const name of ["audit", "locks"]) await mkdir(join(dataDir, name), { recursive: true });
    const status = await beauvoir(["status", dataDir]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("audit: verifies, 0 record(s), no records");
    expect(status.stdout).toContain("attention: nothing");
    expect((await beauvoir(["locks", "list", dataDir])).stdout).toBe("no locks\n");
    expect((await beauvoir(["store", "list", dataDir])).stdout).toBe("no stores\n");
    expect((await beauvoir(["keys", "list", dataDir])).stdout).toBe("no keys\n");
    expect(await beauvoir(["locks", "break", dataDir, "gone", "--if-dead"])).toMatchObject({
      code: 1,
    });
    expect(await beauvoir(["store", "restore", dataDir, "gone", "--from-bak"])).toMatchObject({
      code: 1,
    });
    const file = join(root, "file");
    await writeFile(file, "");
    expect(await beauvoir(["status", file])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("is a file, not a data directory"),
    });
  });

  it("restores nothing from a bak that is not there, and breaks a dead holder's instance lock", async () => {
    await signedRun();
    const store = new ResilientJsonStore({ path: join(dataDir, "stores", "once.json") });
    await store.set({ n: 1 });
    const refused = await beauvoir(["store", "restore", dataDir, "once", "--from-bak"]);
    expect(refused).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("the bak of once is missing"),
    });
    // A process that takes the instance lock and is killed holding it.
    const script = `const { LockManager } = await import("@beauvoir/locks");
      await new LockManager({ lockDir: ${JSON.stringify(join(dataDir, "locks"))} }).acquire("boot-instance");
      process.kill(process.pid, "SIGKILL");`;
    await new Promise<void>((resolve) => {
      execFile(process.execPath, ["--input-type=module", "-e", script], { cwd: packageDir }, () =>
        resolve(),
      );
    });
    const list = (await beauvoir(["locks", "list", dataDir, "--json"])).json();
    expect(list[0]).toMatchObject({ name: "boot-instance", holderAlive: false });
    const broken = await beauvoir([
      "locks",
      "break",
      dataDir,
      "boot-instance",
      "--if-dead",
      "--json",
    ]);
    expect(broken.code).toBe(0);
    expect(broken.json()).toMatchObject({ name: "boot-instance", outcome: "broken" });
  });
});

describe("progress on long work", () => {
  it("draws a bar only when the output is a terminal, and erases it before printing", async () => {
    await signedRun();
    const frames: string[] = [];
    const terminal = await beauvoir(["status", dataDir], {
      stdout: { write: (text: string) => frames.push(text), isTTY: true },
      progressThresholdBytes: 1,
    });
    expect(terminal.code).toBe(1); // the reset connection left a key in doubt
    const text = frames.join("");
    expect(text).toMatch(/^\rverifying the audit chain \[#+\] 100% /);
    expect(text).toContain("\r\u001b[K");
    expect(text.slice(text.lastIndexOf("\u001b[K") + 3)).toMatch(/^data directory: /);
    const piped = await beauvoir(["audit", "verify", dataDir], { progressThresholdBytes: 1 });
    expect(piped.stdout).toMatch(/^OK: /);
    expect(piped.stderr).toBe("");
  });
});

describe("output helpers", () => {
  it("formats durations and times for people", () => {
    expect(
      [Number.NaN, 850, 12_000, 300_000, 10_800_000, 3 * 86_400_000].map(formatDuration),
    ).toEqual(["?", "850 ms", "12 s", "5 min", "3 h", "3 d"]);
    expect(formatTime(undefined)).toBe("-");
    expect(formatTime(0)).toBe("1970-01-01T00:00:00.000Z");
  });
});

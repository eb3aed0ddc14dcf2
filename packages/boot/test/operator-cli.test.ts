import { type ChildProcess, execFile, fork } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boot } from "../src/index.js";
import { beauvoir } from "./beauvoir-in-process.js";
import {
  commentLanded,
  readEffects,
  UNFINISHED,
  unfinishedStep,
} from "./fixtures/operator-steps.mjs";
import { waitForExit } from "./spawn-crash-worker.js";

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));

let root: string;
let dataDir: string;
let effectsFile: string;
let child: ChildProcess | undefined;

/** Runs the installed command (the committed shim over the build), as an operator would. */
async function bin(name: "beauvoir" | "beauvoir-audit", argv: string[]) {
  const path =
    name === "beauvoir"
      ? join(packageDir, "bin", "beauvoir.js")
      : join(packageDir, "..", "audit-trail", "bin", "beauvoir-audit.js");
  try {
    const { stdout, stderr } = await run(process.execPath, [path, ...argv], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Every file under `dir` with its size, mtime and content hash: what "writes nothing" is checked against. */
async function fingerprint(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) {
        await walk(path);
        continue;
      }
      const info = await stat(path);
      const hash = createHash("sha256")
        .update(await readFile(path))
        .digest("hex");
      result[path.slice(dir.length)] = `${info.size}:${info.mtimeMs}:${hash}`;
    }
  };
  await walk(dir);
  return result;
}

interface KeyJson {
  key: string;
  status: string;
  inDoubt: boolean;
  action: string;
  error?: string;
}

async function keys(): Promise<KeyJson[]> {
  return JSON.parse((await beauvoir(["keys", "list", dataDir, "--json"])).stdout) as KeyJson[];
}

function keyOf(list: KeyJson[], action: string): string {
  return list.find((entry) => entry.action === action)!.key;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-operator-"));
  dataDir = join(root, "data");
  effectsFile = join(root, "effects.log");
  child = fork(`${fixtures}operator-worker.mjs`, [JSON.stringify({ dataDir, effectsFile })], {
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker gave no signal\n${stderr}`)), 30_000);
    child!.on("message", (message: { ready?: boolean }) => {
      if (message.ready) {
        clearTimeout(timer);
        resolve();
      }
    });
    child!.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code}) before its steps stopped\n${stderr}`));
    });
  });
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await rm(root, { recursive: true, force: true });
});

describe("beauvoir on a data directory whose instance is still running", () => {
  it("status shows the live instance, its in-flight steps and the chain, and writes nothing", async () => {
    const before = await fingerprint(dataDir);
    const human = await beauvoir(["status", dataDir]);
    expect(human.stdout).toMatch(new RegExp(`instance: running \\(pid ${child!.pid}`));
    expect(human.stdout).toContain("2 pending"); // create_branch stopped before its key was claimed
    expect(human.stdout).toContain("audit: verifies");
    const json = JSON.parse((await beauvoir(["status", dataDir, "--json"])).stdout);
    expect(json.instance).toMatchObject({ running: true, pid: child!.pid, lockStatus: "live" });
    // Steps of a live instance are in flight, not in doubt.
    expect(json.keys.pending).toHaveLength(2);
    expect(json.keys.inDoubt).toEqual([]);
    expect(json.openIntents.map((intent: { action: string }) => intent.action).sort()).toEqual([
      "add_issue_comment",
      "create_branch",
      "merge_pull_request",
    ]);
    expect(json.audit).toMatchObject({ valid: true, hmacChecked: false });
    expect(
      json.locks.find((lock: { name: string }) => lock.name === "boot-instance"),
    ).toMatchObject({
      status: "live",
      pid: child!.pid,
      holderAlive: true,
    });
    // The bin too, as a separate process, while the instance runs.
    const viaBin = await bin("beauvoir", ["status", dataDir, "--json"]);
    expect(JSON.parse(viaBin.stdout).instance.running).toBe(true);
    for (const argv of [
      ["keys", "list", dataDir],
      ["locks", "list", dataDir],
      ["store", "list", dataDir],
      ["store", "show", dataDir, "cursor"],
      ["audit", "verify", dataDir],
      ["audit", "stats", dataDir],
      ["audit", "tail", dataDir, "-n", "3"],
      ["report", dataDir, "--html", join(root, "live.html")],
    ]) {
      expect((await beauvoir(argv)).code, argv.join(" ")).toBe(0);
    }
    expect(await fingerprint(dataDir)).toEqual(before);
  });

  it("refuses every command that changes state, exit 3, and changes nothing", async () => {
    const before = await fingerprint(dataDir);
    const list = await keys();
    const branchKey = keyOf(list, "merge_pull_request");
    for (const argv of [
      ["keys", "resolve", dataDir, branchKey, "done"],
      ["keys", "reset", dataDir, branchKey],
      ["store", "restore", dataDir, "cursor", "--from-bak"],
      ["locks", "break", dataDir, "idempotency-index", "--if-dead"],
      ["locks", "break", dataDir, "boot-instance", "--if-dead"],
      ["audit", "repair", dataDir],
      ["audit", "prune", dataDir, "--before", "2100-01-01"],
    ]) {
      const result = await beauvoir(argv);
      expect(result.code, argv.join(" ")).toBe(3);
      expect(result.stderr, argv.join(" ")).toMatch(
        /^beauvoir: refused: .*(live instance|live process)/,
      );
    }
    expect(await fingerprint(dataDir)).toEqual(before);
  });
});

describe("beauvoir after the instance was killed with SIGKILL", () => {
  it("status shows the dead holder, the keys in doubt and the open intents (exit 1)", async () => {
    child!.kill("SIGKILL");
    await waitForExit(child!);
    const result = await beauvoir(["status", dataDir, "--json"]);
    expect(result.code).toBe(1);
    const json = JSON.parse(result.stdout);
    expect(json.instance).toMatchObject({ running: false, lockStatus: "stale" });
    // The killed instance's own record of its boot.
    expect(json.lastBoot).toMatchObject({ version: 1, pid: child!.pid, mode: "autonomous" });
    expect(json.keys.inDoubt.map((key: KeyJson) => key.action).sort()).toEqual([
      "add_issue_comment",
      "merge_pull_request",
    ]);
    expect(json.keys.failed.map((key: KeyJson) => key.action)).toEqual(["create_review"]);
    expect(json.openIntents).toHaveLength(3);
    expect(json.attention.join("\n")).toMatch(/2 key\(s\) in doubt/);
    const locks = JSON.parse((await beauvoir(["locks", "list", dataDir, "--json"])).stdout);
    expect(locks.find((lock: { name: string }) => lock.name === "boot-instance")).toMatchObject({
      status: "stale",
      staleReason: "dead-pid",
      holderAlive: false,
    });
    const human = await beauvoir(["keys", "list", dataDir, "--status", "in-doubt"]);
    expect(human.stdout).toMatch(/pending \(in doubt\)/);
  });

  it("breaks the dead holder's index lock, repairs nothing in a sound history, shows a record", async () => {
    const broken = await beauvoir(["locks", "break", dataDir, "idempotency-index", "--if-dead"]);
    expect(broken).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^broken: idempotency-index \(pid \d+\), dead-pid/),
    });
    // The command took the dead instance's lock for its work and gave it back.
    const locks = JSON.parse((await beauvoir(["locks", "list", dataDir, "--json"])).stdout);
    expect(locks.map((lock: { name: string }) => lock.name)).toEqual([]);
    expect(await beauvoir(["audit", "repair", dataDir])).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("Nothing to repair"),
    });
    const record = await beauvoir(["audit", "show", dataDir, "1", "--json"]);
    expect(JSON.parse(record.stdout)).toMatchObject({
      seq: 1,
      phase: "intent",
      action: "add_labels",
    });
  });

  it("shows a key with the audit records carrying it", async () => {
    const key = keyOf(await keys(), "merge_pull_request");
    const shown = await beauvoir(["keys", "show", dataDir, key]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("status:   pending (in doubt");
    expect(shown.stdout).toMatch(/audit records: 1\n {2}#\d+ \S+ intent/);
    expect(await beauvoir(["keys", "show", dataDir, "no-such-key"])).toMatchObject({ code: 1 });
  });

  it("records a key resolved by hand, which the next boot does not run again", async () => {
    const list = await keys();
    const mergeKey = keyOf(list, "merge_pull_request");
    const resolved = await beauvoir([
      "keys",
      "resolve",
      dataDir,
      mergeKey,
      "done",
      "--reason",
      "merged by hand on GitHub",
    ]);
    expect(resolved).toMatchObject({ code: 0 });
    expect(resolved.stdout).toContain("was pending, now completed");
    const audit = await beauvoir(["audit", "tail", dataDir, "-n", "1", "--json"]);
    expect(JSON.parse(audit.stdout)).toMatchObject({
      phase: "result",
      dedupeKey: mergeKey,
      result: { $reconciled: "done", by: "operator" },
    });
    // The failed review is reset on purpose: its cause was fixed.
    const reviewKey = keyOf(list, "create_review");
    expect(
      await beauvoir(["keys", "reset", dataDir, reviewKey, "--reason", "fixed"]),
    ).toMatchObject({
      code: 0,
    });

    const effectsBefore = readEffects(effectsFile);
    expect(effectsBefore.filter((line) => line.startsWith("merge_pull_request"))).toHaveLength(1);
    const app = await boot({
      dataDir,
      log: { level: "error" },
      auditTrail: { maxSizeBytes: 4_096 },
      reconcilers: { add_issue_comment: commentLanded(effectsFile) },
    });
    try {
      expect(app.reconciliation).toMatchObject({ promoted: [keyOf(list, "add_issue_comment")] });
      const outcomes: Record<string, string> = {};
      for (const [action, resource] of UNFINISHED) {
        outcomes[action] = (
          await app.executor.execute(unfinishedStep(action, resource, effectsFile))
        ).status;
      }
      expect(outcomes).toEqual({
        create_branch: "executed",
        add_issue_comment: "reconciled",
        merge_pull_request: "reconciled",
      });
    } finally {
      await app.shutdown();
    }
    const effectsAfter = readEffects(effectsFile);
    expect(effectsAfter.filter((line) => line.startsWith("merge_pull_request"))).toHaveLength(1);
    expect(effectsAfter.filter((line) => line.startsWith("add_issue_comment"))).toHaveLength(1);
    expect(effectsAfter.filter((line) => line.startsWith("create_branch"))).toHaveLength(1);
    const after = await keys();
    expect(after.find((entry) => entry.key === mergeKey)).toMatchObject({ status: "completed" });
    expect(after.find((entry) => entry.key === reviewKey)).toBeUndefined();
    const status = await beauvoir(["status", dataDir]);
    expect(status).toMatchObject({ code: 0 });
    expect(status.stdout).toMatch(
      /last boot: \S+ pid \d+, mode autonomous\n {2}reconciliation: promoted 1, rerun 0, failed 0, unresolved 0, closedIntents 1/,
    );
  });

  it("shows, damages and restores a store from its bak", async () => {
    const shown = await beauvoir(["store", "show", dataDir, "cursor", "--json"]);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      current: "primary",
      state: { lastSeenId: 2 },
    });
    const primary = join(dataDir, "stores", "cursor.json");
    await writeFile(
      primary,
      (await readFile(primary, "utf8")).replace('"lastSeenId": 2', '"lastSeenId": 9'),
    );
    const damaged = await beauvoir(["store", "show", dataDir, "cursor"]);
    expect(damaged.code).toBe(1);
    expect(damaged.stdout).toContain("primary:  checksum-mismatch");
    expect(damaged.stdout).toContain("serves:   bak");
    expect(await beauvoir(["store", "restore", dataDir, "cursor"])).toMatchObject({ code: 2 });
    const restored = await beauvoir(["store", "restore", dataDir, "cursor", "--from-bak"]);
    expect(restored).toMatchObject({ code: 0 });
    expect(
      JSON.parse((await beauvoir(["store", "show", dataDir, "cursor", "--json"])).stdout),
    ).toMatchObject({
      current: "primary",
      primary: { health: "valid" },
      state: { lastSeenId: 1 },
      quarantined: [expect.anything()],
    });
    expect(await beauvoir(["store", "show", dataDir, "nope"])).toMatchObject({ code: 1 });
  });

  it("breaks a dead holder's lock only, and says so", async () => {
    const lockFile = join(dataDir, "locks", "nightly.lock");
    const instance = await readFile(join(dataDir, "locks", "boot-instance.lock"), "utf8").catch(
      () => "",
    );
    expect(instance).toBe(""); // shutdown released it
    // A lock left by a process that is gone (the killed worker's pid).
    const manager = new (await import("@beauvoir/locks")).LockManager({
      lockDir: join(dataDir, "locks"),
      isProcessAlive: () => true,
    });
    await manager.acquire("nightly");
    const record = JSON.parse(await readFile(lockFile, "utf8"));
    expect(record.pid).toBe(process.pid);
    // Held by this live process: refused.
    expect(await beauvoir(["locks", "break", dataDir, "nightly", "--if-dead"])).toMatchObject({
      code: 3,
    });
    expect(await beauvoir(["locks", "break", dataDir, "nightly"])).toMatchObject({ code: 2 });
    await manager.releaseAll();
    expect(await beauvoir(["locks", "break", dataDir, "nightly", "--if-dead"])).toMatchObject({
      code: 1,
    });
  });

  it("prunes rotated audit files; the rest verifies and the next boot starts on it", async () => {
    const files = (await readdir(join(dataDir, "audit"))).filter((name) => name.endsWith(".jsonl"));
    expect(files.length).toBeGreaterThan(2);
    const pruned = await beauvoir(["audit", "prune", dataDir, "--before", "2100-01-01", "--json"]);
    expect(pruned.code).toBe(0);
    expect(JSON.parse(pruned.stdout).pruned.length).toBe(files.length - 1);
    expect(await beauvoir(["audit", "verify", dataDir])).toMatchObject({ code: 0 });
    expect(await bin("beauvoir-audit", ["verify", dataDir])).toMatchObject({ code: 0 });
    const app = await boot({ dataDir, log: { level: "error" } });
    expect(app.mode).toBe("autonomous");
    await app.shutdown();
  });
});

describe("beauvoir: verify cases, usage, exit codes", () => {
  it("fails verification of an empty data directory and of a cut current file", async () => {
    const empty = join(root, "empty");
    await mkdir(join(empty, "audit"), { recursive: true });
    const viaAudit = await bin("beauvoir-audit", ["verify", empty]);
    expect(viaAudit.code).toBe(1);
    expect(viaAudit.stdout).not.toMatch(/^OK/);
    expect(await beauvoir(["audit", "verify", empty])).toMatchObject({ code: 1 });

    const head = JSON.parse((await beauvoir(["audit", "verify", dataDir, "--json"])).stdout);
    const anchor = `${head.lastSeq}:${head.lastHash}`;
    expect(await beauvoir(["audit", "verify", dataDir, "--expect-head", anchor])).toMatchObject({
      code: 0,
    });
    await writeFile(join(dataDir, "audit", "audit.jsonl"), "");
    const cut = await beauvoir(["audit", "verify", dataDir, "--expect-head", anchor]);
    expect(cut.code).toBe(1);
    expect(cut.stdout).toContain("head_mismatch");
  });

  it("gives clean one-line errors and documented exit codes", async () => {
    expect(await beauvoir(["--version"])).toMatchObject({ code: 0, stdout: "test\n" });
    const version = await bin("beauvoir", ["--version"]);
    const manifest = JSON.parse(await readFile(join(packageDir, "package.json"), "utf8"));
    expect(version).toMatchObject({ code: 0, stdout: `${manifest.version}\n` });
    const help = await beauvoir(["keys", "resolve", "--help"]);
    expect(help).toMatchObject({ code: 0 });
    expect(help.stdout).toMatch(/^Usage: beauvoir keys resolve \[dataDir\] <key> done\|not_done/);
    expect((await beauvoir(["audit", "prune", "--help"])).stdout).toContain("--before DATE");
    const cases: [string[], number, RegExp][] = [
      [[], 2, /^beauvoir: no command given\n/],
      [["frobnicate"], 2, /^beauvoir: unknown command: frobnicate\n/],
      [["status", "--bogus"], 2, /^beauvoir: Unknown option --bogus\n/],
      [["status"], 2, /^beauvoir: no data directory/],
      [["status", join(root, "missing")], 1, /no such directory\n$/],
      [["status", root], 1, /is not a Beauvoir data directory/],
      [["keys", "resolve", dataDir, "k", "maybe"], 2, /verdict must be done or not_done/],
      [["keys", "list", dataDir, "--status", "odd"], 2, /--status must be one of/],
      [["report", dataDir], 2, /report needs --html/],
      [["audit"], 2, /audit needs a command/],
      [["audit", "show", dataDir, "99999"], 1, /No record with seq 99999/],
    ];
    for (const [argv, code, message] of cases) {
      const result = await beauvoir(argv);
      expect(result.code, argv.join(" ")).toBe(code);
      expect(result.stderr, argv.join(" ")).toMatch(message);
      expect(result.stderr).not.toMatch(/scandir|ENOENT: no such file or directory, /);
    }
    const fromEnvironment = await beauvoir(["locks", "list", "--json"], {
      env: { BEAUVOIR_DATA_DIR: dataDir },
    });
    expect(fromEnvironment.code).toBe(0);
  });
});

// Issue 12 (boot side) and issue 15's "boot leaves a record of itself", on a
// real data directory: what boot does with each kind of damage, the fail
// stop of a running subsystem, durable directories, and last-boot.json.
import { constants } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createFaultyFileSystem } from "@beauvoir/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { boot, readLastBootRecord } from "../src/index.js";
import {
  auditFile,
  bootAndRun,
  captureSink,
  flipBit,
  offsetInLine,
  runSomeSteps,
} from "./boot-data-dir.js";

let root: string;
let counter = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-boot-integrity-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
const freshDir = () => join(root, `d${++counter}`);
const silent = { level: "silent" as const };
// biome-ignore lint/suspicious/noExplicitAny: the tests read errors and JSON files field by field
type Loose = Record<string, any>;

async function bootError(config: Parameters<typeof boot>[0]): Promise<Loose> {
  return boot(config).then(
    async (app) => {
      await app.shutdown();
      throw new Error(`boot did not abort (mode ${app.mode})`);
    },
    (error: unknown) => error as Loose,
  );
}

/** A write step on `resource` whose side effect is a no-op. */
const write = (app: Awaited<ReturnType<typeof boot>>, resource: string) =>
  app.executor.execute({
    action: "add_labels",
    scope: "acme/widgets",
    resource,
    params: {},
    run: async () => "done",
  });

async function lastBoot(dataDir: string): Promise<Loose> {
  return JSON.parse(await readFile(join(dataDir, "last-boot.json"), "utf8"));
}

describe("audit damage aborts boot (P0), naming the file and the first bad record", () => {
  it("a flipped bit in record 1: BootError with the file, line and seq; the file is untouched", async () => {
    const dataDir = freshDir();
    await bootAndRun(dataDir);
    const file = auditFile(dataDir);
    await flipBit(file, await offsetInLine(file, 1, "add_labels"), 1);
    const before = await readFile(file);
    const error = await bootError({ dataDir, log: silent });
    expect(error.code).toBe("BOOT_FAILED");
    expect(error.step).toBe("auditTrail");
    expect(error.message).toContain(file);
    expect(error.health.mode).not.toBe("autonomous");
    expect(error.health.damage).toEqual([
      expect.objectContaining({
        subsystem: "auditTrail",
        code: "AUDIT_CORRUPT",
        file,
        line: 1,
        seq: 1,
        outcome: "aborted",
        repair: `beauvoir-audit repair ${dirname(file)}`,
      }),
    ]);
    expect(await readFile(file)).toEqual(before);
    // The aborted boot held the instance lock, so it left its record.
    const record = await lastBoot(dataDir);
    expect(record.health.success).toBe(false);
    expect(record.aborted).toMatchObject({ step: "auditTrail" });
    expect(record.aborted.error).toContain("AUDIT_CORRUPT");
  });

  it("a damaged rotated segment aborts too (the whole history is verified)", async () => {
    const dataDir = freshDir();
    await bootAndRun(dataDir, { auditTrail: { maxSizeBytes: 1_000 } });
    const segments = (await readdir(dirname(auditFile(dataDir)))).filter(
      (name) => name !== "audit.jsonl" && name.endsWith(".jsonl"),
    );
    expect(segments.length).toBeGreaterThan(0);
    const oldest = join(dirname(auditFile(dataDir)), segments.sort()[0] as string);
    await flipBit(oldest, await offsetInLine(oldest, 1, "acme"), 2);
    const error = await bootError({ dataDir, log: silent, auditTrail: { maxSizeBytes: 1_000 } });
    expect(error.step).toBe("auditTrail");
    expect(error.health.damage[0]).toMatchObject({ code: "AUDIT_CORRUPT", file: oldest, line: 1 });
  });

  it("a key over an unsigned history: the message and the repair name start-signing", async () => {
    const dataDir = freshDir();
    await bootAndRun(dataDir);
    const error = await bootError({ dataDir, log: silent, hmacKey: "k".repeat(32) });
    expect(error.step).toBe("auditTrail");
    expect(error.message).toContain("start-signing");
    expect(error.health.damage[0]).toMatchObject({ code: "AUDIT_CORRUPT" });
    expect(error.health.damage[0].repair).toContain("beauvoir-audit start-signing");
  });

  it("a symbolic link in place of audit.jsonl: SYMLINK_REFUSED, the target untouched", async () => {
    const dataDir = freshDir();
    const outside = join(root, `outside-${counter}.txt`);
    await writeFile(outside, "not yours\n");
    await mkdir(join(dataDir, "audit"), { recursive: true });
    await symlink(outside, auditFile(dataDir));
    const error = await bootError({ dataDir, log: silent });
    expect(error.health.damage[0]).toMatchObject({ code: "SYMLINK_REFUSED", outcome: "aborted" });
    expect(await readFile(outside, "utf8")).toBe("not yours\n");
  });

  it("allowDev: dev mode, loudly, with the damage reported", async () => {
    const dataDir = freshDir();
    await bootAndRun(dataDir);
    const file = auditFile(dataDir);
    await flipBit(file, await offsetInLine(file, 2, "result"), 0);
    const { lines, sink } = captureSink();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    const app = await boot({ dataDir, allowDev: true, log: { level: "info", sink } });
    try {
      expect(app.mode).toBe("dev");
      expect(app.health.damage[0]).toMatchObject({ code: "AUDIT_CORRUPT", outcome: "dev" });
      expect(lines.some((line) => line.includes("DEV MODE"))).toBe(true);
    } finally {
      await app.shutdown();
      process.off("warning", onWarning);
    }
    expect(
      warnings.some((warning) => (warning as { code?: string }).code === "BEAUVOIR_DEV_MODE"),
    ).toBe(true);
  });
});

describe("index damage degrades boot: writes refused, reads run, the repair named", () => {
  it("a flipped bit in a journal line that is not the tail", async () => {
    const dataDir = freshDir();
    const app = await boot({ dataDir, log: silent, idempotency: { compactionThreshold: 1_000 } });
    await runSomeSteps(app);
    await app.shutdown();
    const journals = (await readdir(join(dataDir, "idempotency"))).filter((name) =>
      name.startsWith("journal."),
    );
    const journal = join(dataDir, "idempotency", journals.sort().at(-1) as string);
    const lineCount = (await readFile(journal, "utf8")).split("\n").filter(Boolean).length;
    expect(lineCount).toBeGreaterThan(3);
    await flipBit(journal, await offsetInLine(journal, 3, "completed"), 1);
    const again = await boot({ dataDir, log: silent });
    try {
      expect(again.mode).toBe("degraded");
      const damage = again.health.damage.find((entry) => entry.subsystem === "idempotencyIndex");
      expect(damage).toMatchObject({
        code: "INDEX_CORRUPT",
        file: journal,
        line: 3,
        outcome: "degraded",
        repair: `beauvoir-index repair ${join(dataDir, "idempotency")}`,
      });
      const warning = again.health.warnings.find((text) => text.startsWith("idempotencyIndex"));
      expect(warning).toContain("beauvoir-index repair");
      expect(warning).toContain("write steps are refused");
      await expect(
        again.executor.execute({
          action: "add_labels",
          scope: "acme/widgets",
          resource: "issue-a1",
          params: { labels: ["bug"] },
          run: async () => ({ labels: ["bug"] }),
        }),
      ).rejects.toMatchObject({ code: "DEGRADED_MODE" });
      const read = await again.executor.execute({
        kind: "read",
        action: "get_issue",
        scope: "acme/widgets",
        resource: "issue-a1",
        params: {},
        run: async () => 1,
      });
      expect(read.status).toBe("read");
    } finally {
      await again.shutdown();
    }
  });
});

describe("damaged store files are warnings in the health report", () => {
  it("a flipped bit in the unfinished-runs list: the bak serves, the warning names the file", async () => {
    const dataDir = freshDir();
    await bootAndRun(dataDir);
    const file = join(dataDir, "stores", "workflow-runs.json");
    await flipBit(file, -4, 0);
    const app = await boot({ dataDir, log: silent });
    try {
      expect(app.mode).toBe("autonomous");
      expect(app.health.warnings.some((text) => text.includes(file) && text.includes(".bak"))).toBe(
        true,
      );
      expect(app.health.damage).toContainEqual(
        expect.objectContaining({
          subsystem: "stores",
          code: "STORE_BAK_SERVED",
          file,
          outcome: "warning",
        }),
      );
      // Loading the list serves the bak (one write older: the run was still
      // listed) and quarantines the damaged file; resuming finds it finished.
      expect(await app.workflows.listUnfinished()).toEqual(["run-a"]);
    } finally {
      await app.shutdown();
    }
    // The next boot finds the quarantined copy and says so.
    const next = await boot({ dataDir, log: silent });
    try {
      expect(next.health.damage.some((entry) => entry.code === "STORE_QUARANTINED")).toBe(true);
    } finally {
      await next.shutdown();
    }
  });

  it("an unreadable resilience state: a warning, breakers closed, still autonomous", async () => {
    const dataDir = freshDir();
    await bootAndRun(dataDir);
    await mkdir(join(dataDir, "stores", "resilience-state.json"));
    const app = await boot({ dataDir, log: silent });
    try {
      expect(app.mode).toBe("autonomous");
      expect(app.health.subsystems.resilienceState).toBe("degraded");
      expect(app.health.warnings.some((text) => text.startsWith("resilienceState"))).toBe(true);
    } finally {
      await app.shutdown();
    }
  });
});

describe("FAIL_STOPPED at run time: the live health says degraded, later writes refused", () => {
  it("the index's fsync fails: health degraded, DEGRADED_MODE naming the index, reads run", async () => {
    const dataDir = freshDir();
    let failJournalSync = false;
    const fs = createFaultyFileSystem({
      inject: (call) =>
        failJournalSync && call.operation === "sync" && call.path.includes("journal.")
          ? { error: "EIO" }
          : undefined,
    });
    const { lines, sink } = captureSink();
    const app = await boot({ dataDir, fs, log: { level: "info", sink } });
    try {
      expect(app.health.mode).toBe("autonomous");
      failJournalSync = true;
      const label = (resource: string) => write(app, resource);
      await expect(label("issue-1")).rejects.toMatchObject({ code: "FAIL_STOPPED" });
      expect(app.health.mode).toBe("degraded");
      expect(app.health.subsystems.idempotencyIndex).toBe("failed");
      expect(app.health.damage).toContainEqual(
        expect.objectContaining({
          subsystem: "idempotencyIndex",
          code: "FAIL_STOPPED",
          outcome: "fail_stopped",
        }),
      );
      expect(lines.some((line) => line.includes("fail-stopped"))).toBe(true);
      // The record says so too, for an operator's status while the instance runs.
      await vi.waitFor(async () => {
        const { record } = await readLastBootRecord({ dataDir });
        expect(record?.health.damage).toContainEqual(
          expect.objectContaining({ subsystem: "idempotencyIndex", code: "FAIL_STOPPED" }),
        );
      });
      const refused = (await label("issue-2").then(
        () => new Error("not refused"),
        (error: unknown) => error as Error,
      )) as Error;
      expect(refused).toMatchObject({ code: "DEGRADED_MODE" });
      expect(refused.message).toContain("idempotencyIndex");
      const read = await app.executor.execute({
        kind: "read",
        action: "get_issue",
        scope: "acme/widgets",
        resource: "issue-2",
        params: {},
        run: async () => 2,
      });
      expect(read.result).toBe(2);
    } finally {
      await app.shutdown();
    }
  });
});

describe("FAIL_STOPPED of the audit trail or a store at run time", () => {
  async function bootFailingSync(dataDir: string, pathPart: string) {
    let failing = false;
    const fs = createFaultyFileSystem({
      inject: (call) =>
        failing && call.operation === "sync" && call.path.includes(pathPart)
          ? { error: "EIO" }
          : undefined,
    });
    const app = await boot({ dataDir, fs, log: silent });
    return { app, fail: () => (failing = true) };
  }
  it("the audit trail's fsync fails: degraded, later writes refused naming the audit trail", async () => {
    const { app, fail } = await bootFailingSync(freshDir(), "audit.jsonl");
    try {
      fail();
      await expect(write(app, "issue-1")).rejects.toMatchObject({ code: "FAIL_STOPPED" });
      expect(app.health.mode).toBe("degraded");
      expect(app.health.subsystems.auditTrail).toBe("failed");
      await expect(write(app, "issue-2")).rejects.toMatchObject({
        code: "DEGRADED_MODE",
        failedSubsystems: [expect.stringContaining("auditTrail (FAIL_STOPPED")],
      });
    } finally {
      await app.shutdown();
    }
  });

  it("a store's fsync fails: the stores are failed in the health report, steps still run", async () => {
    const { app, fail } = await bootFailingSync(freshDir(), `${"/"}stores${"/"}`);
    try {
      fail();
      await expect(
        app.workflows.start(
          { name: "w", steps: [{ name: "s", action: "add_labels", run: async () => 1 }] },
          {},
        ),
      ).rejects.toMatchObject({ code: "FAIL_STOPPED" });
      expect(app.health.subsystems.stores).toBe("failed");
      expect(app.health.mode).toBe("autonomous");
      expect(app.health.warnings.some((text) => text.startsWith("stores fail-stopped"))).toBe(true);
      await expect(write(app, "issue-3")).resolves.toMatchObject({ status: "executed" });
    } finally {
      await app.shutdown();
    }
  });
});

describe("boot's directories are durable in their parents, its probe never follows a link", () => {
  it("every directory boot creates is followed by an fsync of its parent", async () => {
    const dataDir = join(freshDir(), "nested", "data");
    const fs = createFaultyFileSystem();
    const app = await boot({ dataDir, fs, log: silent });
    await app.shutdown();
    const calls = fs.calls;
    for (const directory of [
      dataDir,
      ...["audit", "stores", "locks", "idempotency"].map((name) => join(dataDir, name)),
    ]) {
      const made = calls.findIndex((call) => call.operation === "mkdir" && call.path === directory);
      expect(made, `${directory} was not created`).toBeGreaterThanOrEqual(0);
      const synced = calls.findIndex(
        (call, index) =>
          index > made && call.operation === "fsyncDirectory" && call.path === dirname(directory),
      );
      expect(
        synced,
        `${dirname(directory)} was not fsynced after creating ${directory}`,
      ).toBeGreaterThan(made);
    }
  });

  it("a planted probe link is removed, its target untouched", async () => {
    const dataDir = freshDir();
    const outside = join(root, `probe-target-${counter}.txt`);
    await writeFile(outside, "keep\n");
    await mkdir(dataDir, { recursive: true });
    await symlink(outside, join(dataDir, `.boot-probe.${process.pid}`));
    const app = await boot({ dataDir, log: silent });
    await app.shutdown();
    expect(await readFile(outside, "utf8")).toBe("keep\n");
    expect(await readdir(dataDir)).not.toContain(`.boot-probe.${process.pid}`);
    expect(constants.O_NOFOLLOW).toBeGreaterThan(0);
  });
});

describe("an aborted boot closes what it opened", () => {
  it("an abort at step 4 (tools): the next boot in the same process is autonomous", async () => {
    const dataDir = freshDir();
    const error = await bootError({
      dataDir,
      log: silent,
      actionPolicy: { tools: { add_labels: {} } },
      toolNames: [],
    });
    expect(error.step).toBe("tools");
    const app = await boot({ dataDir, log: silent });
    try {
      expect(app.health.warnings).toEqual([]);
      expect(app.mode).toBe("autonomous");
    } finally {
      await app.shutdown();
    }
  });
});

describe("issue 15: boot leaves a record of itself", () => {
  it("last-boot.json: a checksummed store state with mode, health and reconciliation, redacted", async () => {
    const dataDir = freshDir();
    const token = ["ghp", "_", "Q1w2E3r4T5".repeat(3), "987654"].join("");
    // A registered tool outside the policy is a health warning that quotes its name.
    const config = {
      dataDir,
      log: silent,
      actionPolicy: { tools: { add_labels: {} } },
      toolNames: ["add_labels", `tool-${token}`],
    };
    const app = await boot(config);
    await app.shutdown();
    expect(app.health.warnings.some((text) => text.includes("tool-"))).toBe(true);
    expect(JSON.stringify(app.health)).not.toContain(token);
    const text = await readFile(join(dataDir, "last-boot.json"), "utf8");
    expect(text).not.toContain(token);
    const record = JSON.parse(text);
    expect(record).toMatchObject({
      _checksum: expect.stringMatching(/^sha256:/),
      version: 1,
      pid: process.pid,
      mode: "autonomous",
      health: { success: true, mode: "autonomous", damage: [] },
      reconciliation: { promoted: [], rerun: [], failed: [], unresolved: [], closedIntents: [] },
    });
    expect(new Date(record.bootedAt).toISOString()).toBe(record.bootedAt);
    const second = await boot(config);
    await second.shutdown();
    expect(await readdir(dataDir)).toContain("last-boot.json.bak");
  });

  it("readLastBootRecord reads it without changing anything, also from the bak", async () => {
    const dataDir = freshDir();
    expect((await readLastBootRecord({ dataDir })).record).toBeNull();
    for (const round of [1, 2]) {
      const app = await boot({
        dataDir,
        log: silent,
        toolNames: round === 2 ? ["x"] : undefined,
        actionPolicy: round === 2 ? { tools: {} } : undefined,
      });
      await app.shutdown();
    }
    const fresh = await readLastBootRecord({ dataDir });
    expect(fresh).toMatchObject({ source: "primary", record: { version: 1, mode: "autonomous" } });
    expect(fresh.record?.health.warnings).toHaveLength(1);
    const file = join(dataDir, "last-boot.json");
    await flipBit(file, -10, 1);
    const damaged = await readFile(file);
    const fromBak = await readLastBootRecord({ dataDir });
    expect(fromBak.source).toBe("bak");
    expect(fromBak.record?.health.warnings).toHaveLength(0);
    expect(fromBak.inspection.primary.health).toBe("checksum-mismatch");
    expect(await readFile(file)).toEqual(damaged);
  });

  it("an aborted boot that does not hold the instance lock leaves the running instance's record alone", async () => {
    const dataDir = freshDir();
    const running = await boot({ dataDir, log: silent });
    try {
      const before = await readFile(join(dataDir, "last-boot.json"));
      const second = await bootError({ dataDir, log: silent });
      expect(second.cause).toMatchObject({ code: "LOCK_HELD" });
      expect(await readFile(join(dataDir, "last-boot.json"))).toEqual(before);
    } finally {
      await running.shutdown();
    }
    // A bad option: nothing at all is written.
    const other = freshDir();
    await bootError({ dataDir: other, log: silent, shutdownTimeoutMs: -1 });
    await expect(readdir(other)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("promotions, re-runs and closed intents are logged at info, one line each with key and action", async () => {
    const dataDir = freshDir();
    const stopAt: Record<string, string> = {
      "issue-recorded": "result",
      "issue-hook": "pending",
      "issue-rerun": "pending",
      "issue-close": "intent",
    };
    const app = await boot({
      dataDir,
      log: silent,
      onDurablePoint: (event) => {
        const resource = Object.keys(stopAt).find((name) => event.idempotencyKey.includes(name));
        if (resource && stopAt[resource] === event.point) throw new Error(`stop at ${event.point}`);
      },
    });
    for (const resource of Object.keys(stopAt)) {
      await app.executor
        .execute({
          // check_then_retry, so the hook decides; the others are safe_retry.
          action: resource === "issue-hook" ? "add_issue_comment" : "add_labels",
          scope: "acme/widgets",
          resource,
          params: {},
          run: async () => "done",
        })
        .catch(() => {});
    }
    await app.shutdown();
    const { lines, sink } = captureSink();
    const again = await boot({
      dataDir,
      log: { level: "info", sink },
      reconcilers: { add_issue_comment: async () => "done" },
    });
    await again.shutdown();
    const infoLine = (pattern: RegExp) =>
      lines.filter((line) => line.includes('"level":"info"') && pattern.test(line));
    // One line per decision: the key the index settles from its audit result included.
    expect(infoLine(/promoted/)).toHaveLength(2);
    for (const [resource, decision, action] of [
      ["issue-recorded", "promoted", "add_labels"],
      ["issue-hook", "promoted", "add_issue_comment"],
      ["issue-rerun", "rerun", "add_labels"],
      ["issue-close", "closed", "add_labels"],
    ] as const) {
      const found = infoLine(
        new RegExp(`"decision":"${decision}".*${resource}|${resource}.*"decision":"${decision}"`),
      );
      expect(found, decision).toHaveLength(1);
      expect(found[0]).toContain(resource);
      expect(found[0]).toContain(`"action":"${action}"`);
    }
    const record = await lastBoot(dataDir);
    expect(record.reconciliation.promoted).toEqual([expect.stringContaining("issue-hook")]);
    expect(record.reconciliation.rerun).toEqual([expect.stringContaining("issue-rerun")]);
    expect(record.reconciliation.closedIntents).toHaveLength(1);
  });
});

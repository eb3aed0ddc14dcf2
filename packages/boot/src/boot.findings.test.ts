// The boot-level findings of issue 13 (10, 11, 13), on a real data directory.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failWithBadGateways, step } from "../test/executor-harness.js";
import { boot } from "./boot-orchestrator.js";

const TOKEN = `ghp_${"Z9y8X7w6V5".repeat(3)}654321`;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-boot-findings-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const silent = { level: "silent" as const };

async function auditRecords(dataDir: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(join(dataDir, "audit", "audit.jsonl"), "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("finding 10: the services' types and the logger follow the mode", () => {
  it("hands out the redacting logger with child(), also around a logger of the caller's", async () => {
    const lines: Array<{ message: string; data: unknown }> = [];
    const keep = (message: string, data?: unknown) => lines.push({ message, data });
    const plain = { debug: keep, info: keep, warn: keep, error: keep };
    const app = await boot({
      dataDir: join(root, "logger"),
      initializers: { logger: () => plain },
    });
    try {
      expect(app.mode).toBe("autonomous");
      if (app.mode !== "autonomous") return;
      const github = app.services.logger.child({ subsystem: "github" });
      github.info(`calling with ${TOKEN}`, { authorization: `token ${TOKEN}` });
      const line = lines.find((entry) => entry.message.startsWith("calling with"));
      expect(line?.message).toBe("calling with [REDACTED:github-pat]");
      expect(JSON.stringify(line?.data)).not.toContain(TOKEN);
      expect(line?.data).toMatchObject({ subsystem: "github" });
      // Present in autonomous mode: no undefined check, no cast.
      expect(app.services.rateLimiter.getRemainingTokens("triage").workflow).toBeGreaterThan(0);
      expect(app.services.circuitBreakers.get("add_labels").getState()).toBe("CLOSED");
    } finally {
      await app.shutdown();
    }
  });
});

describe("finding 11: dev mode without an index", () => {
  it("still records the intent and the result of a write step", async () => {
    const dataDir = join(root, "dev");
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    const app = await boot({
      dataDir,
      allowDev: true,
      log: silent,
      initializers: {
        idempotencyIndex: async () => {
          throw new Error("index disk gone");
        },
      },
    });
    try {
      expect(app.mode).toBe("dev");
      const outcome = await app.executor.execute(
        step("add_labels", "issue-1", async () => ({ labels: ["bug"] })),
      );
      expect(outcome).toMatchObject({ status: "executed", idempotencyKey: "" });
    } finally {
      await app.shutdown();
      process.off("warning", onWarning);
    }
    const records = await auditRecords(dataDir);
    expect(records.map((record) => record.phase)).toEqual(["intent", "result"]);
    expect(records[1]).toMatchObject({ action: "add_labels", result: { labels: ["bug"] } });
  });
});

describe("finding 12: a bucket that does not refill", () => {
  it("boots with refillPerHour 0 and spends its one token", async () => {
    const app = await boot({
      dataDir: join(root, "no-refill"),
      log: silent,
      rateLimiter: { global: { capacity: 1, refillPerHour: 0 } },
    });
    try {
      expect(app.mode).toBe("autonomous");
      expect(
        (await app.executor.execute(step("add_labels", "issue-1", async () => 1))).status,
      ).toBe("executed");
      await expect(
        app.executor.execute(step("add_labels", "issue-2", async () => 2)),
      ).rejects.toMatchObject({ code: "RATE_LIMIT_EXHAUSTED" });
    } finally {
      await app.shutdown();
    }
  });
});

describe("finding 13: breakers and GitHub's blocks survive a restart", () => {
  it("boots again with the open circuit and the block the last run had", async () => {
    const dataDir = join(root, "restart");
    const first = await boot({ dataDir, log: silent });
    if (first.mode !== "autonomous") throw new Error(`booted ${first.mode}`);
    await failWithBadGateways(first.executor, "add_labels");
    expect(first.services.circuitBreakers.get("add_labels").getState()).toBe("OPEN");
    // What the executor does with a secondary limit a step threw.
    first.services.rateLimiter.recordRateLimit("triage", "secondary", 600);
    const blockedUntil = first.services.rateLimiter.blockedUntil;
    expect(blockedUntil).toBeGreaterThan(Date.now() + 590_000);
    await first.shutdown();

    const second = await boot({ dataDir, log: silent });
    try {
      if (second.mode !== "autonomous") throw new Error(`booted ${second.mode}`);
      expect(second.services.circuitBreakers.get("add_labels").getState()).toBe("OPEN");
      expect(second.services.circuitBreakers.get("create_review").getState()).toBe("CLOSED");
      const restored = second.services.rateLimiter.blockedUntil ?? 0;
      expect(Math.abs(restored - (blockedUntil ?? 0))).toBeLessThanOrEqual(1_000);
      let calls = 0;
      await expect(
        second.executor.execute(step("add_labels", "issue-9", async () => ++calls)),
      ).rejects.toMatchObject({ code: "CIRCUIT_OPEN" });
      expect(calls).toBe(0);
    } finally {
      await second.shutdown();
    }
  });
});

describe("issue 12, two sources of truth: a lost index never repeats a side effect", () => {
  it("deduplicates from the audit trail after the index files are gone, and repairs the index", async () => {
    const dataDir = join(root, "lost-index");
    let comments = 0;
    const post = step("add_issue_comment", "issue-3", async () => ({ id: ++comments }));
    const first = await boot({ dataDir, log: silent });
    expect((await first.executor.execute(post)).status).toBe("executed");
    await first.shutdown();
    for (const file of await readdir(join(dataDir, "idempotency"))) {
      await rm(join(dataDir, "idempotency", file), { recursive: true, force: true });
    }
    const second = await boot({ dataDir, log: silent });
    try {
      const again = await second.executor.execute(post);
      expect(again).toMatchObject({ status: "deduplicated", result: { id: 1 } });
      expect(comments).toBe(1);
      expect((await second.services.idempotencyIndex?.check(again.idempotencyKey))?.status).toBe(
        "completed",
      );
    } finally {
      await second.shutdown();
    }
  });
});

describe("finding 1 on the real index: an operator clears a failed key", () => {
  it("resetKey lets a rejected step run again, and the audit trail says who decided", async () => {
    const dataDir = join(root, "reset");
    const app = await boot({ dataDir, log: silent });
    try {
      const rejected = step("create_review", "pr-1", () =>
        Promise.reject(Object.assign(new Error("Validation Failed"), { status: 422, headers: {} })),
      );
      await expect(app.executor.execute(rejected)).rejects.toMatchObject({ status: 422 });
      const refused = await app.executor.execute(rejected).catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: "STEP_FAILED" });
      const key = (refused as { idempotencyKey: string }).idempotencyKey;
      expect((await app.executor.resetKey(key, { reason: "fixed by hand" }))?.status).toBe(
        "failed",
      );
      const again = await app.executor.execute({ ...rejected, run: async () => ({ id: 1 }) });
      expect(again.status).toBe("executed");
    } finally {
      await app.shutdown();
    }
    const errors = (await auditRecords(dataDir))
      .filter((record) => record.phase === "result")
      .map((record) => record.error ?? "ok");
    expect(errors).toEqual([
      "REJECTED: attempt 1 of 3 rejected: HTTP 422: Validation Failed",
      "RESET: an operator reset the key (fixed by hand)",
      "ok",
    ]);
  });
});

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyAuditFile } from "@beauvoir/audit-trail";
import { type FileSystem, nodeFileSystem } from "@beauvoir/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boot } from "../src/index.js";

// Shaped like a GitHub personal access token, so the redactor's pattern catches it.
const TOKEN = `ghp_${"A1b2C3d4E5".repeat(3)}123456`;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-integration-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("integration (TASK-3.7): boot → workflow step → audit trail", () => {
  it("records intent and result in a valid chain, completes the dedup entry, and redacts every log line", async () => {
    const dataDir = join(root, "data");
    const lines: string[] = [];
    const sink = (line: unknown) =>
      lines.push(typeof line === "string" ? line : JSON.stringify(line));
    const app = await boot({ dataDir, log: { level: "debug", sink } });
    expect(app.mode).toBe("autonomous");
    expect(Object.values(app.health.subsystems).every((status) => status === "ok")).toBe(true);

    let calls = 0;
    const runId = await app.workflows.start(
      {
        name: "comment-on-issue",
        steps: [
          {
            name: "post",
            action: "add_issue_comment",
            identify: () => ({
              scope: "acme/widgets",
              resource: "issue-12",
              params: { body: "Thanks!", authorization: `token ${TOKEN}` },
            }),
            // A simulated GitHub API call that carelessly logs its token.
            run: async ({ idempotencyKey }) => {
              calls++;
              app.services.logger.info(
                `POST /repos/acme/widgets/issues/12/comments with token ${TOKEN}`,
                {
                  headers: { authorization: `token ${TOKEN}`, "idempotency-key": idempotencyKey },
                },
              );
              return { id: 991, url: "https://github.com/acme/widgets/issues/12#issuecomment-991" };
            },
          },
        ],
      },
      {},
    );
    const run = await app.workflows.run(runId);
    expect(run.status).toBe("completed");
    expect(calls).toBe(1);

    const audit = app.services.auditTrail;
    expect((await audit?.verifyChain())?.valid).toBe(true);
    const records = (await readFile(join(dataDir, "audit", "audit.jsonl"), "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.map((record) => record.phase)).toEqual(["intent", "result"]);
    expect(records[0]).toMatchObject({
      action: "add_issue_comment",
      target: "acme/widgets/issue-12",
    });
    expect(records[1]).toMatchObject({ intentSeq: records[0]?.seq, result: { id: 991 } });
    const key = records[0]?.dedupeKey as string;
    expect((await app.services.idempotencyIndex?.check(key))?.status).toBe("completed");

    // Running the same step again is a dedup hit: no second comment.
    const again = await app.executor.execute({
      action: "add_issue_comment",
      scope: "acme/widgets",
      resource: "issue-12",
      params: { body: "Thanks!", authorization: `token ${TOKEN}` },
      run: async () => ++calls,
    });
    expect(again.status).toBe("deduplicated");
    expect(calls).toBe(1);

    await app.shutdown();
    expect((await verifyAuditFile(join(dataDir, "audit", "audit.jsonl"))).valid).toBe(true);
    // Secrets appear neither in the logs nor on disk.
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((line) => line.includes("POST /repos/acme/widgets"))).toBe(true);
    expect(lines.join("\n")).not.toContain(TOKEN);
    expect(await readFile(join(dataDir, "audit", "audit.jsonl"), "utf8")).not.toContain(TOKEN);
  });
});

/** The real filesystem, except that opening a path matching `pattern` fails with EIO. */
function failingOpen(pattern: RegExp): FileSystem {
  return {
    ...nodeFileSystem,
    open: async (path, flags, mode) => {
      if (pattern.test(path))
        throw Object.assign(new Error(`EIO: i/o error, open '${path}'`), { code: "EIO" });
      return nodeFileSystem.open(path, flags, mode);
    },
  };
}

describe("integration: failures with the real subsystems", () => {
  it("degrades when the idempotency index cannot open: writes refused, reads run, the audit trail untouched", async () => {
    const dataDir = join(root, "degraded");
    const app = await boot({
      dataDir,
      fs: failingOpen(/idempotency\/(journal|snapshot)/),
      log: { level: "silent" },
    });
    try {
      expect(app.mode).toBe("degraded");
      expect(app.health.subsystems).toMatchObject({ auditTrail: "ok", idempotencyIndex: "failed" });
      expect(app.health.warnings.join("\n")).toContain("EIO");
      const step = {
        action: "add_labels",
        scope: "acme/widgets",
        resource: "issue-1",
        params: {},
        run: async () => 1,
      };
      await expect(app.executor.execute(step)).rejects.toMatchObject({ code: "DEGRADED_MODE" });
      expect((await app.executor.execute({ ...step, kind: "read" })).status).toBe("read");
      expect(app.services.auditTrail?.getPendingIntents()).toEqual([]);
    } finally {
      await app.shutdown();
    }
    // The same directory boots normally once the fault is gone.
    const healthy = await boot({ dataDir, log: { level: "silent" } });
    expect(healthy.mode).toBe("autonomous");
    await healthy.shutdown();
  });

  it("aborts when the audit trail cannot open, and leaves the directory bootable", async () => {
    const dataDir = join(root, "aborted");
    const failure = await boot({
      dataDir,
      fs: failingOpen(/audit\.jsonl$/),
      log: { level: "silent" },
    }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "BOOT_FAILED", step: "auditTrail" });
    const healthy = await boot({ dataDir, log: { level: "silent" } });
    expect(healthy.mode).toBe("autonomous");
    await healthy.shutdown();
  });
});

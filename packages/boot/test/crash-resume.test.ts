import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IdempotencyIndex } from "@beauvoir/idempotency";
import { LockManager } from "@beauvoir/locks";
import { ResilientStoreFactory } from "@beauvoir/resilient-store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boot } from "../src/index.js";
import { crashWorkflow, readEffects, reconcilerFor } from "./fixtures/crash-workflow.mjs";
import { spawnCrashWorker } from "./spawn-crash-worker.js";

interface AuditLine {
  seq: number;
  phase: string;
  intentSeq?: number;
  dedupeKey?: string;
  error?: string;
}

async function readAudit(dataDir: string): Promise<AuditLine[]> {
  const text = await readFile(join(dataDir, "audit", "audit.jsonl"), "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditLine);
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-crash-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

type CrashPoint = "intent" | "pending" | "execute" | "result";

/** What the plan's table says must be on disk after each crash point. */
const invariants: Record<
  CrashPoint,
  { auditPhases: string[]; dedup: "none" | "pending"; effectsBefore: number }
> = {
  intent: { auditPhases: ["intent"], dedup: "none", effectsBefore: 0 },
  pending: { auditPhases: ["intent"], dedup: "pending", effectsBefore: 0 },
  execute: { auditPhases: ["intent"], dedup: "pending", effectsBefore: 1 },
  result: { auditPhases: ["intent", "result"], dedup: "pending", effectsBefore: 1 },
};

const scenarios = (["intent", "pending", "execute", "result"] as const).flatMap((crashAfterStep) =>
  (["create_branch", "add_issue_comment"] as const).map((action) => ({ crashAfterStep, action })),
);

describe("crash resume (TASK-3.8): SIGKILL at each durable point, recover in a fresh instance", () => {
  it.each(scenarios)("after $crashAfterStep, $action", async ({ crashAfterStep, action }) => {
    const scenarioDir = join(root, `${crashAfterStep}-${action}`);
    const dataDir = join(scenarioDir, "data");
    const effectsFile = join(scenarioDir, "effects.log");
    const crash = await spawnCrashWorker({ dataDir, crashAfterStep, action, effectsFile });
    expect(crash).toEqual({ step: crashAfterStep, exit: "SIGKILL" });

    // On-disk invariants, read before anything recovers.
    const expected = invariants[crashAfterStep];
    const audit = await readAudit(dataDir);
    expect(audit.map((record) => record.phase)).toEqual(expected.auditPhases);
    const key = audit[0]?.dedupeKey as string;
    expect(key).toMatch(new RegExp(`^${action}:acme/widgets/target:[0-9a-f]{16}$`));
    expect(readEffects(effectsFile)).toHaveLength(expected.effectsBefore);
    const index = new IdempotencyIndex({
      dir: join(dataDir, "idempotency"),
      locks: new LockManager({ lockDir: join(dataDir, "locks") }),
    });
    await index.initialize();
    const dedup = await index.check(key);
    await index.close();
    if (expected.dedup === "none") expect(dedup).toBeNull();
    else expect(dedup).toMatchObject({ status: "pending", intentSeq: audit[0]?.seq });
    const runState = await new ResilientStoreFactory({ baseDir: join(dataDir, "stores") })
      .create<{ outputs: Record<string, unknown> }>("workflow-run.crash-run")
      .get();
    expect(runState?.outputs).toEqual({});

    // Recovery: a fresh instance in this process, on the same directory.
    const app = await boot({
      dataDir,
      workflows: [crashWorkflow(action, effectsFile)],
      reconcilers: { add_issue_comment: reconcilerFor(effectsFile) },
    });
    try {
      expect(app.mode).toBe("autonomous");
      const run = await app.workflows.getRun("crash-run");
      expect(run).toMatchObject({ status: "running", nextStep: 0, outputs: {} });
      if (crashAfterStep === "result") {
        // Promoted by the index from the audit result, before any hook: nothing to decide.
        expect(app.reconciliation).toMatchObject({ promoted: [], rerun: [], failed: [] });
        expect((await app.services.idempotencyIndex?.check(key))?.status).toBe("completed");
      }
      const [final] = await app.workflows.resumeUnfinished();
      expect(final).toMatchObject({ runId: "crash-run", status: "completed" });
      expect((await app.services.idempotencyIndex?.check(key))?.status).toBe("completed");
      // No duplicate side effect: exactly one, whatever the crash point and strategy.
      expect(readEffects(effectsFile)).toEqual([key]);
      const verdict = await app.services.auditTrail?.verifyChain();
      expect(verdict?.valid).toBe(true);
      expect(app.services.auditTrail?.getPendingIntents()).toEqual([]);
      if (expected.dedup === "none") {
        // The orphan intent was closed at boot rather than left dangling.
        expect(app.reconciliation?.closedIntents).toEqual([audit[0]?.seq]);
      }
      if (crashAfterStep === "execute" && action === "add_issue_comment") {
        expect(app.reconciliation?.promoted).toEqual([key]);
      }
      if (
        crashAfterStep === "pending" ||
        (crashAfterStep === "execute" && action === "create_branch")
      ) {
        expect(app.reconciliation?.rerun).toEqual([key]);
      }
    } finally {
      await app.shutdown();
    }
  });
});

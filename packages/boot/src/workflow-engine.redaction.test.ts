// Issue 11: workflow-run state is written redacted, and a run resumed from
// that state by another boot still behaves: a step keyed on a secret keeps
// its key (pinned before its first attempt), so it is not run twice.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryAuditTrail, MemoryIdempotencyIndex, MemoryStoreFactory } from "../test/fakes.js";
import { boot } from "./boot-orchestrator.js";
import { DurableStepExecutor } from "./step-executor.js";
import { type WorkflowDefinition, WorkflowEngine } from "./workflow-engine.js";

const TOKEN = ["ghp", "_", "R4nd0mT0k3n".repeat(3), "abc"].join("");

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-workflow-redaction-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function storeTexts(dataDir: string): Promise<string> {
  const directory = join(dataDir, "stores");
  const names = await readdir(directory);
  const texts = await Promise.all(names.map((name) => readFile(join(directory, name), "utf8")));
  return texts.join("\n");
}

describe("workflow-run state on disk is redacted", () => {
  it("input, outputs and errors are stored redacted; the running process keeps them whole", async () => {
    const dataDir = join(root, "stored");
    const app = await boot({ dataDir, log: { level: "silent" } });
    try {
      const runId = await app.workflows.start(
        {
          name: "leaky",
          steps: [
            {
              name: "fetch",
              action: "add_labels",
              run: async () => ({ token: TOKEN, note: `with ${TOKEN}` }),
            },
            {
              name: "use",
              action: "add_labels",
              run: async ({ outputs }) => ({
                saw: (outputs.fetch as { token: string }).token === TOKEN,
              }),
            },
            {
              name: "fail",
              action: "create_review",
              run: async () => {
                throw Object.assign(new Error(`422 for ${TOKEN}`), { status: 422, headers: {} });
              },
            },
          ],
        },
        { credential: TOKEN },
      );
      const state = await app.workflows.run(runId);
      expect(state.status).toBe("failed");
      // In this process the next step saw the output whole.
      expect(state.outputs.use).toEqual({ saw: true });
      expect((state.input as { credential: string }).credential).toBe(TOKEN);
    } finally {
      await app.shutdown();
    }
    const text = await storeTexts(dataDir);
    expect(text).toContain("[REDACTED");
    expect(text).toContain("422 for [REDACTED:github-pat]");
    expect(text).not.toContain(TOKEN);
  });

  it("a step keyed on a secret in the input keeps its key across a resume: one side effect", async () => {
    const dataDir = join(root, "resume");
    let sideEffects = 0;
    const workflow: WorkflowDefinition<{ token: string }> = {
      name: "keyed",
      steps: [
        {
          name: "comment",
          action: "add_issue_comment",
          identify: ({ input }) => ({
            scope: "acme/widgets",
            resource: "issues/9",
            params: { auth: input.token },
          }),
          run: async () => {
            sideEffects++;
            return { id: 9 };
          },
        },
      ],
    };
    // The first process completes the step's key and dies before saving the run's progress.
    const first = await boot({
      dataDir,
      log: { level: "silent" },
      workflows: [workflow as WorkflowDefinition<never>],
      onDurablePoint: (event) => {
        if (event.point === "completed") throw new Error("killed after completing the key");
      },
    });
    const runId = await first.workflows.start("keyed", { token: TOKEN }, { runId: "run-1" });
    await expect(first.workflows.advance(runId)).rejects.toThrow("killed");
    await first.shutdown();
    expect(sideEffects).toBe(1);
    expect(await storeTexts(dataDir)).not.toContain(TOKEN);

    // Another process resumes from the redacted state.
    const second = await boot({
      dataDir,
      log: { level: "silent" },
      workflows: [workflow as WorkflowDefinition<never>],
    });
    try {
      const [resumed] = await second.workflows.resumeUnfinished();
      expect(resumed?.status).toBe("completed");
      expect(sideEffects).toBe(1);
      expect((resumed?.input as { token?: string } | undefined)?.token).not.toBe(TOKEN);
    } finally {
      await second.shutdown();
    }
  });
});

describe("the unredacted states the engine keeps in memory", () => {
  it("are copies, and only for running runs and the last 100 finished ones", async () => {
    const audit = new MemoryAuditTrail();
    const executor = new DurableStepExecutor({
      auditTrail: audit,
      idempotencyIndex: new MemoryIdempotencyIndex(audit),
    });
    const engine = new WorkflowEngine({ executor, storeFactory: new MemoryStoreFactory() });
    const once: WorkflowDefinition<{ token: string }> = {
      name: "once",
      steps: [{ name: "read", action: "get_issue", kind: "read", run: async () => 1 }],
    };
    const runIds: string[] = [];
    for (let run = 0; run < 102; run++) {
      const runId = await engine.start(once, { token: TOKEN }, { runId: `run-${run}` });
      await engine.run(runId);
      runIds.push(runId);
    }
    const newest = await engine.getRun(runIds.at(-1) as string);
    expect((newest?.input as { token?: string } | undefined)?.token).toBe(TOKEN);
    (newest as { outputs: Record<string, unknown> }).outputs.read = "changed by the caller";
    expect((await engine.getRun(runIds.at(-1) as string))?.outputs.read).toBe(1);
    // The two oldest finished runs read back as stored: redacted.
    for (const runId of runIds.slice(0, 2)) {
      expect(JSON.stringify(await engine.getRun(runId))).not.toContain(TOKEN);
    }
    expect((await engine.getRun(runIds[2] as string))?.input).toEqual({ token: TOKEN });
  });
});

describe("names the engine writes as they are", () => {
  it("refuses a run id or a workflow name that the redactor would change", async () => {
    const audit = new MemoryAuditTrail();
    const executor = new DurableStepExecutor({
      auditTrail: audit,
      idempotencyIndex: new MemoryIdempotencyIndex(audit),
    });
    const engine = new WorkflowEngine({ executor, storeFactory: new MemoryStoreFactory() });
    const steps = [
      { name: "read", action: "get_issue", kind: "read" as const, run: async () => 1 },
    ];
    await expect(engine.start({ name: "ok", steps }, {}, { runId: TOKEN })).rejects.toThrow(
      /runId looks like a secret/,
    );
    expect(() => engine.register({ name: TOKEN, steps })).toThrow(
      /workflow name looks like a secret/,
    );
    await expect(engine.start({ name: "ok", steps }, {}, { runId: "run-1" })).resolves.toBe(
      "run-1",
    );
  });
});

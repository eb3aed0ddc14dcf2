// The 20-step triage workflow under the SIGKILL torture loop: real child
// processes, killed at random moments (during boot, in a backoff, while a
// request is on the wire), started again until one finishes, against a
// server that keeps answering with GitHub's faults. After each run: exactly
// one label and one comment per issue, no comment posted twice, a verified
// audit chain, nothing left pending.
import { type ChildProcess, fork } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { verifyAuditFile } from "@beauvoir/audit-trail";
import { boot } from "@beauvoir/boot";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type FaultName, startGitHubServer } from "../src/github-server.js";
import { labelFor } from "../src/issues.js";
import { FAULT_ISSUES } from "./fixtures/triage-app.js";

const worker = fileURLToPath(new URL("./fixtures/triage-worker.ts", import.meta.url));
const TOKEN = `ghp_${"K9j8H7g6F5".repeat(3)}112233`;
const soak = process.env.BEAUVOIR_SOAK !== undefined;
const MIN_KILLS = soak ? 500 : 60;
const FAULTS: FaultName[] = [
  "bad_gateway",
  "secondary",
  "secondary_without_retry_after",
  "primary",
  "reset_before",
  "reset_after",
  "slow",
];

let root: string;
let spare: Life | undefined;

interface Life {
  child: ChildProcess;
  messages: Array<{ type: string; mode?: string }>;
  stderr: string;
}

function forkLife(): Life {
  const child = fork(worker, [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  const life: Life = { child, messages: [], stderr: "" };
  child.on("message", (message: Life["messages"][number]) => life.messages.push(message));
  child.stderr?.on("data", (chunk) => {
    life.stderr += chunk;
  });
  return life;
}

function waitFor(life: Life, type: string, timeoutMs: number): Promise<boolean> {
  if (life.messages.some((message) => message.type === type)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(false), timeoutMs);
    const onMessage = (message: { type: string }) => {
      if (message.type === type) finish(true);
    };
    const onExit = () => finish(false);
    function finish(seen: boolean) {
      clearTimeout(timer);
      life.child.off("message", onMessage);
      life.child.off("exit", onExit);
      resolve(seen);
    }
    life.child.on("message", onMessage);
    life.child.once("exit", onExit);
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-agent-torture-"));
});
afterAll(async () => {
  if (spare) {
    spare.child.kill("SIGKILL");
    await exited(spare.child);
  }
  await rm(root, { recursive: true, force: true });
});

it(`keeps every side effect exactly once over at least ${MIN_KILLS} SIGKILLs, with GitHub's faults on`, {
  timeout: soak ? 3_600_000 : 300_000,
}, async () => {
  let kills = 0;
  let runs = 0;
  let lives = 0;
  const injected: Record<string, number> = {};
  while (kills < MIN_KILLS) {
    runs++;
    const dataDir = join(root, `run-${runs}`);
    const server = await startGitHubServer({
      token: TOKEN,
      owner: "acme",
      repo: "widgets",
      issues: FAULT_ISSUES,
      faults: {
        retryAfterSec: 1,
        secondaryDefaultWaitMs: 300,
        primaryResetInSec: 1,
        slowMs: 900,
        decide: () => {
          if (Math.random() >= 0.25) return undefined;
          const fault = FAULTS[Math.floor(Math.random() * FAULTS.length)]!;
          injected[fault] = (injected[fault] ?? 0) + 1;
          return fault;
        },
      },
    });
    try {
      for (let life = 1; ; life++) {
        lives++;
        const current = spare ?? forkLife();
        spare = forkLife();
        expect(await waitFor(current, "loaded", 30_000), current.stderr).toBe(true);
        current.child.send({ dataDir, apiUrl: server.url, token: TOKEN });
        // Late lives get to finish, so every run ends after a bounded number of kills.
        const finished = await waitFor(
          current,
          "done",
          life > 12 ? 120_000 : Math.random() * 2_500,
        );
        if (!finished) {
          current.child.kill("SIGKILL");
          kills++;
        }
        await exited(current.child);
        if (!finished && current.child.signalCode !== "SIGKILL") {
          throw new Error(`worker failed on its own:\n${current.stderr}`.slice(0, 3_000));
        }
        for (const message of current.messages) {
          if (message.type === "booted") expect(message.mode).toBe("autonomous");
        }
        if (finished) break;
      }
      for (const issue of FAULT_ISSUES) {
        expect(server.labelsOf(issue.number), `run ${runs} issue ${issue.number}`).toEqual([
          labelFor(issue),
        ]);
        expect(server.commentsOf(issue.number), `run ${runs} issue ${issue.number}`).toHaveLength(
          1,
        );
      }
      expect(server.stats().duplicateComments).toBe(0);
    } finally {
      await server.close();
    }
    expect((await verifyAuditFile(join(dataDir, "audit", "audit.jsonl"))).valid).toBe(true);
    const app = await boot({ dataDir, log: { level: "silent" } });
    try {
      expect(app.services.auditTrail?.getPendingIntents()).toEqual([]);
      expect(app.reconciliation).toMatchObject({
        rerun: [],
        failed: [],
        unresolved: [],
        awaitingHook: [],
      });
    } finally {
      await app.shutdown();
    }
  }
  console.info(
    `agent torture: ${kills} SIGKILLs over ${lives} lives and ${runs} runs of 20 steps; faults answered: ${JSON.stringify(injected)}`,
  );
  expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
});

// Every check_then_retry write of the table, SIGKILLed at each durable point
// (after its intent, after its claim, while GitHub has performed it but not
// answered, after the answer, after its result, after its completion), then
// restarted on the same data directory and asked to do it again: exactly one
// effect on the server, and no marker on two bodies. Half the restarts pass
// beauvoirReconcilers() to boot, half leave it to the plugin's own
// (deferred) reconciliation.
import { type ChildProcess, fork } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { boot } from "@beauvoir/boot";
import { Octokit } from "@octokit/rest";
import { afterAll, beforeAll, expect, it } from "vitest";
import { beauvoirReconcilers } from "../src/index.js";
import { CHECK_THEN_RETRY_ACTIONS, SEED } from "./fixtures/check-then-retry-actions.js";
import { startGitHubServer } from "./github-server.js";
import { beauvoirOctokit, TOKEN } from "./harness.js";

const worker = fileURLToPath(new URL("./fixtures/action-worker.ts", import.meta.url));
const POINTS = ["intent", "pending", "sent", "execute", "result", "completed"] as const;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

let root: string;
let spare: Worker | undefined;

interface Worker {
  child: ChildProcess;
  messages: Array<{ type: string }>;
  stderr: string;
}

function forkWorker(): Worker {
  const child = fork(worker, [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  const life: Worker = { child, messages: [], stderr: "" };
  child.on("message", (message: { type: string }) => life.messages.push(message));
  child.stderr?.on("data", (chunk) => {
    life.stderr += chunk;
  });
  return life;
}

function waitFor(life: Worker, type: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (life.messages.some((message) => message.type === type)) return resolve();
    const timer = setTimeout(
      () => reject(new Error(`no "${type}" in ${timeoutMs} ms\n${life.stderr}`)),
      timeoutMs,
    );
    const onMessage = (message: { type: string }) => {
      if (message.type !== type) return;
      clearTimeout(timer);
      life.child.off("message", onMessage);
      resolve();
    };
    life.child.on("message", onMessage);
    life.child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`worker exited before "${type}"\n${life.stderr}`));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-octokit-sigkill-"));
});
afterAll(async () => {
  if (spare) {
    spare.child.kill("SIGKILL");
    await exited(spare.child);
  }
  await rm(root, { recursive: true, force: true });
});

// Alternating by action and point, so every point is restarted both ways.
const scenarios = Object.keys(CHECK_THEN_RETRY_ACTIONS).flatMap((action, actionIndex) =>
  POINTS.map((point, index) => ({
    action,
    point,
    reconcilers: (actionIndex + index) % 2 === 0 ? "deferred" : "boot",
  })),
);
const matrix: string[] = [];

it(`keeps each of ${Object.keys(CHECK_THEN_RETRY_ACTIONS).length} check_then_retry writes exactly once through a SIGKILL at each of ${POINTS.length} points`, {
  timeout: 600_000,
}, async () => {
  let kills = 0;
  for (const [number, { action, point, reconcilers }] of scenarios.entries()) {
    const dataDir = join(root, `${number}-${action}-${point}`);
    let victim: Worker | undefined;
    let releaseAnswers: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      releaseAnswers = resolve;
    });
    const server = await startGitHubServer({
      token: TOKEN,
      ...SEED,
      onPerformed: () => {
        if (point === "sent" && victim && victim.child.exitCode === null)
          victim.child.kill("SIGKILL");
      },
      holdAnswers: () => (point === "sent" && victim?.child.signalCode === null ? held : undefined),
    });
    try {
      victim = spare ?? forkWorker();
      spare = forkWorker();
      await waitFor(victim, "loaded", 30_000);
      victim.child.send({ dataDir, apiUrl: server.url, token: TOKEN, action, crashAt: point });
      if (point !== "sent") {
        await waitFor(victim, "at", 30_000);
        victim.child.kill("SIGKILL");
      }
      await exited(victim.child);
      releaseAnswers();
      expect(victim.child.signalCode, `${action} at ${point}: ${victim.stderr}`).toBe("SIGKILL");
      kills++;
      const effectsAtKill = CHECK_THEN_RETRY_ACTIONS[action]!.effects(server);

      // The restart, in a fresh instance.
      const app = await boot({
        dataDir,
        log: { level: "silent" },
        retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 100 },
        ...(reconcilers === "boot"
          ? {
              reconcilers: beauvoirReconcilers(
                new Octokit({ auth: TOKEN, baseUrl: server.url, log: silent }),
              ),
            }
          : {}),
      });
      try {
        const octokit = beauvoirOctokit({
          auth: TOKEN,
          baseUrl: server.url,
          log: silent,
          beauvoir: { app },
        });
        await octokit.beauvoir.ready;
        const again = await CHECK_THEN_RETRY_ACTIONS[action]!.perform(octokit);
        const effects = CHECK_THEN_RETRY_ACTIONS[action]!.effects(server);
        expect(effects, `${action} killed at ${point}`).toBe(1);
        for (const [marker, count] of server.markerCounts()) {
          expect(count, `${action} at ${point}: marker ${marker}`).toBe(1);
        }
        const answer = String(again.headers["x-beauvoir-outcome"] ?? "executed");
        const boot5 = app.reconciliation;
        matrix.push(
          `${action.padEnd(20)} ${point.padEnd(9)} ${reconcilers.padEnd(8)} effects at kill ${effectsAtKill}, after restart ${effects}; restart answered ${answer}; boot step 5 ${JSON.stringify({ promoted: boot5?.promoted.length, rerun: boot5?.rerun.length, awaitingHook: boot5?.awaitingHook.length, closedIntents: boot5?.closedIntents.length })}`,
        );
      } finally {
        await app.shutdown();
      }
      const check = await boot({ dataDir, log: { level: "silent" } });
      try {
        expect(check.reconciliation, `${action} at ${point}`).toMatchObject({
          rerun: [],
          failed: [],
          unresolved: [],
          awaitingHook: [],
        });
        expect(await check.services.auditTrail?.getPendingIntents()).toEqual([]);
      } finally {
        await check.shutdown();
      }
    } finally {
      releaseAnswers();
      await server.close();
    }
  }
  console.info(`SIGKILL matrix (${kills} kills):\n${matrix.join("\n")}`);
  expect(kills).toBe(scenarios.length);
});

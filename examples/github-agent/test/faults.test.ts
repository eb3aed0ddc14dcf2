// The 20-step triage workflow against a GitHub-compatible server that
// answers with everything GitHub does on a bad day: 502s, secondary limits
// with and without retry-after, a used-up quota with its reset time,
// connection resets before and after the write, and one slow answer. The app
// has no retry or rate-limit code; the executor must still do every side
// effect exactly once, wait as long as the server asked (not less, not much
// more), and keep the comment breaker closed while the labels endpoint fails.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyAuditFile } from "@beauvoir/audit-trail";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  type FaultName,
  type RunningGitHubServer,
  startGitHubServer,
} from "../src/github-server.js";
import { labelFor } from "../src/issues.js";
import { FAULT_ISSUES, runTriage } from "./fixtures/triage-app.js";

const TOKEN = `ghp_${"Q1w2E3r4T5".repeat(3)}987654`;
const SECONDARY_WAIT_MS = 1_500;

/** The first write of each step gets its fault; the retries get through. */
const PLAN: Record<string, FaultName> = {
  "labels#1": "bad_gateway",
  "comment#1": "secondary",
  "labels#2": "reset_before",
  "comment#2": "secondary_without_retry_after",
  "labels#3": "bad_gateway",
  "comment#3": "slow",
  "labels#4": "primary",
  "comment#4": "reset_after",
  "labels#5": "reset_after",
  "comment#5": "bad_gateway",
  "comment#6": "reset_before",
};

let root: string;
let server: RunningGitHubServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-faults-"));
  const faulted = new Set<string>();
  server = await startGitHubServer({
    token: TOKEN,
    owner: "acme",
    repo: "widgets",
    issues: FAULT_ISSUES,
    faults: {
      retryAfterSec: 1,
      secondaryDefaultWaitMs: SECONDARY_WAIT_MS,
      primaryResetInSec: 2,
      slowMs: 1_500,
      decide: ({ kind, issue }) => {
        const step = `${kind}#${issue}`;
        if (faulted.has(step)) return undefined;
        faulted.add(step);
        return PLAN[step];
      },
    },
  });
});

afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

it("does every side effect exactly once, waits as long as GitHub asked, and keeps unrelated breakers closed", async () => {
  const dataDir = join(root, "data");
  const transitions: string[] = [];
  await runTriage({
    dataDir,
    apiUrl: server.url,
    token: TOKEN,
    repository: "acme/widgets",
    concurrency: 2,
    secondaryDefaultWaitMs: SECONDARY_WAIT_MS,
    timeoutMs: 800,
    onBooted: (app) => {
      app.services.circuitBreakers?.on("stateChange", () => transitions.push("change"));
    },
  });
  const stats = server.stats();
  // Every fault of the plan was answered.
  expect(stats).toMatchObject({
    badGateways: 3,
    secondaryRateLimited: 2,
    primaryRateLimited: 1,
    connectionResets: 4,
    slowAnswers: 1,
  });
  // Exactly once: one label and one comment per issue, no comment posted twice.
  for (const issue of FAULT_ISSUES) {
    expect(server.labelsOf(issue.number), `issue ${issue.number}`).toEqual([labelFor(issue)]);
    expect(server.commentsOf(issue.number), `issue ${issue.number}`).toHaveLength(1);
  }
  expect(stats).toMatchObject({ labelsApplied: 10, commentsCreated: 10, duplicateComments: 0 });
  // Nothing was sent before a rate limit the server answered had run out, by
  // either of the two steps running at the time (a request that had already
  // left when the answer came is not counted); and no step waited much longer.
  expect(stats.writesDuringBlock).toBe(0);
  const writes = server.writes();
  const waits = writes
    .filter((write) => write.askedWaitMs !== undefined)
    .map((refused) => {
      const retry = writes.find(
        (later) =>
          later.writeNumber > refused.writeNumber &&
          later.kind === refused.kind &&
          later.issue === refused.issue,
      );
      return {
        outcome: refused.outcome,
        asked: refused.askedWaitMs!,
        waited: retry!.at - refused.at,
      };
    });
  expect(waits.map((wait) => wait.outcome).sort()).toEqual([
    "primary",
    "secondary",
    "secondary_without_retry_after",
  ]);
  for (const wait of waits) {
    expect(wait.waited, wait.outcome).toBeGreaterThanOrEqual(wait.asked);
    expect(wait.waited, wait.outcome).toBeLessThan(wait.asked + 1_500);
  }
  console.info(
    `limiter waits vs what the server asked: ${waits
      .map(
        (wait) =>
          `${wait.outcome} ${wait.waited}/${wait.asked} ms (×${(wait.waited / wait.asked).toFixed(2)})`,
      )
      .join(
        ", ",
      )}; ${stats.writesInFlightAtBlock} write(s) already in flight when a limit was answered`,
  );
  // Four failures counted against add_labels, two against add_issue_comment: neither opened.
  expect(transitions).toEqual([]);
  const chain = await verifyAuditFile(join(dataDir, "audit", "audit.jsonl"));
  expect(chain.valid).toBe(true);
});

// The issue-triage agent. It boots Beauvoir on its data directory, lists the
// open issues, and gives each one a label and a comment, every write through
// the durable step executor. Killed at any moment and started again, it
// finishes the job without doing any side effect twice.
//
// Environment: GITHUB_API_URL, GITHUB_TOKEN, AGENT_DATA_DIR, GITHUB_REPOSITORY (owner/repo).
// Output: one JSON event per line on stdout, for the demo driver.
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { boot } from "@beauvoir/boot";
import { delay } from "@beauvoir/core";
import { type RateLimiter, recordGitHubRateLimit } from "@beauvoir/rate-limiter";
import { jsonLinesSink } from "@beauvoir/redactor";
import { createGitHubClient, GitHubRequestError } from "./github-client.js";
import { labelFor } from "./issues.js";

const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const apiUrl = required("GITHUB_API_URL");
const token = required("GITHUB_TOKEN");
const dataDir = required("AGENT_DATA_DIR");
const repository = required("GITHUB_REPOSITORY");
const github = createGitHubClient(apiUrl, token);
const workflowId = "triage";
const MAX_ATTEMPTS = 6;

const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

interface Issue {
  number: number;
  title: string;
  body: string;
}
interface IssueComment {
  body: string;
}

/** The hidden line that lets a later run recognise a comment this step already posted. */
const markerFor = (idempotencyKey: string) => `<!-- beauvoir:${idempotencyKey} -->`;

const issueOfKey = (key: string): number => Number(key.match(/\/issue-(\d+):/)?.[1]);

async function commentExists(issue: number, idempotencyKey: string, signal?: AbortSignal) {
  const comments = await github.request<IssueComment[]>(
    "GET",
    `/repos/${repository}/issues/${issue}/comments`,
    undefined,
    signal,
  );
  return comments.some((comment) => comment.body.includes(markerFor(idempotencyKey)));
}

const system = await boot({
  dataDir,
  log: {
    level: "debug",
    prefix: "agent",
    sink: jsonLinesSink(createWriteStream(join(dataDir, "agent.log"), { flags: "a" })),
  },
  // After a crash, a comment whose outcome is unknown is looked up before it is posted again.
  reconcilers: {
    add_issue_comment: async (entry) =>
      (await commentExists(issueOfKey(entry.key), entry.key)) ? "done" : "not_done",
  },
  handleSignals: true,
});
const { executor, services } = system;
const logger = services.logger;
const limiter = services.rateLimiter as unknown as RateLimiter;
emit({ type: "boot", health: system.health, reconciliation: system.reconciliation });

let backoffs = 0;

/**
 * Sends one write, waiting out GitHub's rate limits and 5xx answers. A retry
 * of a comment first checks whether the previous attempt landed after all.
 */
async function withRetries<T>(
  send: () => Promise<T>,
  alreadyDone?: () => Promise<T | undefined>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await send();
      limiter.recordSuccess(workflowId);
      return result;
    } catch (error) {
      if (!(error instanceof GitHubRequestError) || attempt === MAX_ATTEMPTS) throw error;
      const limited = recordGitHubRateLimit(limiter, workflowId, error);
      if (!limited && error.status < 500) throw error;
      const waitMs = limiter.getBackoffMs(workflowId);
      backoffs++;
      logger.warn("GitHub asked us to slow down; backing off", {
        status: error.status,
        limited,
        waitMs,
        attempt,
      });
      emit({ type: "backoff", status: error.status, limited, waitMs });
      await delay(waitMs);
      const landed = await alreadyDone?.();
      if (landed !== undefined) return landed;
    }
  }
}

const issues = await executor.execute({
  kind: "read",
  action: "list_issues",
  scope: repository,
  resource: "issues",
  params: { state: "open" },
  run: ({ signal }) =>
    github.request<Issue[]>("GET", `/repos/${repository}/issues?state=open`, undefined, signal),
});
emit({ type: "progress", message: `found ${issues.result.length} open issues` });

for (const issue of issues.result) {
  const label = labelFor(issue);
  const labelled = await executor.execute({
    action: "add_labels",
    scope: repository,
    resource: `issue-${issue.number}`,
    params: { labels: [label] },
    workflowId,
    run: ({ signal }) =>
      withRetries(() =>
        github.request(
          "POST",
          `/repos/${repository}/issues/${issue.number}/labels`,
          { labels: [label] },
          signal,
        ),
      ),
  });
  emit({ type: "step", action: "add_labels", issue: issue.number, status: labelled.status, label });

  const text = `Thanks for the report! Triaged as **${label}**.`;
  const commented = await executor.execute({
    action: "add_issue_comment",
    scope: repository,
    resource: `issue-${issue.number}`,
    params: { body: text },
    workflowId,
    run: ({ signal, idempotencyKey }) =>
      withRetries(
        () =>
          github.request(
            "POST",
            `/repos/${repository}/issues/${issue.number}/comments`,
            { body: `${text}\n\n${markerFor(idempotencyKey)}` },
            signal,
          ),
        async () =>
          (await commentExists(issue.number, idempotencyKey, signal))
            ? { alreadyPosted: true }
            : undefined,
      ),
  });
  emit({
    type: "step",
    action: "add_issue_comment",
    issue: issue.number,
    status: commented.status,
  });
}

// A careless line on purpose: the token goes into a log message. The redacting
// logger must write a placeholder instead; the demo checks every file for it.
logger.debug(`finished with GITHUB_TOKEN=${token}`, { issues: issues.result.length, backoffs });
emit({ type: "done", issues: issues.result.length, backoffs });
await system.shutdown();

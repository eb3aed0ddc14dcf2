// The issue-triage agent. It boots Beauvoir on its data directory, lists the
// open issues, and gives each one a label and a comment, every write through
// the durable step executor. Killed at any moment and started again, it
// finishes the job without doing any side effect twice. GitHub's rate limits,
// 502s and resets are the executor's business: there is no retry or
// rate-limit code here.
//
// Environment: GITHUB_API_URL, GITHUB_TOKEN, AGENT_DATA_DIR, GITHUB_REPOSITORY (owner/repo).
// Output: one JSON event per line on stdout, for the demo driver.
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { boot } from "@beauvoir/boot";
import { jsonLinesSink } from "@beauvoir/redactor";
import { createGitHubClient } from "./github-client.js";
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

async function commentExists(issue: string, idempotencyKey: string, signal: AbortSignal) {
  const comments = await github.request<IssueComment[]>(
    "GET",
    `/repos/${repository}/issues/${issue.replace("issue-", "")}/comments`,
    undefined,
    signal,
  );
  return comments.some((comment) => comment.body.includes(markerFor(idempotencyKey)));
}

const app = await boot({
  dataDir,
  log: {
    level: "debug",
    prefix: "agent",
    sink: jsonLinesSink(createWriteStream(join(dataDir, "agent.log"), { flags: "a" })),
  },
  // A comment whose outcome is unknown (a crash, a 502, a reset) is looked up before it is posted again.
  reconcilers: {
    add_issue_comment: async ({ resource, key, signal }) =>
      (await commentExists(resource, key, signal)) ? "done" : "not_done",
  },
  handleSignals: true,
});
const { executor, services } = app;
emit({ type: "boot", health: app.health, reconciliation: app.reconciliation });

const issues = await executor.execute({
  kind: "read",
  action: "list_issues",
  scope: repository,
  resource: "issues",
  params: { state: "open" },
  workflowId,
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
      github.request(
        "POST",
        `/repos/${repository}/issues/${issue.number}/labels`,
        { labels: [label] },
        signal,
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
      github.request(
        "POST",
        `/repos/${repository}/issues/${issue.number}/comments`,
        { body: `${text}\n\n${markerFor(idempotencyKey)}` },
        signal,
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
services.logger.debug(`finished with GITHUB_TOKEN=${token}`, { issues: issues.result.length });
emit({ type: "done", issues: issues.result.length });
await app.shutdown();

// The issue-triage agent: it boots Beauvoir, lists the open issues with
// @octokit/rest, and gives each one a label and a comment. @beauvoir/octokit
// makes every write a durable step: killed at any moment and started again,
// the agent finishes the job without doing any side effect twice. Rate
// limits, 502s, resets and lost answers are the plugin's business; this file
// is the triage logic.
//
// Environment: GITHUB_API_URL, GITHUB_TOKEN, AGENT_DATA_DIR, GITHUB_REPOSITORY (owner/repo).
// Output: one JSON event per line on stdout, for the demo driver.
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { boot } from "@beauvoir/boot";
import { beauvoir, beauvoirReconcilers } from "@beauvoir/octokit";
import { jsonLinesSink } from "@beauvoir/redactor";
import { Octokit } from "@octokit/rest";
import { labelFor } from "./issues.js";

const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const dataDir = required("AGENT_DATA_DIR");
const token = required("GITHUB_TOKEN");
const [owner = "", repo = ""] = required("GITHUB_REPOSITORY").split("/");
const github = { auth: token, baseUrl: required("GITHUB_API_URL") };
const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

const app = await boot({
  dataDir,
  log: {
    level: "debug",
    prefix: "agent",
    sink: jsonLinesSink(createWriteStream(join(dataDir, "agent.log"), { flags: "a" })),
  },
  // A write a crash cut off is looked up on GitHub (by its hidden marker) at boot.
  reconcilers: beauvoirReconcilers(new Octokit(github)),
  handleSignals: true,
});
emit({ type: "boot", health: app.health, reconciliation: app.reconciliation });
const octokit = new (Octokit.plugin(beauvoir))({ ...github, beauvoir: { app } });
const statusOf = (answer: { headers: Record<string, unknown> }) =>
  answer.headers["x-beauvoir-outcome"] ?? "executed";

const { data: issues } = await octokit.rest.issues.listForRepo({ owner, repo, state: "open" });
emit({ type: "progress", message: `found ${issues.length} open issues` });

for (const issue of issues) {
  const label = labelFor(issue);
  const issue_number = issue.number;
  const labelled = await octokit.rest.issues.addLabels({
    owner,
    repo,
    issue_number,
    labels: [label],
  });
  emit({
    type: "step",
    action: "add_labels",
    issue: issue_number,
    status: statusOf(labelled),
    label,
  });
  const body = `Thanks for the report! Triaged as **${label}**.`;
  const commented = await octokit.rest.issues.createComment({ owner, repo, issue_number, body });
  emit({
    type: "step",
    action: "add_issue_comment",
    issue: issue_number,
    status: statusOf(commented),
  });
}

// A careless line on purpose: the token goes into a log message. The redacting
// logger must write a placeholder instead; the demo checks every file for it.
app.services.logger.debug(`finished with GITHUB_TOKEN=${token}`, { issues: issues.length });
emit({ type: "done", issues: issues.length });
await app.shutdown();

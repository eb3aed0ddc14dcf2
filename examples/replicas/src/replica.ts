// One replica of the issue-triage agent, sharing one PostgreSQL database with
// the others: `boot({ backend: createPostgresBackend({ pool, schema }) })` and
// the same steps as examples/github-agent (a label and a comment per issue).
// A key another replica is running is waited for, a key a dead replica left
// pending is taken over (the comment looked up by its hidden marker first),
// and a rate limit GitHub answered one replica blocks them all.
//
// Environment: DATABASE_URL, GITHUB_API_URL, GITHUB_TOKEN, GITHUB_REPOSITORY,
// REPLICA (its number: it starts with a different issue than the others).
// Output: one JSON event per line on stdout, for the demo driver.
import { boot } from "@beauvoir/boot";
import { createPostgresBackend, postgresSessionSettings } from "@beauvoir/postgres";
import pg from "pg";
import { labelFor } from "../../github-agent/src/issues.js";
import { createGitHubClient } from "./github-client.js";

const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const repository = required("GITHUB_REPOSITORY");
const replica = Number(required("REPLICA"));
const github = createGitHubClient(required("GITHUB_API_URL"), required("GITHUB_TOKEN"));
const workflowId = "triage";
const emit = (event: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ replica, ...event })}\n`);

interface Issue {
  number: number;
  title: string;
  body: string;
}

const markerFor = (idempotencyKey: string) => `<!-- beauvoir:${idempotencyKey} -->`;

const pool = new pg.Pool({
  connectionString: required("DATABASE_URL"),
  max: 8,
  ...postgresSessionSettings(),
});
pool.on("error", () => {});
const backend = createPostgresBackend({
  pool,
  schema: "beauvoir",
  // Short leases, so the demo's takeover comes within seconds.
  instance: { ttlMs: 3_000, heartbeatIntervalMs: 500, safetyMarginMs: 700 },
  // Every replica on this token shares its limits.
  rateLimiter: { scope: `github:${repository}` },
});
const app = await boot({
  backend,
  // REPLICA_LOG_LEVEL=info shows what each replica decided (on stderr).
  log: { level: (process.env.REPLICA_LOG_LEVEL as "info" | undefined) ?? "silent" },
  reconcilers: {
    // A comment whose outcome is unknown (a replica died mid-request) is looked up first.
    add_issue_comment: async ({ resource, key, signal }) => {
      const comments = await github.request<Array<{ body: string }>>(
        "GET",
        `/repos/${repository}/issues/${resource.replace("issue-", "")}/comments`,
        undefined,
        signal,
      );
      return comments.some((comment) => comment.body.includes(markerFor(key)))
        ? "done"
        : "not_done";
    },
  },
  handleSignals: true,
});
emit({ type: "boot", mode: app.mode, instanceId: backend.instance.id });

const issues = await app.executor.execute({
  kind: "read",
  action: "list_issues",
  scope: repository,
  resource: "issues",
  params: { state: "open" },
  workflowId,
  run: ({ signal }) =>
    github.request<Issue[]>("GET", `/repos/${repository}/issues?state=open`, undefined, signal),
});
// Each replica starts at another issue: they meet on the others' keys.
const start = (replica * issues.result.length) / 3;
const order = issues.result.map(
  (_, index) => issues.result[(index + Math.floor(start)) % issues.result.length] as Issue,
);

for (const issue of order) {
  const label = labelFor(issue);
  const labelled = await app.executor.execute({
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
  emit({ type: "step", action: "add_labels", issue: issue.number, status: labelled.status });
  const text = `Thanks for the report! Triaged as **${label}**.`;
  const commented = await app.executor.execute({
    action: "add_issue_comment",
    scope: repository,
    resource: `issue-${issue.number}`,
    params: { body: text },
    workflowId,
    run: ({ signal, idempotencyKey, attemptId, fence }) => {
      emit({ type: "posting", issue: issue.number, attemptId, fence });
      return github.request(
        "POST",
        `/repos/${repository}/issues/${issue.number}/comments`,
        { body: `${text}\n\n${markerFor(idempotencyKey)}` },
        signal,
      );
    },
  });
  emit({
    type: "step",
    action: "add_issue_comment",
    issue: issue.number,
    status: commented.status,
  });
}
emit({ type: "done" });
await app.shutdown();
await pool.end();

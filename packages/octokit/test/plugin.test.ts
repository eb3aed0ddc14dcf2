// The plugin against @octokit/rest and the local GitHub-compatible server:
// what a bot author relies on without writing any retry, rate-limit or
// reconcile code.
import { afterEach, describe, expect, it } from "vitest";
import { auditRecords, type Harness, startHarness } from "./harness.js";

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const repo = { owner: "acme", repo: "widgets" } as const;

describe("a write is a durable step", () => {
  it("posts a comment once with its hidden marker, and answers the same call again without posting", async () => {
    harness = await startHarness();
    const { octokit, server, dataDir } = harness;
    const first = await octokit.rest.issues.createComment({
      ...repo,
      issue_number: 1,
      body: "Thanks!",
    });
    expect(first.status).toBe(201);
    const [posted] = server.comments(1);
    expect(posted?.body).toMatch(
      /^Thanks!\n\n<!-- beauvoir:add_issue_comment:acme\/widgets\/issues\/1\/comments:[0-9a-f]{16} -->$/,
    );
    expect(first.data.id).toBe(posted?.id);

    const again = await octokit.rest.issues.createComment({
      ...repo,
      issue_number: 1,
      body: "Thanks!",
    });
    expect(server.comments(1)).toHaveLength(1);
    expect(again.headers["x-beauvoir-outcome"]).toBe("deduplicated");
    expect(again.status).toBe(201);
    expect(again.data).toMatchObject({
      id: posted?.id,
      body: posted?.body,
      user: { login: "beauvoir-bot[bot]" },
    });

    const records = await auditRecords(dataDir);
    expect(records.map((record) => record.phase)).toEqual(["intent", "result"]);
    expect(records[0]).toMatchObject({
      action: "add_issue_comment",
      target: "acme/widgets/issues/1/comments",
      params: { scope: "acme/widgets", resource: "issues/1/comments", params: { body: "Thanks!" } },
    });
  });

  it("reads go through limiter and breaker only: nothing is recorded", async () => {
    harness = await startHarness();
    const { octokit, dataDir } = harness;
    const issues = await octokit.rest.issues.listForRepo(repo);
    expect(issues.data.map((issue) => issue.number)).toEqual([1, 2, 3]);
    const { data } = await octokit.rest.pulls.get({ ...repo, pull_number: 100 });
    expect(data.head.ref).toBe("feature");
    expect(await auditRecords(dataDir)).toEqual([]);
  });

  it("rejects a bad request once: a RequestError with its status, the key failed for good", async () => {
    harness = await startHarness();
    const { octokit, server } = harness;
    await octokit.rest.repos.createRelease({ ...repo, tag_name: "v1.0.0", body: "first" });
    const error = await octokit.rest.repos
      .createRelease({ ...repo, tag_name: "v1.0.0", body: "second" })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: "HttpError", status: 422, response: { status: 422 } });
    expect((error as Error).constructor.name).toBe("RequestError");
    const repeat = await octokit.rest.repos
      .createRelease({ ...repo, tag_name: "v1.0.0", body: "second" })
      .catch((caught: unknown) => caught);
    expect(repeat).toMatchObject({ code: "STEP_FAILED" });
    expect(server.releases()).toHaveLength(1);
    expect(server.log.filter((request) => request.method === "POST")).toHaveLength(2);
  });
});

describe("GitHub's failures are the plugin's business", () => {
  it("waits out a secondary limit on a write, and holds every other request with that token meanwhile", async () => {
    let limited = false;
    harness = await startHarness({
      server: {
        retryAfterSec: 1,
        faults: ({ method }) => {
          if (method !== "POST" || limited) return undefined;
          limited = true;
          return "secondary";
        },
      },
    });
    const { octokit, server } = harness;
    const started = Date.now();
    const comment = octokit.rest.issues.createComment({ ...repo, issue_number: 1, body: "Hi" });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const read = await octokit.rest.issues.get({ ...repo, issue_number: 2 });
    const readAt = Date.now() - started;
    await comment;
    expect(read.data.number).toBe(2);
    expect(readAt).toBeGreaterThanOrEqual(950);
    const posts = server.log.filter((request) => request.method === "POST");
    expect(posts.map((request) => request.answer)).toEqual(["secondary", 201]);
    expect(server.comments(1)).toHaveLength(1);
  });

  it("slows down before GitHub says no: a response with no quota left holds the next request until the reset", async () => {
    harness = await startHarness({ server: { quotaLimit: 3, quotaResetInSec: 2 } });
    const { octokit, server } = harness;
    await octokit.rest.issues.get({ ...repo, issue_number: 1 });
    await octokit.rest.issues.get({ ...repo, issue_number: 2 });
    const last = await octokit.rest.issues.get({ ...repo, issue_number: 3 });
    expect(last.headers["x-ratelimit-remaining"]).toBe("0");
    const resetAtMs = Number(last.headers["x-ratelimit-reset"]) * 1_000;
    const next = await octokit.rest.issues.createComment({ ...repo, issue_number: 1, body: "Hi" });
    expect(next.status).toBe(201);
    expect(server.log).toHaveLength(4);
    expect(server.log[3]?.at).toBeGreaterThanOrEqual(resetAtMs);
    expect(server.log.map((request) => request.answer)).toEqual([200, 200, 200, 201]);
  });

  it("takes the quota in from a refusal too: a 404 with none left holds the next request", async () => {
    harness = await startHarness({ server: { quotaLimit: 1, quotaResetInSec: 2 } });
    const { octokit, server } = harness;
    const missing = await octokit.rest.issues
      .get({ ...repo, issue_number: 99 })
      .catch((caught: unknown) => caught);
    expect(missing).toMatchObject({ status: 404 });
    const resetAtMs =
      Number(
        (missing as { response: { headers: Record<string, string> } }).response.headers[
          "x-ratelimit-reset"
        ],
      ) * 1_000;
    await octokit.rest.issues.get({ ...repo, issue_number: 1 });
    expect(server.log.map((request) => request.answer)).toEqual([404, 200]);
    expect(server.log[1]?.at).toBeGreaterThanOrEqual(resetAtMs);
  });

  it("keeps a breaker per route: a route GitHub keeps failing is cut off, the others go on", async () => {
    harness = await startHarness({
      boot: { circuitBreaker: { failureThreshold: 2 } },
      server: { faults: ({ path }) => (path.endsWith("/pulls/100") ? "bad_gateway" : undefined) },
    });
    const { octokit, server } = harness;
    const toPull = () => server.log.filter((request) => request.path.endsWith("/pulls/100")).length;
    const first = await octokit.rest.pulls
      .get({ ...repo, pull_number: 100 })
      .catch((caught: unknown) => caught);
    expect(first).toBeInstanceOf(Error);
    const sent = toPull();
    expect(sent).toBeGreaterThanOrEqual(2);
    await expect(octokit.rest.pulls.get({ ...repo, pull_number: 100 })).rejects.toMatchObject({
      code: "CIRCUIT_OPEN",
    });
    expect(toPull()).toBe(sent);
    const issue = await octokit.rest.issues.get({ ...repo, issue_number: 2 });
    expect(issue.data.number).toBe(2);
  });

  it("looks a comment up after an ambiguous failure instead of posting it twice", async () => {
    let faulted = false;
    harness = await startHarness({
      server: {
        seedComments: 230,
        faults: ({ method }) => {
          if (method !== "POST" || faulted) return undefined;
          faulted = true;
          return "reset_after";
        },
      },
    });
    const { octokit, server } = harness;
    const answer = await octokit.rest.issues.createComment({
      ...repo,
      issue_number: 1,
      body: "Once",
    });
    expect(answer.headers["x-beauvoir-outcome"]).toBe("reconciled");
    const mine = server.comments(1).filter((comment) => String(comment.body).startsWith("Once"));
    expect(mine).toHaveLength(1);
    expect(answer.data).toMatchObject({ id: mine[0]?.id });
    // The lookup walked every page (230 earlier comments, 100 a page).
    const pages = server.log.filter(
      (request) => request.method === "GET" && request.path.endsWith("/comments"),
    );
    expect(pages).toHaveLength(3);
    expect(server.log.filter((request) => request.method === "POST")).toHaveLength(1);
  });

  it("retries a 502 that posted nothing, after looking", async () => {
    let faulted = false;
    harness = await startHarness({
      server: {
        faults: ({ method }) => {
          if (method !== "POST" || faulted) return undefined;
          faulted = true;
          return "bad_gateway";
        },
      },
    });
    const { octokit, server } = harness;
    const answer = await octokit.rest.pulls.createReview({
      ...repo,
      pull_number: 100,
      event: "APPROVE",
    });
    expect(answer.status).toBe(200);
    expect(server.reviews(100)).toHaveLength(1);
    expect(server.reviews(100)[0]?.body).toMatch(
      /^<!-- beauvoir:create_review:acme\/widgets\/pulls\/100\/reviews:/,
    );
    expect(server.log.map((request) => `${request.method} ${request.answer}`)).toEqual([
      "POST bad_gateway",
      "GET 200",
      "POST 200",
    ]);
  });

  it("cuts a slow answer off at timeoutMs and finds the pull request it made", async () => {
    let slowed = false;
    harness = await startHarness({
      server: {
        slowMs: 1_500,
        faults: ({ method, path }) => {
          if (method !== "POST" || !path.endsWith("/pulls") || slowed) return undefined;
          slowed = true;
          return "slow";
        },
      },
      plugin: { timeoutMs: 400 },
    });
    const { octokit, server } = harness;
    const answer = await octokit.rest.pulls.create({
      ...repo,
      title: "Bump",
      head: "bump",
      base: "main",
      body: "Bumps things.",
    });
    expect(answer.headers["x-beauvoir-outcome"]).toBe("reconciled");
    expect(server.pulls().filter((pull) => pull.title === "Bump")).toHaveLength(1);
    expect(answer.data).toMatchObject({ title: "Bump", head: { ref: "bump" } });
  });

  it("matches a pull request by head and base when its marker was edited away", async () => {
    harness = await startHarness({
      server: {
        faults: ({ method, path }) =>
          method === "POST" && path.endsWith("/pulls") ? "reset_after" : undefined,
        onPerformed: () => {
          const created = harness?.server.pulls().at(-1);
          if (created) created.body = "Edited by a human before the bot heard back.";
        },
      },
    });
    const { octokit, server } = harness;
    const answer = await octokit.rest.pulls.create({
      ...repo,
      title: "Docs",
      head: "docs",
      base: "main",
    });
    expect(answer.headers["x-beauvoir-outcome"]).toBe("reconciled");
    expect(server.pulls().filter((pull) => pull.title === "Docs")).toHaveLength(1);
    expect(server.log.filter((request) => request.method === "POST")).toHaveLength(1);
  });

  it.each([
    [
      "merge_pull_request",
      "PUT",
      (h: Harness) => h.octokit.rest.pulls.merge({ ...repo, pull_number: 100 }),
      (h: Harness) => [h.server.effects.merge, h.server.merged(100)],
    ],
    [
      "remove_label",
      "DELETE",
      (h: Harness) => h.octokit.rest.issues.removeLabel({ ...repo, issue_number: 2, name: "bug" }),
      (h: Harness) => [h.server.effects.label_removed, h.server.labels(2)],
    ],
    [
      "create_release",
      "POST",
      (h: Harness) => h.octokit.rest.repos.createRelease({ ...repo, tag_name: "v2.0.0" }),
      (h: Harness) => [h.server.effects.release, h.server.releases().length],
    ],
    [
      "create_check_run",
      "POST",
      (h: Harness) =>
        h.octokit.rest.checks.create({ ...repo, name: "lint", head_sha: "b".repeat(40) }),
      (h: Harness) => [h.server.effects.check_run, h.server.checkRuns().length],
    ],
    [
      "add_review_comment",
      "POST",
      (h: Harness) =>
        h.octokit.rest.pulls.createReviewComment({
          ...repo,
          pull_number: 100,
          body: "Nit",
          commit_id: "b".repeat(40),
          path: "a.ts",
          line: 1,
        }),
      (h: Harness) => [h.server.effects.review_comment, h.server.reviewComments(100).length],
    ],
  ] as const)("reconciles %s after its answer was lost", async (_action, method, act, state) => {
    let faulted = false;
    harness = await startHarness({
      server: {
        labels: { 2: ["bug", "triage"] },
        faults: (request) => {
          if (request.method !== method || faulted) return undefined;
          faulted = true;
          return "reset_after";
        },
      },
    });
    const answer = await act(harness);
    expect(answer.headers["x-beauvoir-outcome"]).toBe("reconciled");
    expect(state(harness)).toEqual(
      _action === "remove_label"
        ? [1, ["triage"]]
        : _action === "merge_pull_request"
          ? [1, true]
          : [1, 1],
    );
    expect(harness.server.log.filter((request) => request.method === method)).toHaveLength(1);
  });

  it("creates a branch once: a lost answer and a retry that finds it there is the effect, not a failure", async () => {
    let faulted = false;
    harness = await startHarness({
      server: {
        faults: ({ method }) => {
          if (method !== "POST" || faulted) return undefined;
          faulted = true;
          return "reset_after";
        },
      },
    });
    const { octokit, server } = harness;
    const sha = "d".repeat(40);
    const answer = await octokit.rest.git.createRef({ ...repo, ref: "refs/heads/topic", sha });
    expect(answer.data).toMatchObject({ ref: "refs/heads/topic", object: { sha } });
    expect(server.refs()["heads/topic"]).toBe(sha);
    expect(server.log.filter((request) => request.method === "POST").map((r) => r.answer)).toEqual([
      "reset_after",
      422,
    ]);
  });
});

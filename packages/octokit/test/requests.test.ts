// How the plugin treats each kind of request: overrides, unknown writes,
// GraphQL, POSTs that change nothing, redaction, dry runs, degraded mode.
import { Octokit } from "@octokit/rest";
import { afterEach, describe, expect, it } from "vitest";
import { beauvoir } from "../src/index.js";
import { auditRecords, type Harness, startHarness, TOKEN } from "./harness.js";

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});
const repo = { owner: "acme", repo: "widgets" } as const;

describe("per-request override", () => {
  it("takes the caller's key (a webhook delivery id): two bodies, one comment", async () => {
    harness = await startHarness();
    const { octokit, server } = harness;
    const request = { beauvoir: { idempotencyKey: "delivery-1f2e" } };
    await octokit.rest.issues.createComment({ ...repo, issue_number: 1, body: "First", request });
    const again = await octokit.rest.issues.createComment({
      ...repo,
      issue_number: 1,
      body: "Second",
      request,
    });
    expect(again.headers["x-beauvoir-outcome"]).toBe("deduplicated");
    expect(server.comments(1).map((comment) => comment.body)).toEqual([
      "First\n\n<!-- beauvoir:delivery-1f2e -->",
    ]);
  });

  it("renames the action and keeps the route's built-in lookup", async () => {
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
    const { octokit, server, dataDir, app } = harness;
    const answer = await octokit.rest.issues.createComment({
      ...repo,
      issue_number: 2,
      body: "Welcome!",
      request: { beauvoir: { action: "welcome_comment" } },
    });
    expect(answer.headers["x-beauvoir-outcome"]).toBe("reconciled");
    expect(server.comments(2)).toHaveLength(1);
    expect(app.executor.hasReconciler("welcome_comment")).toBe(true);
    expect((await auditRecords(dataDir))[0]).toMatchObject({ action: "welcome_comment" });
  });

  it("refuses a malformed override before anything is sent", async () => {
    harness = await startHarness();
    const { octokit, server } = harness;
    const bad = [
      [{ strategy: "maybe" }, RangeError, /request\.beauvoir\.strategy/],
      [{ action: "" }, TypeError, /request\.beauvoir\.action/],
      [{ idempotencyKey: 7 }, TypeError, /request\.beauvoir\.idempotencyKey/],
      [{ timeoutMs: -1 }, RangeError, /request\.beauvoir\.timeoutMs/],
      [{ kind: "sideways" }, RangeError, /request\.beauvoir\.kind/],
      ["yes", TypeError, /request\.beauvoir must be an object/],
    ] as const;
    for (const [override, type, message] of bad) {
      const error = await octokit.rest.issues
        .createComment({ ...repo, issue_number: 1, body: "x", request: { beauvoir: override } })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(type);
      expect(String(error)).toMatch(message);
    }
    expect(server.log).toEqual([]);
  });
});

describe("routes the table does not know", () => {
  it("derives the action, uses skip, and fails an ambiguous write for a human instead of repeating it", async () => {
    harness = await startHarness({
      server: { faults: ({ path }) => (path.endsWith("/reactions") ? "reset_after" : undefined) },
    });
    const { octokit, server } = harness;
    expect(
      octokit.beauvoir.plan("POST /repos/{owner}/{repo}/issues/{issue_number}/reactions", {
        ...repo,
        issue_number: 1,
        content: "+1",
      }),
    ).toMatchObject({
      kind: "write",
      action: "post_issues_reactions",
      strategy: undefined,
      resource: "issues/1/reactions",
    });
    const error = await octokit.rest.reactions
      .createForIssue({ ...repo, issue_number: 1, content: "+1" })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: "HttpError", status: 500 });
    expect(server.effects.reaction).toBe(1);
    const repeat = await octokit.rest.reactions
      .createForIssue({ ...repo, issue_number: 1, content: "+1" })
      .catch((caught: unknown) => caught);
    expect(repeat).toMatchObject({
      code: "STEP_FAILED",
      previousError: expect.stringMatching(/^OUTCOME_UNKNOWN/),
    });
    expect(server.effects.reaction).toBe(1);
  });

  it("takes a configured strategy, action or kind for a route", async () => {
    harness = await startHarness({
      plugin: {
        routes: {
          "POST /repos/{owner}/{repo}/issues/{issue_number}/reactions": {
            action: "react",
            strategy: "safe_retry",
          },
          "POST /markdown": { kind: "write" },
        },
      },
    });
    const { octokit } = harness;
    expect(
      octokit.beauvoir.plan("POST /repos/{owner}/{repo}/issues/{issue_number}/reactions", {
        ...repo,
        issue_number: 1,
      }),
    ).toMatchObject({
      action: "react",
      strategy: "safe_retry",
    });
    expect(octokit.beauvoir.plan("POST /markdown", { text: "x" })).toMatchObject({
      kind: "write",
      action: "post_markdown",
      scope: new URL(harness.server.url).host,
    });
  });

  it("recognises a literal path as its route", async () => {
    harness = await startHarness();
    const { octokit, server } = harness;
    await octokit.request("POST /repos/acme/widgets/issues/3/comments", { body: "Literal" });
    expect(server.comments(3)[0]?.body).toMatch(
      /^Literal\n\n<!-- beauvoir:add_issue_comment:acme\/widgets\/issues\/3\/comments:/,
    );
    expect(octokit.beauvoir.plan("GET /repositories/42/issues?page=2")).toMatchObject({
      kind: "read",
      action: "get_repositories_issues",
    });
    expect(octokit.beauvoir.plan("GET /repos/acme/widgets/some/thing")).toMatchObject({
      scope: "acme/widgets",
      resource: "some/thing",
      action: "get_some_thing",
    });
    expect(octokit.beauvoir.plan("GET /repos/{owner}/{repo}", repo)).toMatchObject({
      resource: "repo",
      action: "get_repo",
    });
    expect(octokit.beauvoir.plan("GET /", {})).toMatchObject({
      resource: "root",
      action: "get_root",
    });
    expect(
      octokit.beauvoir.plan("DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", {
        ...repo,
        issue_number: 4,
        name: "good first issue",
      }),
    ).toMatchObject({
      action: "remove_label",
      resource: "issues/4/labels/good%20first%20issue",
      routeParams: { name: "good first issue" },
    });
    expect(
      octokit.beauvoir.plan("PATCH /repos/{owner}/{repo}/issues/{issue_number}", {
        ...repo,
        issue_number: 4,
        state: "closed",
      }),
    ).toMatchObject({ action: "close_issue" });
    expect(octokit.beauvoir.plan("GET /orgs/{org}/repos", { org: "acme" })).toMatchObject({
      scope: "acme",
    });
  });
});

describe("requests that change nothing", () => {
  it("sends GraphQL queries as reads and mutations as writes", async () => {
    harness = await startHarness();
    const { octokit } = harness;
    expect(
      octokit.beauvoir.plan("POST /graphql", { query: "query { viewer { login } }" }).kind,
    ).toBe("read");
    expect(
      octokit.beauvoir.plan("POST /graphql", { query: "# a comment\n{ viewer { login } }" }).kind,
    ).toBe("read");
    expect(
      octokit.beauvoir.plan("POST /graphql", {
        query: 'mutation { addComment(input: { body: "query" }) { clientMutationId } }',
      }),
    ).toMatchObject({ kind: "write", action: "graphql_mutation" });
    expect(
      octokit.beauvoir.plan("POST /app/installations/{installation_id}/access_tokens", {
        installation_id: 1,
      }).kind,
    ).toBe("read");
    expect(octokit.beauvoir.plan("HEAD /repos/{owner}/{repo}", repo).kind).toBe("read");
  });

  it("hands a 404 on a read straight back, without retrying it", async () => {
    harness = await startHarness();
    const { octokit, server } = harness;
    const error = await octokit.rest.issues
      .get({ ...repo, issue_number: 99 })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: "HttpError", status: 404 });
    expect(server.log).toHaveLength(1);
  });

  it("retries a read that met a 502 (reads have no key to protect)", async () => {
    let faulted = false;
    harness = await startHarness({
      server: {
        faults: () => {
          if (faulted) return undefined;
          faulted = true;
          return "bad_gateway";
        },
      },
    });
    const { data } = await harness.octokit.rest.issues.get({ ...repo, issue_number: 1 });
    expect(data.number).toBe(1);
    expect(harness.server.log.map((request) => request.answer)).toEqual(["bad_gateway", 200]);
  });
});

describe("what reaches the caller", () => {
  it("redacts an Octokit error and keeps its class and status", async () => {
    harness = await startHarness();
    const { octokit } = harness;
    await octokit.rest.repos.createRelease({ ...repo, tag_name: "v9" });
    const secret = `ghp_${"Zz9".repeat(12)}`;
    const error = (await octokit.rest.repos
      .createRelease({ ...repo, tag_name: "v9", body: `token ${secret}` })
      .catch((caught: unknown) => caught)) as Error & {
      status: number;
      request: { body: unknown; headers: Record<string, string> };
    };
    expect(error.status).toBe(422);
    expect(error.constructor.name).toBe("RequestError");
    expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.toContain(
      secret,
    );
    expect(JSON.stringify(error.request.body)).toContain("[REDACTED:github-pat]");
    expect(JSON.stringify(error.request.headers)).not.toContain(TOKEN);
  });

  it("redacts what Octokit itself logs about a request (a token in its URL)", async () => {
    const lines: string[] = [];
    const capture = (...data: unknown[]) => {
      lines.push(
        data.map((item) => (typeof item === "string" ? item : JSON.stringify(item))).join(" "),
      );
    };
    harness = await startHarness({
      log: { debug: capture, info: capture, warn: capture, error: capture },
    });
    const secret = `ghp_${"Qq7".repeat(12)}`;
    await harness.octokit.request("GET /repos/{owner}/{repo}/issues/{issue_number}", {
      ...repo,
      issue_number: 1,
      access_token: secret,
    });
    await harness.octokit
      .request("GET /repos/{owner}/{repo}/issues/{issue_number}", {
        ...repo,
        issue_number: 404,
        access_token: secret,
      })
      .catch(() => {});
    expect(lines.join("\n")).toContain("/repos/acme/widgets/issues/1");
    expect(lines.join("\n")).not.toContain(secret);
  });

  it("answers a dry run without sending anything", async () => {
    harness = await startHarness({ boot: { dryRun: true } });
    const { octokit, server } = harness;
    const answer = await octokit.rest.issues.addLabels({
      ...repo,
      issue_number: 1,
      labels: ["bug"],
    });
    expect(answer.headers["x-beauvoir-outcome"]).toBe("dry_run");
    expect(server.log).toEqual([]);
    expect((await octokit.rest.issues.get({ ...repo, issue_number: 1 })).status).toBe(200);
  });

  it("refuses writes in degraded mode and still reads", async () => {
    harness = await startHarness({
      boot: {
        initializers: {
          idempotencyIndex: () => {
            throw new Error("index unavailable");
          },
        },
      },
    });
    const { octokit, app, server } = harness;
    expect(app.mode).toBe("degraded");
    await expect(
      octokit.rest.issues.createComment({ ...repo, issue_number: 1, body: "x" }),
    ).rejects.toMatchObject({ code: "DEGRADED_MODE" });
    expect((await octokit.rest.issues.get({ ...repo, issue_number: 1 })).status).toBe(200);
    expect(server.comments(1)).toEqual([]);
  });

  it("sends two identical writes made at once only once", async () => {
    harness = await startHarness();
    const { octokit, server } = harness;
    const [first, second] = await Promise.all([
      octokit.rest.issues.addLabels({ ...repo, issue_number: 1, labels: ["bug"] }),
      octokit.rest.issues.addLabels({ ...repo, issue_number: 1, labels: ["bug"] }),
    ]);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(server.log.filter((request) => request.method === "POST")).toHaveLength(1);
  });
});

describe("options", () => {
  it("refuses to build an Octokit without the app, naming the option", () => {
    const MyOctokit = Octokit.plugin(beauvoir);
    expect(() => new MyOctokit({ auth: TOKEN })).toThrow(/beauvoir\.app is required/);
    expect(() => new MyOctokit({ beauvoir: { app: {} as never } })).toThrow(/executor is missing/);
    const app = { executor: { execute() {}, registerReconcilers() {}, hasReconciler() {} } };
    expect(() => new MyOctokit({ beauvoir: { app: app as never } })).toThrow(
      /services are missing/,
    );
    const good = { ...app, services: {} } as never;
    expect(() => new MyOctokit({ beauvoir: { app: good, routes: { "post /x": {} } } })).toThrow(
      RangeError,
    );
    expect(() => new MyOctokit({ beauvoir: { app: good, routes: "x" as never } })).toThrow(
      TypeError,
    );
    expect(
      () =>
        new MyOctokit({
          beauvoir: { app: good, routes: { "POST /x": { strategy: "no" as never } } },
        }),
    ).toThrow(/strategy/);
    expect(() => new MyOctokit({ beauvoir: { app: good, timeoutMs: 0 } })).toThrow(
      /beauvoir\.timeoutMs/,
    );
    expect(() => new MyOctokit({ beauvoir: { app: good, workflowId: " " } })).toThrow(
      /beauvoir\.workflowId/,
    );
  });
});

describe("a network that refuses", () => {
  it("counts a refused connection as not sent: retried, then the key is left runnable", async () => {
    harness = await startHarness();
    const { app, server } = harness;
    const closed = await import("node:net").then(
      ({ createServer }) =>
        new Promise<number>((resolve) => {
          const probe = createServer();
          probe.listen(0, "127.0.0.1", () => {
            const { port } = probe.address() as { port: number };
            probe.close(() => resolve(port));
          });
        }),
    );
    const offline = new (Octokit.plugin(beauvoir))({
      auth: TOKEN,
      baseUrl: `http://127.0.0.1:${closed}`,
      log: { debug() {}, info() {}, warn() {}, error() {} },
      beauvoir: { app },
    });
    const error = await offline.rest.issues
      .createComment({ ...repo, issue_number: 1, body: "Hello" })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: "HttpError", status: 500 });
    const records = await auditRecords(harness.dataDir);
    expect(records.filter((record) => record.phase === "intent")).toHaveLength(4);
    expect(String(records.at(-1)?.error)).toMatch(/^NOT_SENT: attempt 4 of 4 not sent/);
    // Nothing was looked up (it was never sent), and the same write may run later.
    expect(server.log).toEqual([]);
    const online = await harness.octokit.rest.issues.createComment({
      ...repo,
      issue_number: 1,
      body: "Hello",
    });
    expect(online.status).toBe(201);
    expect(server.comments(1)).toHaveLength(1);
  });
});

// A GitHub-compatible REST server on 127.0.0.1 for the plugin's tests: the
// routes the plugin's table and lookups use, GitHub's payload shapes, status
// codes, error bodies and headers (x-ratelimit-*, link pagination,
// x-github-request-id), and GitHub's bad days on a schedule: secondary limits
// with and without retry-after, a used-up quota, 502s, resets before and after
// the write, slow answers. Writes the server performed are reported before
// they are answered, so a test can kill its client right there.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** How the server may answer a request. */
export type Fault =
  | "secondary"
  | "secondary_without_retry_after"
  | "primary"
  | "bad_gateway"
  | "reset_before"
  | "reset_after"
  | "slow";

/** A request, as the fault schedule sees it. */
export interface SeenRequest {
  method: string;
  path: string;
  /** Counted over writes only (1-based); 0 for reads. */
  writeNumber: number;
  /** When it arrived (`Date.now()`). */
  at: number;
}

/** Options of {@link startGitHubServer}. */
export interface GitHubServerOptions {
  token: string;
  owner?: string;
  repo?: string;
  /** Issues 1…n. @default 3 */
  issues?: number;
  /** Labels each issue starts with. @default {} */
  labels?: Record<number, string[]>;
  /** Comments issue 1 starts with (to make lookups paginate). @default 0 */
  seedComments?: number;
  /** Decides a fault per request. */
  faults?: (request: SeenRequest) => Fault | undefined;
  /** How long a slow answer waits. @default 1_500 */
  slowMs?: number;
  /** `retry-after` of a secondary limit, seconds. @default 1 */
  retryAfterSec?: number;
  /** Called once a write is performed, before it is answered. */
  onPerformed?: (write: PerformedWrite) => void;
  /** Holds every performed write's answer until this resolves. */
  holdAnswers?: () => Promise<void> | undefined;
  /** The `x-ratelimit-limit` of the token. @default 5_000 */
  quotaLimit?: number;
  /** Seconds from the server's start to `x-ratelimit-reset`. @default 3_600 */
  quotaResetInSec?: number;
}

/** A write the server performed. */
export interface PerformedWrite {
  method: string;
  path: string;
  kind: EffectKind;
}

/** What a performed write made. */
export type EffectKind =
  | "comment"
  | "review"
  | "review_comment"
  | "pull_request"
  | "merge"
  | "label_added"
  | "label_removed"
  | "assignees"
  | "issue_update"
  | "ref"
  | "check_run"
  | "check_run_update"
  | "release"
  | "comment_update"
  | "pull_update"
  | "reaction";

interface User {
  login: string;
  id: number;
  type: "Bot";
}
type Item = Record<string, unknown> & { id: number; body?: string | null };

const BOT: User = { login: "beauvoir-bot[bot]", id: 41898282, type: "Bot" };
const DOCS = "https://docs.github.com/rest";
const SECONDARY =
  "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:1111.";
const MARKER = /<!-- beauvoir:(\S+?) -->/g;

export interface RunningGitHubServer {
  url: string;
  /** Every request, in arrival order, with how it was answered. */
  log: Array<SeenRequest & { answer: number | Fault }>;
  effects: Record<EffectKind, number>;
  comments(issue: number): Item[];
  reviews(pull: number): Item[];
  reviewComments(pull: number): Item[];
  pulls(): Item[];
  labels(issue: number): string[];
  releases(): Item[];
  checkRuns(): Item[];
  refs(): Record<string, string>;
  merged(pull: number): boolean;
  /** How many bodies carry each marker, over everything the server holds. */
  markerCounts(): Map<string, number>;
  close(): Promise<void>;
}

/** Starts the server on a free port of 127.0.0.1. */
export async function startGitHubServer(
  options: GitHubServerOptions,
): Promise<RunningGitHubServer> {
  const owner = options.owner ?? "acme";
  const repo = options.repo ?? "widgets";
  const full = `${owner}/${repo}`;
  let nextId = 1_000;
  let writeNumber = 0;
  let used = 0;
  const limit = options.quotaLimit ?? 5_000;
  const resetAt = Math.ceil(Date.now() / 1000) + (options.quotaResetInSec ?? 3_600);
  const log: RunningGitHubServer["log"] = [];
  const effects = Object.fromEntries(
    [
      "comment",
      "review",
      "review_comment",
      "pull_request",
      "merge",
      "label_added",
      "label_removed",
      "assignees",
      "issue_update",
      "ref",
      "check_run",
      "check_run_update",
      "release",
      "comment_update",
      "pull_update",
      "reaction",
    ].map((kind) => [kind, 0]),
  ) as Record<EffectKind, number>;
  let base = "";
  const now = () => new Date().toISOString();
  const issues = new Map<number, Item & { labels: Set<string>; assignees: Set<string> }>();
  const comments = new Map<number, Item[]>();
  for (let number = 1; number <= (options.issues ?? 3); number++) {
    issues.set(number, {
      id: nextId++,
      number,
      title: `Issue ${number}`,
      body: `Body ${number}`,
      state: "open",
      labels: new Set(options.labels?.[number] ?? []),
      assignees: new Set(),
    });
    comments.set(number, []);
  }
  for (let index = 0; index < (options.seedComments ?? 0); index++) {
    comments.get(1)?.push(comment(1, `Earlier comment ${index}`));
  }
  const refs: Record<string, string> = {
    "heads/main": "a".repeat(40),
    "heads/feature": "b".repeat(40),
  };
  const pulls: Item[] = [];
  const reviews = new Map<number, Item[]>();
  const reviewComments = new Map<number, Item[]>();
  const mergedPulls = new Set<number>();
  const releases: Item[] = [];
  const checkRuns: Item[] = [];
  pulls.push(pull(100, "Seed pull request", "", "feature", "main"));

  function comment(issue: number, body: string): Item {
    const id = nextId++;
    return {
      id,
      node_id: `IC_${id}`,
      url: `${base}/repos/${full}/issues/comments/${id}`,
      html_url: `https://github.com/${full}/issues/${issue}#issuecomment-${id}`,
      issue_url: `${base}/repos/${full}/issues/${issue}`,
      body,
      user: BOT,
      created_at: now(),
      updated_at: now(),
      author_association: "NONE",
      performed_via_github_app: { id: 1, slug: "beauvoir-bot", owner: { login: owner } },
    };
  }

  function pull(number: number, title: string, body: string, head: string, baseRef: string): Item {
    const [headOwner, headRef] = head.includes(":") ? head.split(":") : [owner, head];
    const repository = { id: 1, name: repo, full_name: full, owner: { login: owner } };
    return {
      id: nextId++,
      number,
      node_id: `PR_${number}`,
      url: `${base}/repos/${full}/pulls/${number}`,
      html_url: `https://github.com/${full}/pull/${number}`,
      state: "open",
      title,
      body,
      user: BOT,
      draft: false,
      merged: false,
      head: {
        label: `${headOwner}:${headRef}`,
        ref: headRef,
        sha: "b".repeat(40),
        repo: repository,
        user: { login: headOwner },
      },
      base: {
        label: `${owner}:${baseRef}`,
        ref: baseRef,
        sha: "a".repeat(40),
        repo: repository,
        user: { login: owner },
      },
      created_at: now(),
      updated_at: now(),
    };
  }

  const send = (
    response: ServerResponse,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    response.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "x-github-api-version-selected": "2022-11-28",
      "x-github-request-id": `0000:${nextId++}`,
      "x-ratelimit-limit": String(limit),
      "x-ratelimit-remaining": String(Math.max(0, limit - used)),
      "x-ratelimit-reset": String(resetAt),
      "x-ratelimit-used": String(used),
      "x-ratelimit-resource": "core",
      ...headers,
    });
    response.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const notFound = (response: ServerResponse) =>
    send(response, 404, { message: "Not Found", documentation_url: DOCS, status: "404" });
  const invalid = (response: ServerResponse, errors: unknown[], message = "Validation Failed") =>
    send(response, 422, { message, errors, documentation_url: DOCS, status: "422" });

  /** One page of a list, with GitHub's link header. */
  const page = (response: ServerResponse, url: URL, items: unknown[]) => {
    const perPage = Math.min(100, Number(url.searchParams.get("per_page") ?? 30) || 30);
    const current = Math.max(1, Number(url.searchParams.get("page") ?? 1) || 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const link = (n: number, rel: string) => {
      const next = new URL(url.href);
      next.searchParams.set("page", String(n));
      next.searchParams.set("per_page", String(perPage));
      return `<${base}${next.pathname}${next.search}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (current < last) links.push(link(current + 1, "next"), link(last, "last"));
    if (current > 1) links.push(link(1, "first"), link(current - 1, "prev"));
    send(
      response,
      200,
      items.slice((current - 1) * perPage, current * perPage),
      links.length > 0 ? { link: links.join(", ") } : {},
    );
  };

  type Handler = (
    match: string[],
    body: Record<string, unknown>,
    url: URL,
  ) =>
    | { status: number; body?: unknown; effect?: EffectKind }
    | "not_found"
    | { invalid: unknown[]; message?: string };

  const routes: Array<[string, RegExp, Handler, boolean]> = [];
  const route = (method: string, path: string, handler: Handler) =>
    routes.push([
      method,
      new RegExp(
        `^/repos/${owner}/${repo}${path.replace(/:\w+\+/g, "(.+)").replace(/:\w+/g, "([^/]+)")}$`,
      ),
      handler,
      method !== "GET",
    ]);
  const issue = (match: string[]) => issues.get(Number(match[0]));
  const pullOf = (match: string[]) => pulls.find((item) => item.number === Number(match[0]));
  const listed = (items: Item[]) => ({ status: 200, body: items, list: true });

  route("GET", "/issues", () => listed([...issues.values()].map(issueView)));
  route("GET", "/issues/:n", (m) =>
    issue(m) ? { status: 200, body: issueView(issue(m)!) } : "not_found",
  );
  route("PATCH", "/issues/:n", (m, body) => {
    const target = issue(m);
    if (!target) return "not_found";
    for (const field of ["title", "body", "state"] as const) {
      if (body[field] !== undefined) (target as Record<string, unknown>)[field] = body[field];
    }
    return { status: 200, body: issueView(target), effect: "issue_update" };
  });
  route("GET", "/issues/:n/comments", (m) =>
    comments.has(Number(m[0])) ? listed(comments.get(Number(m[0]))!) : "not_found",
  );
  route("POST", "/issues/:n/comments", (m, body) => {
    const list = comments.get(Number(m[0]));
    if (!list) return "not_found";
    if (typeof body.body !== "string" || body.body === "") {
      return { invalid: [{ resource: "IssueComment", code: "missing_field", field: "body" }] };
    }
    const created = comment(Number(m[0]), body.body);
    list.push(created);
    return { status: 201, body: created, effect: "comment" };
  });
  route("PATCH", "/issues/comments/:id", (m, body) => {
    const found = [...comments.values()].flat().find((item) => item.id === Number(m[0]));
    if (!found) return "not_found";
    found.body = String(body.body ?? "");
    found.updated_at = now();
    return { status: 200, body: found, effect: "comment_update" };
  });
  route("GET", "/issues/:n/labels", (m) =>
    issue(m) ? listed(labelViews(issue(m)!.labels)) : "not_found",
  );
  const addLabels =
    (replace: boolean): Handler =>
    (m, body) => {
      const target = issue(m);
      if (!target) return "not_found";
      if (replace) target.labels.clear();
      for (const name of (body.labels as string[] | undefined) ?? []) target.labels.add(name);
      return { status: 200, body: labelViews(target.labels), effect: "label_added" };
    };
  route("POST", "/issues/:n/labels", addLabels(false));
  route("PUT", "/issues/:n/labels", addLabels(true));
  route("DELETE", "/issues/:n/labels/:name", (m) => {
    const target = issue(m);
    const name = decodeURIComponent(m[1] ?? "");
    const present = [...(target?.labels ?? [])].find(
      (label) => label.toLowerCase() === name.toLowerCase(),
    );
    if (!target || present === undefined) {
      return "not_found";
    }
    target.labels.delete(present);
    return { status: 200, body: labelViews(target.labels), effect: "label_removed" };
  });
  route("POST", "/issues/:n/assignees", (m, body) => {
    const target = issue(m);
    if (!target) return "not_found";
    for (const name of (body.assignees as string[] | undefined) ?? []) target.assignees.add(name);
    return { status: 201, body: issueView(target), effect: "assignees" };
  });
  route("GET", "/pulls", (_m, _body, url) => {
    const state = url.searchParams.get("state") ?? "open";
    const head = url.searchParams.get("head");
    const baseRef = url.searchParams.get("base");
    return listed(
      pulls.filter(
        (item) =>
          (state === "all" || item.state === state) &&
          (head === null || (item.head as { label: string }).label === head) &&
          (baseRef === null || (item.base as { ref: string }).ref === baseRef),
      ),
    );
  });
  route("POST", "/pulls", (_m, body) => {
    const head = String(body.head ?? "");
    const baseRef = String(body.base ?? "");
    const label = head.includes(":") ? head : `${owner}:${head}`;
    if (
      pulls.some(
        (item) =>
          item.state === "open" &&
          (item.head as { label: string }).label === label &&
          (item.base as { ref: string }).ref === baseRef,
      )
    ) {
      return {
        invalid: [
          {
            resource: "PullRequest",
            code: "custom",
            message: `A pull request already exists for ${label}.`,
          },
        ],
      };
    }
    const created = pull(
      pulls.length + 101,
      String(body.title ?? ""),
      String(body.body ?? ""),
      head,
      baseRef,
    );
    pulls.push(created);
    return { status: 201, body: created, effect: "pull_request" };
  });
  route("GET", "/pulls/:n", (m) => (pullOf(m) ? { status: 200, body: pullOf(m) } : "not_found"));
  route("PATCH", "/pulls/:n", (m, body) => {
    const target = pullOf(m);
    if (!target) return "not_found";
    for (const field of ["title", "body", "state"] as const) {
      if (body[field] !== undefined) (target as Record<string, unknown>)[field] = body[field];
    }
    return { status: 200, body: target, effect: "pull_update" };
  });
  route("GET", "/pulls/:n/merge", (m) =>
    mergedPulls.has(Number(m[0])) ? { status: 204 } : "not_found",
  );
  route("PUT", "/pulls/:n/merge", (m) => {
    const target = pullOf(m);
    if (!target) return "not_found";
    if (mergedPulls.has(Number(m[0]))) {
      return {
        status: 405,
        body: { message: "Pull Request is not mergeable", documentation_url: DOCS },
      };
    }
    mergedPulls.add(Number(m[0]));
    target.merged = true;
    target.state = "closed";
    return {
      status: 200,
      body: { sha: "c".repeat(40), merged: true, message: "Pull Request successfully merged" },
      effect: "merge",
    };
  });
  route("GET", "/pulls/:n/reviews", (m) =>
    pullOf(m) ? listed(reviews.get(Number(m[0])) ?? []) : "not_found",
  );
  route("POST", "/pulls/:n/reviews", (m, body) => {
    if (!pullOf(m)) return "not_found";
    const id = nextId++;
    const events: Record<string, string> = {
      APPROVE: "APPROVED",
      REQUEST_CHANGES: "CHANGES_REQUESTED",
      COMMENT: "COMMENTED",
    };
    const created: Item = {
      id,
      node_id: `PRR_${id}`,
      user: BOT,
      body: String(body.body ?? ""),
      state: events[String(body.event)] ?? "PENDING",
      html_url: `https://github.com/${full}/pull/${m[0]}#pullrequestreview-${id}`,
      pull_request_url: `${base}/repos/${full}/pulls/${m[0]}`,
      commit_id: "b".repeat(40),
      submitted_at: now(),
      author_association: "NONE",
    };
    reviews.set(Number(m[0]), [...(reviews.get(Number(m[0])) ?? []), created]);
    return { status: 200, body: created, effect: "review" };
  });
  route("GET", "/pulls/:n/comments", (m) =>
    pullOf(m) ? listed(reviewComments.get(Number(m[0])) ?? []) : "not_found",
  );
  route("POST", "/pulls/:n/comments", (m, body) => {
    if (!pullOf(m)) return "not_found";
    const created = {
      ...comment(Number(m[0]), String(body.body ?? "")),
      path: body.path,
      line: body.line,
      commit_id: body.commit_id,
    };
    reviewComments.set(Number(m[0]), [...(reviewComments.get(Number(m[0])) ?? []), created]);
    return { status: 201, body: created, effect: "review_comment" };
  });
  route("POST", "/git/refs", (_m, body) => {
    const ref = String(body.ref ?? "").replace(/^refs\//, "");
    if (!ref.startsWith("heads/") && !ref.startsWith("tags/")) {
      return { invalid: [], message: "Reference name must start with 'refs/'" };
    }
    if (refs[ref] !== undefined) return { invalid: [], message: "Reference already exists" };
    refs[ref] = String(body.sha);
    return { status: 201, body: refView(ref), effect: "ref" };
  });
  route("GET", "/git/ref/:ref+", (m) => {
    const ref = decodeURIComponent(m[0] ?? "");
    return refs[ref] === undefined ? "not_found" : { status: 200, body: refView(ref) };
  });
  route("POST", "/check-runs", (_m, body) => {
    const id = nextId++;
    const created: Item = {
      id,
      node_id: `CR_${id}`,
      head_sha: body.head_sha,
      name: body.name,
      external_id: body.external_id ?? "",
      status: body.status ?? "queued",
      conclusion: body.conclusion ?? null,
      started_at: now(),
      html_url: `https://github.com/${full}/runs/${id}`,
      output: { title: null, summary: null, text: null, annotations_count: 0 },
      app: { id: 1, slug: "beauvoir-bot" },
    };
    checkRuns.push(created);
    return { status: 201, body: created, effect: "check_run" };
  });
  route("PATCH", "/check-runs/:id", (m, body) => {
    const found = checkRuns.find((run) => run.id === Number(m[0]));
    if (!found) return "not_found";
    Object.assign(found, body);
    return { status: 200, body: found, effect: "check_run_update" };
  });
  route("GET", "/commits/:ref/check-runs", (m, _body, url) => {
    const name = url.searchParams.get("check_name");
    const runs = checkRuns.filter(
      (run) => run.head_sha === m[0] && (name === null || run.name === name),
    );
    return { status: 200, body: { total_count: runs.length, check_runs: runs } };
  });
  // Not in the plugin's table: a write it only knows by its route.
  route("POST", "/issues/:n/reactions", (m, body) => {
    if (!issue(m)) return "not_found";
    return {
      status: 201,
      body: { id: nextId++, content: body.content, user: BOT, created_at: now() },
      effect: "reaction",
    };
  });
  route("GET", "/releases", () => listed(releases));
  route("POST", "/releases", (_m, body) => {
    if (releases.some((item) => item.tag_name === body.tag_name)) {
      return { invalid: [{ resource: "Release", code: "already_exists", field: "tag_name" }] };
    }
    const id = nextId++;
    const created: Item = {
      id,
      node_id: `RE_${id}`,
      tag_name: body.tag_name,
      name: body.name ?? null,
      body: typeof body.body === "string" ? body.body : null,
      draft: body.draft ?? false,
      prerelease: body.prerelease ?? false,
      html_url: `https://github.com/${full}/releases/tag/${String(body.tag_name)}`,
      author: BOT,
      created_at: now(),
    };
    releases.push(created);
    return { status: 201, body: created, effect: "release" };
  });

  function issueView(item: Item & { labels: Set<string>; assignees: Set<string> }) {
    return {
      ...item,
      labels: labelViews(item.labels),
      assignees: [...item.assignees].map((login) => ({ login })),
      html_url: `https://github.com/${full}/issues/${item.number}`,
    };
  }
  function labelViews(labels: Set<string>) {
    return [...labels].map((name, index) => ({
      id: index + 1,
      name,
      color: "ededed",
      default: false,
    }));
  }
  function refView(ref: string) {
    return {
      ref: `refs/${ref}`,
      node_id: `REF_${ref}`,
      url: `${base}/repos/${full}/git/refs/${ref}`,
      object: { sha: refs[ref], type: "commit" },
    };
  }

  const readBody = async (request: IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", base);
    const method = request.method ?? "GET";
    const authorization = request.headers.authorization ?? "";
    if (authorization !== `token ${options.token}` && authorization !== `Bearer ${options.token}`) {
      return send(response, 401, {
        message: "Bad credentials",
        documentation_url: DOCS,
        status: "401",
      });
    }
    used++;
    const body = await readBody(request);
    const found = routes.find(([verb, pattern]) => verb === method && pattern.test(url.pathname));
    const isWrite = method !== "GET" && method !== "HEAD";
    const seen: SeenRequest = {
      method,
      path: url.pathname,
      writeNumber: isWrite ? ++writeNumber : 0,
      at: Date.now(),
    };
    const entry = { ...seen, answer: 0 as number | Fault };
    log.push(entry);
    const fault = options.faults?.(seen);
    if (fault) entry.answer = fault;
    const retryAfter = options.retryAfterSec ?? 1;
    if (fault === "secondary") {
      return send(
        response,
        403,
        {
          message: SECONDARY,
          documentation_url: `${DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits`,
        },
        { "retry-after": String(retryAfter) },
      );
    }
    if (fault === "secondary_without_retry_after") {
      return send(response, 403, { message: SECONDARY, documentation_url: DOCS });
    }
    if (fault === "primary") {
      return send(
        response,
        403,
        { message: "API rate limit exceeded for installation ID 1.", documentation_url: DOCS },
        {
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000) + 1),
        },
      );
    }
    if (fault === "bad_gateway") return send(response, 502, { message: "Server Error" });
    if (fault === "reset_before") return void request.socket.destroy();
    if (!found) return notFound(response);
    const match = found[1].exec(url.pathname)?.slice(1) ?? [];
    const answer = found[2](match, body, url);
    if (answer === "not_found") {
      entry.answer = 404;
      return notFound(response);
    }
    if ("invalid" in answer) {
      entry.answer = 422;
      return invalid(response, answer.invalid, answer.message);
    }
    entry.answer = fault ?? answer.status;
    if (answer.effect) {
      effects[answer.effect]++;
      options.onPerformed?.({ method, path: url.pathname, kind: answer.effect });
      await options.holdAnswers?.();
    }
    if (fault === "reset_after") return void request.socket.destroy();
    if (fault === "slow")
      await new Promise((resolve) => setTimeout(resolve, options.slowMs ?? 1_500));
    if ((answer as { list?: boolean }).list) return page(response, url, answer.body as unknown[]);
    return send(response, answer.status, answer.body);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, { message: String(error) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const everything = () => [
    ...[...comments.values()].flat(),
    ...[...reviews.values()].flat(),
    ...[...reviewComments.values()].flat(),
    ...pulls,
    ...releases,
  ];
  return {
    url: base,
    log,
    effects,
    comments: (number) => comments.get(number) ?? [],
    reviews: (number) => reviews.get(number) ?? [],
    reviewComments: (number) => reviewComments.get(number) ?? [],
    pulls: () => pulls,
    labels: (number) => [...(issues.get(number)?.labels ?? [])],
    releases: () => releases,
    checkRuns: () => checkRuns,
    refs: () => ({ ...refs }),
    merged: (number) => mergedPulls.has(number),
    markerCounts: () => {
      const counts = new Map<string, number>();
      for (const item of everything()) {
        for (const match of String(item.body ?? "").matchAll(MARKER)) {
          counts.set(match[1] ?? "", (counts.get(match[1] ?? "") ?? 0) + 1);
        }
      }
      for (const run of checkRuns) {
        if (run.external_id)
          counts.set(
            `external_id:${String(run.external_id)}`,
            (counts.get(`external_id:${String(run.external_id)}`) ?? 0) + 1,
          );
      }
      return counts;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

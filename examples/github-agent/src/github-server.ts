// A small GitHub-compatible REST server for the demo: real HTTP on 127.0.0.1,
// the paths and payload shapes GitHub uses for issues, labels, comments and
// rate limits, and GitHub's failure modes (secondary rate limits, 502s, slow
// answers) on a fixed schedule so every run shows them.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** An issue the server starts with. */
export interface SeedIssue {
  number: number;
  title: string;
  body: string;
}

/** Which write requests fail, counted over all write requests (1-based). */
export interface FaultSchedule {
  /** Every Nth write answers 403 with GitHub's secondary-rate-limit body and `retry-after: 1`. */
  secondaryRateLimitEvery?: number;
  /** Every Nth write answers 502 Bad Gateway without performing anything. */
  badGatewayEvery?: number;
  /** Every Nth write is performed but answered only after `slowMs`. */
  slowEvery?: number;
  /** Writes for which this returns true are performed but answered only after `slowMs`. */
  slowWhen?: (write: { kind: "labels" | "comment"; issue: number; writeNumber: number }) => boolean;
  slowMs?: number;
}

/** Options of {@link startGitHubServer}. */
export interface GitHubServerOptions {
  /** The only token accepted in `Authorization: Bearer …`. */
  token: string;
  owner: string;
  repo: string;
  issues: SeedIssue[];
  faults?: FaultSchedule;
  /** Primary rate limit per hour reported in the `x-ratelimit-*` headers. */
  hourlyLimit?: number;
  /** Called once a write has been performed, before it is answered. */
  onWritePerformed?: (write: PerformedWrite) => void;
}

/** A write the server performed. */
export interface PerformedWrite {
  kind: "labels" | "comment";
  issue: number;
  /** The answer will be delayed: the client does not know yet that it succeeded. */
  slow: boolean;
}

/** What the server saw and did. */
export interface GitHubServerStats {
  writeRequests: number;
  commentsCreated: number;
  labelsApplied: number;
  /** Comments whose hidden idempotency marker was already on the issue. */
  duplicateComments: number;
  secondaryRateLimited: number;
  badGateways: number;
  slowAnswers: number;
  unauthorized: number;
}

interface Comment {
  id: number;
  body: string;
  created_at: string;
}

interface IssueState extends SeedIssue {
  labels: Set<string>;
  comments: Comment[];
}

export interface RunningGitHubServer {
  url: string;
  stats(): GitHubServerStats;
  labelsOf(issue: number): string[];
  commentsOf(issue: number): string[];
  close(): Promise<void>;
}

const MARKER = /<!-- beauvoir:([^ ]+) -->/;

export async function startGitHubServer(
  options: GitHubServerOptions,
): Promise<RunningGitHubServer> {
  const issues = new Map<number, IssueState>(
    options.issues.map((issue) => [issue.number, { ...issue, labels: new Set(), comments: [] }]),
  );
  const faults = options.faults ?? {};
  const hourlyLimit = options.hourlyLimit ?? 5_000;
  const stats: GitHubServerStats = {
    writeRequests: 0,
    commentsCreated: 0,
    labelsApplied: 0,
    duplicateComments: 0,
    secondaryRateLimited: 0,
    badGateways: 0,
    slowAnswers: 0,
    unauthorized: 0,
  };
  let used = 0;
  let nextCommentId = 1000;
  const resetAt = Math.floor(Date.now() / 1000) + 3600;
  const base = `/repos/${options.owner}/${options.repo}`;

  const send = (response: ServerResponse, status: number, body: unknown, headers = {}) => {
    response.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "x-ratelimit-limit": String(hourlyLimit),
      "x-ratelimit-remaining": String(Math.max(0, hourlyLimit - used)),
      "x-ratelimit-reset": String(resetAt),
      "x-ratelimit-used": String(used),
      "x-ratelimit-resource": "core",
      ...headers,
    });
    response.end(JSON.stringify(body));
  };

  const readBody = async (request: IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (request.headers.authorization !== `Bearer ${options.token}`) {
      stats.unauthorized++;
      return send(response, 401, { message: "Bad credentials" });
    }
    used++;
    if (url.pathname === "/rate_limit") {
      return send(response, 200, {
        resources: { core: { limit: hourlyLimit, remaining: hourlyLimit - used, reset: resetAt } },
      });
    }
    if (request.method === "GET" && url.pathname === `${base}/issues`) {
      return send(
        response,
        200,
        [...issues.values()].map((issue) => ({
          number: issue.number,
          title: issue.title,
          body: issue.body,
          state: "open",
          labels: [...issue.labels].map((name) => ({ name })),
        })),
      );
    }
    const match = url.pathname.match(new RegExp(`^${base}/issues/(\\d+)/(labels|comments)$`));
    const issue = match ? issues.get(Number(match[1])) : undefined;
    if (!match || !issue) return send(response, 404, { message: "Not Found" });

    if (request.method === "GET" && match[2] === "comments") {
      return send(response, 200, issue.comments);
    }
    if (request.method !== "POST") return send(response, 404, { message: "Not Found" });

    const payload = await readBody(request);
    const writeNumber = ++stats.writeRequests;
    const every = (n: number | undefined) => n !== undefined && n > 0 && writeNumber % n === 0;
    if (every(faults.secondaryRateLimitEvery)) {
      stats.secondaryRateLimited++;
      return send(
        response,
        403,
        {
          message:
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
          documentation_url:
            "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api",
        },
        { "retry-after": "1" },
      );
    }
    if (every(faults.badGatewayEvery)) {
      stats.badGateways++;
      return send(response, 502, { message: "Server Error" });
    }

    let status = 200;
    let body: unknown;
    if (match[2] === "labels") {
      for (const label of (payload.labels as string[] | undefined) ?? []) {
        if (!issue.labels.has(label)) stats.labelsApplied++;
        issue.labels.add(label);
      }
      body = [...issue.labels].map((name) => ({ name }));
    } else {
      const text = String(payload.body ?? "");
      const marker = text.match(MARKER)?.[1];
      if (marker && issue.comments.some((comment) => comment.body.includes(marker))) {
        stats.duplicateComments++;
      }
      const comment = { id: nextCommentId++, body: text, created_at: new Date().toISOString() };
      issue.comments.push(comment);
      stats.commentsCreated++;
      status = 201;
      body = comment;
    }
    const kind = match[2] === "labels" ? "labels" : "comment";
    const slow =
      every(faults.slowEvery) ||
      (faults.slowWhen?.({ kind, issue: issue.number, writeNumber }) ?? false);
    options.onWritePerformed?.({ kind, issue: issue.number, slow });
    if (slow) {
      stats.slowAnswers++;
      await new Promise((resolve) => setTimeout(resolve, faults.slowMs ?? 1_500));
    }
    return send(response, status, body);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      send(response, 500, { message: String(error) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => ({ ...stats }),
    labelsOf: (number) => [...(issues.get(number)?.labels ?? [])],
    commentsOf: (number) => (issues.get(number)?.comments ?? []).map((comment) => comment.body),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

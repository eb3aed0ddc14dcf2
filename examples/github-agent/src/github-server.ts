// A small GitHub-compatible REST server for the demo and the fault tests:
// real HTTP on 127.0.0.1, the paths and payload shapes GitHub uses for
// issues, labels, comments and rate limits, and GitHub's failure modes
// (502s, secondary rate limits with and without retry-after, a used-up
// primary quota with its reset time, connection resets before and after the
// write, slow answers) on a schedule, so every run shows them. It also
// enforces the waits it asks for: a write that arrives before the end of a
// rate limit it answered is counted in `writesDuringBlock`.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** An issue the server starts with. */
export interface SeedIssue {
  number: number;
  title: string;
  body: string;
}

/** A failure the server can answer a write with. */
export type FaultName =
  /** 502 Bad Gateway; nothing performed. */
  | "bad_gateway"
  /** 403 with the secondary-limit message and `retry-after`; nothing performed. */
  | "secondary"
  /** 403 with the secondary-limit message and no `retry-after`; nothing performed. */
  | "secondary_without_retry_after"
  /** 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset`; nothing performed. */
  | "primary"
  /** The connection is reset before anything is performed. */
  | "reset_before"
  /** The write is performed, then the connection is reset before the answer. */
  | "reset_after"
  /** The write is performed and answered after `slowMs`. */
  | "slow";

/** One write request, as the server saw it. */
export interface WriteEvent {
  /** When it arrived (epoch ms). */
  at: number;
  writeNumber: number;
  kind: "labels" | "comment";
  issue: number;
  /** `performed`, or the fault it was answered with. */
  outcome: "performed" | FaultName;
  /** For a rate limit: how long the server asked the client to wait (ms). */
  askedWaitMs?: number;
  /** It arrived while a rate limit the server had answered was still running. */
  duringBlock: boolean;
}

/** Which write requests fail, counted over all write requests (1-based). */
export interface FaultSchedule {
  /** Faults for given writes, by write number (a retry is a new write, with a new number); asked first. */
  byWriteNumber?: Readonly<Record<number, FaultName>>;
  /** Decides a write's fault; asked after `byWriteNumber`, before the `…Every` rules. */
  decide?: (write: {
    kind: "labels" | "comment";
    issue: number;
    writeNumber: number;
  }) => FaultName | undefined;
  /** `retry-after` of a secondary limit, seconds. @default 1 */
  retryAfterSec?: number;
  /** How long a secondary limit without `retry-after` blocks, ms (GitHub: at least a minute). @default 60_000 */
  secondaryDefaultWaitMs?: number;
  /** How far ahead a used-up quota's `x-ratelimit-reset` is, seconds. @default 2 */
  primaryResetInSec?: number;
  /**
   * A write arriving this soon after a rate-limit answer was sent left the
   * client before the client could know: it is counted in `writesInFlightAtBlock`,
   * not in `writesDuringBlock`. @default 200
   */
  inFlightGraceMs?: number;
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
  /** The only token accepted in `Authorization: Bearer …` (or `token …`, as Octokit sends it). */
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
  primaryRateLimited: number;
  badGateways: number;
  connectionResets: number;
  slowAnswers: number;
  unauthorized: number;
  /** Writes that arrived before a rate limit the server answered had run out (sent after the client knew). */
  writesDuringBlock: number;
  /** Writes that arrived inside a block but within `inFlightGraceMs` of its answer. */
  writesInFlightAtBlock: number;
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
  /** Every write request, in arrival order. */
  writes(): WriteEvent[];
  labelsOf(issue: number): string[];
  commentsOf(issue: number): string[];
  close(): Promise<void>;
}

const MARKER = /<!-- beauvoir:([^ ]+) -->/;
const SECONDARY =
  "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";
const RATE_LIMIT_DOCS =
  "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api";

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
    primaryRateLimited: 0,
    connectionResets: 0,
    writesDuringBlock: 0,
    writesInFlightAtBlock: 0,
  };
  const writes: WriteEvent[] = [];
  /** End of the latest rate limit the server answered, and when it was answered (epoch ms). */
  let blockedUntil = 0;
  let blockAnsweredAt = 0;
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
    // Octokit sends `token <token>`; other clients `Bearer <token>`. GitHub takes both.
    const authorization = request.headers.authorization;
    if (authorization !== `Bearer ${options.token}` && authorization !== `token ${options.token}`) {
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
    const kind = match[2] === "labels" ? "labels" : "comment";
    const arrivedAt = Date.now();
    const inBlock = arrivedAt < blockedUntil;
    const inFlight = inBlock && arrivedAt - blockAnsweredAt < (faults.inFlightGraceMs ?? 200);
    const duringBlock = inBlock && !inFlight;
    if (duringBlock) stats.writesDuringBlock++;
    if (inFlight) stats.writesInFlightAtBlock++;
    const event: WriteEvent = {
      at: arrivedAt,
      writeNumber,
      kind,
      issue: issue.number,
      outcome: "performed",
      duringBlock,
    };
    writes.push(event);
    const every = (n: number | undefined) => n !== undefined && n > 0 && writeNumber % n === 0;
    const fault =
      faults.byWriteNumber?.[writeNumber] ??
      faults.decide?.({ kind, issue: issue.number, writeNumber }) ??
      (every(faults.secondaryRateLimitEvery)
        ? "secondary"
        : every(faults.badGatewayEvery)
          ? "bad_gateway"
          : undefined);
    const refuseWithLimit = (
      askedWaitMs: number,
      headers: Record<string, string>,
      message: string,
    ) => {
      event.askedWaitMs = askedWaitMs;
      blockedUntil = Math.max(blockedUntil, Date.now() + askedWaitMs);
      blockAnsweredAt = Date.now();
      return send(response, 403, { message, documentation_url: RATE_LIMIT_DOCS }, headers);
    };
    if (fault === "secondary" || fault === "secondary_without_retry_after") {
      event.outcome = fault;
      stats.secondaryRateLimited++;
      const retryAfterSec = faults.retryAfterSec ?? 1;
      return fault === "secondary"
        ? refuseWithLimit(retryAfterSec * 1000, { "retry-after": String(retryAfterSec) }, SECONDARY)
        : refuseWithLimit(faults.secondaryDefaultWaitMs ?? 60_000, {}, SECONDARY);
    }
    if (fault === "primary") {
      event.outcome = fault;
      stats.primaryRateLimited++;
      const reset = Math.ceil((Date.now() + (faults.primaryResetInSec ?? 2) * 1000) / 1000);
      return refuseWithLimit(
        reset * 1000 - Date.now(),
        { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) },
        `API rate limit exceeded for installation ID 1.`,
      );
    }
    if (fault === "bad_gateway") {
      event.outcome = fault;
      stats.badGateways++;
      return send(response, 502, { message: "Server Error" });
    }
    if (fault === "reset_before") {
      event.outcome = fault;
      stats.connectionResets++;
      request.socket.destroy();
      return;
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
    if (fault === "reset_after") {
      event.outcome = fault;
      stats.connectionResets++;
      options.onWritePerformed?.({ kind, issue: issue.number, slow: false });
      request.socket.destroy();
      return;
    }
    const slow =
      fault === "slow" ||
      every(faults.slowEvery) ||
      (faults.slowWhen?.({ kind, issue: issue.number, writeNumber }) ?? false);
    if (slow) event.outcome = "slow";
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
    writes: () => writes.map((write) => ({ ...write })),
    labelsOf: (number) => [...(issues.get(number)?.labels ?? [])],
    commentsOf: (number) => (issues.get(number)?.comments ?? []).map((comment) => comment.body),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

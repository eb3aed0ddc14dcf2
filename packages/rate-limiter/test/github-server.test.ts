// F5.7: drives the limiter from a local HTTP server on 127.0.0.1 that answers
// the way GitHub does (429, 403 + retry-after, 403 + quota used up, 403 with
// the secondary-limit message, plain 403, 404, 422, 5xx, a reset connection).
import { createServer, get, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ManualClock } from "@beauvoir/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type GitHubAnswer,
  githubAnswers,
  RESET_AT_EPOCH_SEC,
} from "../src/__fixtures__/github-responses.js";
import { RateLimiter, readGitHubRateLimit, recordGitHubRateLimit } from "../src/index.js";

type AnswerName = keyof typeof githubAnswers;

let server: Server;
let baseUrl: string;
/** Answers the crawler route gives, in order; 200 once they run out. */
let crawlScript: (GitHubAnswer | undefined)[] = [];
let crawlRequests: { at: number; path: string }[] = [];
/** Answers of the step route, made when asked (reset times depend on the clock). */
let stepScript: (() => GitHubAnswer)[] = [];
let stepRequests: number[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const [, route, name] = url.pathname.split("/");
    if (route === "reset") {
      request.socket.resetAndDestroy(); // a TCP RST: the client sees ECONNRESET
      return;
    }
    let answer: GitHubAnswer | undefined;
    if (route === "step") {
      stepRequests.push(Date.now());
      answer = stepScript.shift()?.();
    }
    if (route === "answer") answer = githubAnswers[name as AnswerName];
    if (route === "crawl") {
      crawlRequests.push({ at: Date.now(), path: url.pathname });
      answer = crawlScript.shift();
      answer ??= {
        status: 200,
        headers: { "content-type": "application/json" },
        body: { message: "ok" },
      };
    }
    if (!answer) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(answer.status, answer.headers).end(JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** Ten minutes before the fixtures' reset time. */
const NOW = (RESET_AT_EPOCH_SEC - 600) * 1000;

function manualLimiter() {
  return new RateLimiter({
    clock: new ManualClock(NOW),
    cleanupIntervalMs: Number.POSITIVE_INFINITY,
  });
}

/** Calls the server with fetch and feeds a failed answer to the limiter, as a client would. */
async function callWithFetch(limiter: RateLimiter, name: AnswerName) {
  const response = await fetch(`${baseUrl}/answer/${name}`);
  const body: unknown = await response.json();
  return recordGitHubRateLimit(limiter, "crawler", {
    status: response.status,
    headers: response.headers,
    body,
  });
}

describe("a limiter fed by a GitHub-like server (fetch)", () => {
  it("429 with retry-after: secondary, everyone waits 30 s", async () => {
    const limiter = manualLimiter();
    expect(await callWithFetch(limiter, "tooManyRequests")).toBe("secondary");
    expect(limiter.tryConsume("other")).toEqual({
      allowed: false,
      retryAfterMs: 30_000,
      bucket: "global",
    });
  });

  it("403 with retry-after: secondary, everyone waits 120 s", async () => {
    const limiter = manualLimiter();
    expect(await callWithFetch(limiter, "forbiddenWithRetryAfter")).toBe("secondary");
    expect(limiter.tryConsume("crawler")).toMatchObject({ allowed: false, retryAfterMs: 120_000 });
  });

  it("403 with x-ratelimit-remaining 0: primary, blocked until x-ratelimit-reset", async () => {
    const limiter = manualLimiter();
    expect(await callWithFetch(limiter, "primaryLimit")).toBe("primary");
    expect(limiter.blockedUntil).toBe(RESET_AT_EPOCH_SEC * 1000);
    expect(limiter.tryConsume("crawler")).toMatchObject({ allowed: false, retryAfterMs: 600_000 });
  });

  it("403 with the secondary-limit message: secondary, a minute's wait", async () => {
    const limiter = manualLimiter();
    expect(await callWithFetch(limiter, "secondaryMessage")).toBe("secondary");
    expect(limiter.tryConsume("crawler")).toMatchObject({ allowed: false, retryAfterMs: 60_000 });
    expect(await callWithFetch(manualLimiter(), "abuseDetection")).toBe("secondary");
  });

  it("plain 403, 404, 422, 500 and 502 leave the limiter alone", async () => {
    const limiter = manualLimiter();
    for (const name of [
      "plainForbidden",
      "notFound",
      "validationFailed",
      "serverError",
      "badGateway",
    ] as const) {
      expect(await callWithFetch(limiter, name), name).toBeNull();
    }
    expect(limiter.blockedUntil).toBeNull();
    expect(limiter.tryConsume("crawler").allowed).toBe(true);
  });

  it("a reset connection never reaches the limiter, which stays open", async () => {
    const limiter = manualLimiter();
    const error = await fetch(`${baseUrl}/reset/now`).catch((caught: unknown) => caught);
    expect((error as { cause?: { code?: string } }).cause?.code).toBe("ECONNRESET");
    expect(limiter.blockedUntil).toBeNull();
    expect(limiter.tryConsume("crawler").allowed).toBe(true);
  });
});

describe("a limiter fed by node:http's plain-object headers", () => {
  it("reads the primary limit from IncomingHttpHeaders", async () => {
    const { status, headers, body } = await new Promise<{
      status: number;
      headers: IncomingHttpHeaders;
      body: unknown;
    }>((resolve, reject) => {
      get(`${baseUrl}/answer/primaryLimit`, (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: JSON.parse(text),
          }),
        );
      }).on("error", reject);
    });
    const limiter = manualLimiter();
    expect(recordGitHubRateLimit(limiter, "crawler", { status, headers, body })).toBe("primary");
    expect(limiter.tryConsume("crawler")).toMatchObject({ retryAfterMs: 600_000 });
  });
});

describe("a crawler on the real clock", () => {
  it("sends nothing while a secondary limit's retry-after runs, then finishes the crawl", async () => {
    crawlRequests = [];
    crawlScript = [
      undefined,
      undefined,
      { ...githubAnswers.tooManyRequests, headers: { "retry-after": "1" } },
    ];
    const limiter = new RateLimiter({ global: { capacity: 50, refillPerHour: 36_000 } });
    const fetched: number[] = [];
    try {
      for (let page = 1; page <= 5; ) {
        await limiter.consume("crawler", { signal: AbortSignal.timeout(10_000) });
        const response = await fetch(`${baseUrl}/crawl/${page}`);
        const body: unknown = await response.json();
        if (response.ok) {
          limiter.recordSuccess("crawler");
          fetched.push(page++);
        } else {
          expect(
            recordGitHubRateLimit(limiter, "crawler", {
              status: response.status,
              headers: response.headers,
              body,
            }),
          ).toBe("secondary");
        }
      }
    } finally {
      limiter.shutdown();
    }
    expect(fetched).toEqual([1, 2, 3, 4, 5]);
    expect(crawlRequests.map((request) => request.path)).toEqual([
      "/crawl/1",
      "/crawl/2",
      "/crawl/3",
      "/crawl/3",
      "/crawl/4",
      "/crawl/5",
    ]);
    const limited = crawlRequests[2]!.at;
    const retried = crawlRequests[3]!.at;
    // The block starts when the answer is recorded, after the server stamped the request.
    expect(retried - limited).toBeGreaterThanOrEqual(1_000);
  });
});

describe("a step loop with no rate-limit code but the limiter's own (real clock)", () => {
  const quota = (remaining: number, resetAtEpochSec: number) => ({
    "content-type": "application/json",
    "x-ratelimit-limit": "5000",
    "x-ratelimit-remaining": String(remaining),
    "x-ratelimit-reset": String(resetAtEpochSec),
    "x-ratelimit-resource": "core",
  });
  const later = () => Math.floor(Date.now() / 1000) + 3_600;
  const ok = () => ({ status: 200, headers: quota(4_000, later()), body: { message: "ok" } });
  const secondaryWithoutRetryAfter = () => ({
    status: 403,
    headers: quota(3_999, later()),
    body: githubAnswers.secondaryMessage.body,
  });

  it("waits what the server asked for: retry-after, a doubling minute without it, the reset", async () => {
    const primaryResetAt = { value: 0 };
    stepRequests = [];
    stepScript = [
      ok,
      secondaryWithoutRetryAfter,
      secondaryWithoutRetryAfter,
      ok,
      () => ({
        ...githubAnswers.tooManyRequests,
        headers: { ...quota(3_998, later()), "retry-after": "1" },
      }),
      () => {
        primaryResetAt.value = Math.floor(Date.now() / 1000) + 2;
        return { ...githubAnswers.primaryLimit, headers: quota(0, primaryResetAt.value) };
      },
      ok,
    ];
    // "At least one minute" scaled down to 150 ms, so the test runs in seconds.
    const limiter = new RateLimiter({ secondaryDefaultWaitMs: 150 });
    const outcomes: string[] = [];
    try {
      while (outcomes.filter((outcome) => outcome === "ok").length < 3) {
        await limiter.consume("step", { signal: AbortSignal.timeout(10_000) });
        const response = await fetch(`${baseUrl}/step/1`);
        // Only the body tells a secondary limit without retry-after apart from a plain 403.
        const limit = response.ok ? null : await readGitHubRateLimit(response);
        if (response.ok) {
          limiter.observeResponse(response);
          outcomes.push("ok");
        } else if (limit) {
          limiter.recordRateLimit("step", limit.kind, limit.retryAfterSec, limit.resetAtEpochSec);
          limiter.observeResponse(response);
          outcomes.push(`${response.status} ${limit.kind}`);
        } else {
          throw new Error(`unexpected ${response.status}`);
        }
        await response.body?.cancel();
      }
    } finally {
      limiter.shutdown();
    }
    expect(outcomes).toEqual([
      "ok",
      "403 secondary",
      "403 secondary",
      "ok",
      "429 secondary",
      "403 primary",
      "ok",
    ]);
    const gaps = stepRequests.slice(1).map((at, index) => at - stepRequests[index]!);
    expect(gaps[1]).toBeGreaterThanOrEqual(150 - 5); // the first secondary limit: the base wait
    expect(gaps[2]).toBeGreaterThanOrEqual(300 - 5); // a repeat: twice as long
    expect(gaps[4]).toBeGreaterThanOrEqual(1_000 - 5); // retry-after: 1
    expect(stepRequests[6]!).toBeGreaterThanOrEqual(primaryResetAt.value * 1000 - 5); // x-ratelimit-reset
  });

  it("feeds thrown Octokit-shaped errors and returned responses to the limiter", async () => {
    stepRequests = [];
    stepScript = [
      () => ({
        ...githubAnswers.tooManyRequests,
        headers: { ...quota(4_000, later()), "retry-after": "1" },
      }),
      ok,
    ];
    const limiter = new RateLimiter();
    const results: string[] = [];
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        await limiter.consume("step", { maxWaitMs: 5_000 });
        try {
          const response = await fetch(`${baseUrl}/step/2`);
          const data: unknown = await response.json();
          if (!response.ok) {
            throw Object.assign(new Error(String((data as { message: string }).message)), {
              status: response.status,
              response: {
                status: response.status,
                headers: Object.fromEntries(response.headers),
                data,
              },
            });
          }
          limiter.observeResponse(response);
          results.push("ok");
        } catch (error) {
          const limit = limiter.recordRateLimitFailure(error, "step");
          results.push(`${limit?.kind} for ${limit?.blockedForMs} ms`);
        }
      }
    } finally {
      limiter.shutdown();
    }
    expect(results).toEqual(["secondary for 1000 ms", "ok"]);
    expect(stepRequests[1]! - stepRequests[0]!).toBeGreaterThanOrEqual(1_000 - 5);
  });
});

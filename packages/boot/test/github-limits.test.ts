// F5.7 across both packages: one client drives the circuit breaker and the
// rate limiter from a local HTTP server that answers the way GitHub does. The
// breaker must count only what means "the service is in trouble", the limiter
// must hold back exactly as long as GitHub asked, and an open circuit must stop
// requests before they reach the server.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CircuitBreaker, CircuitOpenError, type FailureClass } from "@beauvoir/breaker";
import { ManualClock } from "@beauvoir/core";
import { RateLimiter, recordGitHubRateLimit } from "@beauvoir/rate-limiter";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const NOW_SEC = 1_800_000_000;
const SECONDARY =
  "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

const answers: Record<string, Answer> = {
  ok: { status: 200, body: { id: 1 } },
  "too-many": {
    status: 429,
    headers: { "retry-after": "30" },
    body: { message: "Too Many Requests" },
  },
  "retry-after": { status: 403, headers: { "retry-after": "45" }, body: { message: SECONDARY } },
  "quota-used": {
    status: 403,
    headers: {
      "x-ratelimit-limit": "5000",
      "x-ratelimit-remaining": "0",
      "x-ratelimit-used": "5000",
      "x-ratelimit-reset": String(NOW_SEC + 600),
    },
    body: { message: "API rate limit exceeded for user ID 1." },
  },
  secondary: { status: 403, body: { message: SECONDARY } },
  forbidden: { status: 403, body: { message: "Resource not accessible by integration" } },
  "not-found": { status: 404, body: { message: "Not Found" } },
  unprocessable: { status: 422, body: { message: "Validation Failed" } },
  "bad-gateway": { status: 502, body: { message: "Server Error" } },
};

class GitHubHttpError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string>,
    readonly body: unknown,
  ) {
    super(`GitHub answered ${status}`);
  }
}

let server: Server;
let baseUrl: string;
let requests = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    requests++;
    const name = (request.url ?? "/").slice(1);
    if (name === "reset") {
      request.socket.resetAndDestroy();
      return;
    }
    const answer = answers[name] ?? answers["not-found"]!;
    response.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
    response.end(JSON.stringify(answer.body ?? {}));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function client() {
  const clock = new ManualClock(NOW_SEC * 1000);
  const breaker = new CircuitBreaker({ clock, failureThreshold: 5 });
  const limiter = new RateLimiter({ clock });
  const failures: FailureClass[] = [];
  breaker.on("failure", (event) => {
    failures.push(event.failureClass);
  });
  const call = async (name: string) => {
    try {
      return await breaker.execute(async (signal) => {
        const response = await fetch(`${baseUrl}/${name}`, { signal });
        const body: unknown = await response.json();
        if (!response.ok) {
          throw new GitHubHttpError(response.status, Object.fromEntries(response.headers), body);
        }
        return body;
      });
    } catch (error) {
      if (error instanceof GitHubHttpError) recordGitHubRateLimit(limiter, "triage", error);
      throw error;
    }
  };
  return { clock, breaker, limiter, failures, call };
}

describe("the breaker and the limiter, driven by GitHub's answers over HTTP", () => {
  it.each([
    ["too-many", "rate_limited", 30_000],
    ["retry-after", "rate_limited", 45_000],
    ["quota-used", "rate_limited", 600_000],
    ["secondary", "rate_limited", 60_000],
  ] as const)(
    "%s: counts as %s and holds requests back for %i ms",
    async (name, failureClass, waitMs) => {
      const { clock, limiter, failures, call } = client();
      await expect(call(name)).rejects.toBeInstanceOf(GitHubHttpError);
      expect(failures).toEqual([failureClass]);
      const refused = limiter.tryConsume("triage");
      expect(refused.allowed).toBe(false);
      expect(refused.allowed ? 0 : refused.retryAfterMs).toBe(waitMs);
      clock.advance(waitMs - 1);
      expect(limiter.tryConsume("triage").allowed).toBe(false);
      clock.advance(1);
      expect(limiter.tryConsume("triage").allowed).toBe(true);
    },
  );

  it.each([
    ["forbidden", "transient"],
    ["not-found", "expected"],
    ["unprocessable", "permanent"],
    ["bad-gateway", "transient"],
  ] as const)("%s: classified %s and never throttles", async (name, failureClass) => {
    const { limiter, failures, call } = client();
    await expect(call(name)).rejects.toBeInstanceOf(GitHubHttpError);
    expect(failures).toEqual([failureClass]);
    expect(limiter.tryConsume("triage").allowed).toBe(true);
  });

  it("classifies a reset connection as external", async () => {
    const { failures, call } = client();
    await expect(call("reset")).rejects.toThrow();
    expect(failures).toEqual(["external"]);
  });

  it("opens after five countable failures, ignores 404s, and then stops requests at the client", async () => {
    const { breaker, call } = client();
    for (let index = 0; index < 10; index++) {
      await expect(call("not-found")).rejects.toBeInstanceOf(GitHubHttpError);
    }
    expect(breaker.getState()).toBe("CLOSED");
    for (const name of ["bad-gateway", "secondary", "reset", "too-many", "forbidden"]) {
      await expect(call(name)).rejects.toThrow();
    }
    expect(breaker.getState()).toBe("OPEN");
    const before = requests;
    const refused = await call("ok").catch((error: unknown) => error);
    expect(CircuitOpenError.isInstance(refused)).toBe(true);
    expect(requests).toBe(before);
  });
});

// The breaker and the classifiers against a real HTTP exchange: a local server
// (loopback only) answers the way GitHub does, and calls go through fetch and
// node:http with real sockets, resets, refusals and timeouts.
import { once } from "node:events";
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  forbiddenAbuseDetection,
  forbiddenPlain,
  forbiddenPrimaryLimit,
  forbiddenSecondaryLimit,
  forbiddenWithRetryAfter,
  type GitHubResponseFixture,
  notFound,
  serverErrors,
  tooManyRequests,
  validationFailed,
} from "../src/__fixtures__/github-responses.js";
import {
  CircuitBreaker,
  CircuitOpenError,
  CircuitTimeoutError,
  classifyFailure,
  classifyGitHubResponse,
  type FailureClass,
} from "../src/index.js";

const routes: Record<string, GitHubResponseFixture> = {
  "/429": tooManyRequests,
  "/403-retry-after": forbiddenWithRetryAfter,
  "/403-primary": forbiddenPrimaryLimit,
  "/403-secondary": forbiddenSecondaryLimit,
  "/403-abuse": forbiddenAbuseDetection,
  "/403-plain": forbiddenPlain,
  "/404": notFound,
  "/422": validationFailed,
  "/500": serverErrors[0]!,
  "/502": serverErrors[1]!,
  "/503": serverErrors[2]!,
};

const hits = new Map<string, number>();
const closedSlowRequests: string[] = [];
let healthy = false;
let baseUrl = "";
const server = createServer((request: IncomingMessage, response: ServerResponse) => {
  const path = request.url ?? "/";
  hits.set(path, (hits.get(path) ?? 0) + 1);
  if (path === "/reset") {
    request.socket.resetAndDestroy(); // a TCP RST: the client sees ECONNRESET
    return;
  }
  if (path === "/slow") {
    request.on("close", () => closedSlowRequests.push(path));
    return; // never answers
  }
  if (path === "/flaky" && healthy) {
    response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    return;
  }
  const fixture = routes[path === "/flaky" ? "/503" : path];
  if (!fixture) {
    response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    return;
  }
  const body = typeof fixture.body === "string" ? fixture.body : JSON.stringify(fixture.body);
  response.writeHead(fixture.status, fixture.headers).end(body);
});

beforeAll(async () => {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, "close");
});

/** A GitHub call through fetch that throws the failed Response, as simple clients do. */
const getJson = (path: string) => async (signal: AbortSignal) => {
  const response = await fetch(`${baseUrl}${path}`, { signal });
  if (!response.ok) throw response;
  return (await response.json()) as unknown;
};

/** The same call, reading the body of a failure to classify it fully. */
const getJsonClassified = (path: string) => async (signal: AbortSignal) => {
  const response = await fetch(`${baseUrl}${path}`, { signal });
  if (!response.ok) {
    const failureClass = await classifyGitHubResponse(response);
    throw Object.assign(new Error(`GitHub answered ${response.status}`), { failureClass });
  }
  return (await response.json()) as unknown;
};

async function classOf(fn: (signal: AbortSignal) => Promise<unknown>): Promise<FailureClass> {
  const breaker = new CircuitBreaker({ failureThreshold: 1_000 });
  const failures: FailureClass[] = [];
  breaker.on("failure", ({ failureClass }) => failures.push(failureClass));
  await breaker.execute(fn).catch(() => {});
  expect(failures).toHaveLength(1);
  return failures[0]!;
}

describe("classification of real HTTP failures", () => {
  it.each([
    ["/429", "rate_limited"],
    ["/403-retry-after", "rate_limited"],
    ["/403-primary", "rate_limited"],
    ["/403-secondary", "rate_limited"],
    ["/403-abuse", "rate_limited"],
    ["/403-plain", "transient"],
    ["/404", "expected"],
    ["/422", "permanent"],
    ["/500", "transient"],
    ["/502", "transient"],
    ["/503", "transient"],
  ] as const)("GET %s through fetch is %s", async (path, expected) => {
    expect(await classOf(getJsonClassified(path))).toBe(expected);
  });

  it("classifies a thrown Response by headers alone, except the body-only secondary limit", async () => {
    expect(await classOf(getJson("/403-retry-after"))).toBe("rate_limited");
    expect(await classOf(getJson("/403-primary"))).toBe("rate_limited");
    expect(await classOf(getJson("/404"))).toBe("expected");
    // Without reading the body this one looks like a plain 403: still counted.
    expect(await classOf(getJson("/403-secondary"))).toBe("transient");
  });

  it("classifies a connection reset as external, through fetch and node:http", async () => {
    expect(await classOf(getJson("/reset"))).toBe("external");
    const viaHttp = () =>
      new Promise((resolve, reject) => {
        httpRequest(`${baseUrl}/reset`, resolve).on("error", reject).end();
      });
    const error = await viaHttp().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "ECONNRESET" });
    expect(classifyFailure(error)).toBe("external");
  });

  it("classifies a refused connection as external", async () => {
    const closed = createServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const { port } = closed.address() as AddressInfo;
    closed.close();
    await once(closed, "close");
    const error = await fetch(`http://127.0.0.1:${port}/`).catch((caught: unknown) => caught);
    expect(classifyFailure(error)).toBe("external");
  });
});

describe("the breaker around a failing HTTP API", () => {
  it("opens after the threshold, stops calling the server, and closes after probes succeed", async () => {
    let time = 0;
    const breaker = new CircuitBreaker({
      now: () => time,
      failureThreshold: 3,
      openDurationMs: 60_000,
      halfOpenProbeCount: 2,
    });
    healthy = false;
    hits.delete("/flaky");
    for (let index = 0; index < 3; index++) {
      await expect(breaker.execute(getJson("/flaky"))).rejects.toBeInstanceOf(Response);
    }
    expect(breaker.getState()).toBe("OPEN");
    const refusal = await breaker.execute(getJson("/flaky")).catch((caught: unknown) => caught);
    expect(refusal).toBeInstanceOf(CircuitOpenError);
    expect((refusal as CircuitOpenError).retryAt).toBe(60_000);
    expect(hits.get("/flaky")).toBe(3);

    healthy = true;
    time = 60_000;
    await expect(breaker.execute(getJson("/flaky"))).resolves.toEqual({ ok: true });
    await expect(breaker.execute(getJson("/flaky"))).resolves.toEqual({ ok: true });
    expect(breaker.getState()).toBe("CLOSED");
    expect(hits.get("/flaky")).toBe(5);
  });

  it("never opens on 404s, unless the resource should exist", async () => {
    const lenient = new CircuitBreaker({ failureThreshold: 1 });
    for (let index = 0; index < 5; index++) {
      await lenient.execute(getJson("/404")).catch(() => {});
    }
    expect(lenient.getState()).toBe("CLOSED");

    const strict = new CircuitBreaker({
      failureThreshold: 1,
      classify: (error) => classifyFailure(error, { resourceShouldExist: true }),
    });
    await strict.execute(getJson("/404")).catch(() => {});
    expect(strict.getState()).toBe("OPEN");
  });

  it("counts 422s as permanent: not counted by default", async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    await breaker.execute(getJson("/422")).catch(() => {});
    expect(breaker.getStats()).toMatchObject({ state: "CLOSED", failures: { permanent: 1 } });
  });

  it("times out a request that never answers, aborting it on the wire, and counts it as external", async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    const before = closedSlowRequests.length;
    const error = await breaker
      .execute(getJson("/slow"), { timeoutMs: 200 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CircuitTimeoutError);
    expect(breaker.getStats()).toMatchObject({ state: "OPEN", failures: { external: 1 } });
    // fetch saw the aborted signal and closed the connection.
    await expect.poll(() => closedSlowRequests.length, { timeout: 5_000 }).toBe(before + 1);
  });

  it("cancels a request when the caller aborts, without counting a failure", async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    const before = closedSlowRequests.length;
    const controller = new AbortController();
    const pending = breaker.execute(getJson("/slow"), { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("shutting down")), 50);
    await expect(pending).rejects.toThrow("shutting down");
    expect(breaker.getState()).toBe("CLOSED");
    await expect.poll(() => closedSlowRequests.length, { timeout: 5_000 }).toBe(before + 1);
  });
});

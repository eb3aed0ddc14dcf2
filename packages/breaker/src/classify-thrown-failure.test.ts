// classifyGitHubFailure(value): whatever a step threw or returned, as the
// executor's failure model reads it (not sent / rejected / ambiguous).
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import {
  forbiddenPlain,
  forbiddenPrimaryLimit,
  forbiddenSecondaryLimit,
  type GitHubResponseFixture,
  notFound,
  serverErrors,
  tooManyRequests,
  validationFailed,
} from "./__fixtures__/github-responses.js";
import { RequestError } from "./__fixtures__/octokit-request-error.js";
import { classifyGitHubFailure } from "./classify-github-failure.js";
import { findNetworkErrorCode } from "./network-error-code.js";

const response = (fixture: GitHubResponseFixture) =>
  new Response(JSON.stringify(fixture.body), { status: fixture.status, headers: fixture.headers });

const socketError = (code: string, syscall = "connect") =>
  Object.assign(new Error(`${syscall} ${code} 140.82.112.6:443`), { code, syscall, errno: -1 });

describe("classifyGitHubFailure(value)", () => {
  it("reads an Octokit RequestError", () => {
    expect(classifyGitHubFailure(new RequestError(tooManyRequests))).toBe("rate_limited");
    expect(classifyGitHubFailure(new RequestError(forbiddenPrimaryLimit))).toBe("rate_limited");
    expect(classifyGitHubFailure(new RequestError(forbiddenSecondaryLimit))).toBe("rate_limited");
    expect(classifyGitHubFailure(new RequestError(forbiddenPlain))).toBe("transient");
    expect(classifyGitHubFailure(new RequestError(notFound))).toBe("expected");
    expect(classifyGitHubFailure(new RequestError(validationFailed))).toBe("permanent");
    expect(classifyGitHubFailure(new RequestError(serverErrors[1]!))).toBe("transient");
  });

  it("reads a thrown or returned fetch Response", () => {
    expect(classifyGitHubFailure(response(tooManyRequests))).toBe("rate_limited");
    expect(classifyGitHubFailure(response(forbiddenPrimaryLimit))).toBe("rate_limited");
    expect(classifyGitHubFailure(response(notFound))).toBe("expected");
    expect(classifyGitHubFailure(response(validationFailed))).toBe("permanent");
    expect(classifyGitHubFailure(response(serverErrors[1]!))).toBe("transient");
  });

  it("reads any { status, headers } and passes the context on", () => {
    expect(classifyGitHubFailure({ status: 403, headers: { "retry-after": "1" } })).toBe(
      "rate_limited",
    );
    expect(classifyGitHubFailure({ status: 404 }, { resourceShouldExist: true })).toBe("transient");
    expect(classifyGitHubFailure({ status: 404 }, { overrides: { 404: "permanent" } })).toBe(
      "permanent",
    );
  });

  it.each([
    "ECONNREFUSED",
    "ENOTFOUND",
    "EAI_AGAIN",
    "ECONNRESET",
    "ETIMEDOUT",
    "EPIPE",
    "UND_ERR_CONNECT_TIMEOUT",
    "UND_ERR_SOCKET",
    "UND_ERR_HEADERS_TIMEOUT",
    "UND_ERR_BODY_TIMEOUT",
    "ERR_SOCKET_CONNECTION_TIMEOUT",
  ])("a Node or undici %s is external, also wrapped by fetch", (code) => {
    expect(classifyGitHubFailure(socketError(code))).toBe("external");
    expect(classifyGitHubFailure(new TypeError("fetch failed", { cause: socketError(code) }))).toBe(
      "external",
    );
    expect(findNetworkErrorCode(new TypeError("fetch failed", { cause: socketError(code) }))).toBe(
      code,
    );
  });

  it("an AbortError or TimeoutError is external, and findNetworkErrorCode names it", async () => {
    const aborted = new AbortController();
    aborted.abort();
    expect(classifyGitHubFailure(aborted.signal.reason)).toBe("external");
    expect(findNetworkErrorCode(aborted.signal.reason)).toBe("AbortError");
    const timeout = AbortSignal.timeout(1);
    await new Promise((resolve) => timeout.addEventListener("abort", resolve));
    expect(classifyGitHubFailure(timeout.reason)).toBe("external");
    expect(findNetworkErrorCode(timeout.reason)).toBe("TimeoutError");
  });

  it("a real refused connection through fetch is external, with its code", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const error = await fetch(`http://127.0.0.1:${port}/`).catch((caught: unknown) => caught);
    expect(classifyGitHubFailure(error)).toBe("external");
    expect(findNetworkErrorCode(error)).toBe("ECONNREFUSED");
  });

  it("anything else is transient, and has no network code", () => {
    for (const value of [new Error("boom"), "boom", undefined, null, { code: "ENOENT" }]) {
      expect(classifyGitHubFailure(value)).toBe("transient");
      expect(findNetworkErrorCode(value)).toBeUndefined();
    }
    expect(findNetworkErrorCode(new RequestError(serverErrors[1]!))).toBeUndefined();
  });
});

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
import { classifyFailure, classifyGitHubResponse } from "./classify-failure.js";
import { CircuitTimeoutError } from "./errors.js";

const fetchResponse = (fixture: GitHubResponseFixture) =>
  new Response(typeof fixture.body === "string" ? fixture.body : JSON.stringify(fixture.body), {
    status: fixture.status,
    headers: fixture.headers,
  });

const networkError = (code: string) =>
  Object.assign(new Error(`connect ${code} 140.82.112.6:443`), { code, syscall: "connect" });

describe("classifyFailure", () => {
  it("classifies Octokit RequestErrors with their status, headers and body", () => {
    expect(classifyFailure(new RequestError(tooManyRequests))).toBe("rate_limited");
    expect(classifyFailure(new RequestError(forbiddenPrimaryLimit))).toBe("rate_limited");
    expect(classifyFailure(new RequestError(forbiddenSecondaryLimit))).toBe("rate_limited");
    expect(classifyFailure(new RequestError(forbiddenPlain))).toBe("transient");
    expect(classifyFailure(new RequestError(notFound))).toBe("expected");
    expect(classifyFailure(new RequestError(validationFailed))).toBe("permanent");
    for (const fixture of serverErrors) {
      expect(classifyFailure(new RequestError(fixture))).toBe("transient");
    }
  });

  it("finds a secondary limit in the message when the body was not kept", () => {
    const error = new RequestError(forbiddenSecondaryLimit);
    (error.response as { data: unknown }).data = undefined;
    expect(classifyFailure(error)).toBe("rate_limited");
  });

  it("passes the context on, for 404s on resources that should exist", () => {
    expect(classifyFailure(new RequestError(notFound), { resourceShouldExist: true })).toBe(
      "transient",
    );
    expect(classifyFailure(new RequestError(notFound), { overrides: { 404: "permanent" } })).toBe(
      "permanent",
    );
  });

  it("classifies a thrown fetch Response by status and headers", () => {
    expect(classifyFailure(fetchResponse(tooManyRequests))).toBe("rate_limited");
    expect(classifyFailure(fetchResponse(forbiddenPrimaryLimit))).toBe("rate_limited");
    expect(classifyFailure(fetchResponse(forbiddenPlain))).toBe("transient");
    expect(classifyFailure(fetchResponse(notFound))).toBe("expected");
    expect(classifyFailure(fetchResponse(validationFailed))).toBe("permanent");
  });

  it("classifies errors carrying statusCode and headers, and axios-style response objects", () => {
    expect(classifyFailure({ statusCode: 403, headers: { "Retry-After": "5" } })).toBe(
      "rate_limited",
    );
    expect(
      classifyFailure({
        message: "Request failed with status code 403",
        response: { status: 403, headers: forbiddenPrimaryLimit.headers, data: {} },
      }),
    ).toBe("rate_limited");
    expect(classifyFailure({ response: { statusCode: 422 } })).toBe("permanent");
    expect(classifyFailure({ status: 404, body: notFound.body })).toBe("expected");
  });

  it("ignores status fields that are not HTTP statuses", () => {
    expect(classifyFailure({ status: "failed", code: "ECONNRESET" })).toBe("external");
    expect(classifyFailure({ status: 42 })).toBe("transient");
    expect(classifyFailure({ statusCode: 404.5 })).toBe("transient");
  });

  it.each([
    "ECONNRESET",
    "ETIMEDOUT",
    "ENOTFOUND",
    "ECONNREFUSED",
    "EAI_AGAIN",
    "EPIPE",
    "UND_ERR_SOCKET",
    "UND_ERR_CONNECT_TIMEOUT",
  ])("%s is external", (code) => {
    expect(classifyFailure(networkError(code))).toBe("external");
  });

  it("looks through the cause chain, as fetch wraps socket errors", () => {
    const wrapped = new TypeError("fetch failed", { cause: networkError("ECONNRESET") });
    expect(classifyFailure(wrapped)).toBe("external");
    const deeper = new Error("step failed", { cause: new RequestError(tooManyRequests) });
    expect(classifyFailure(deeper)).toBe("rate_limited");
  });

  it("stops on cause cycles", () => {
    const first = new Error("first") as Error & { cause?: unknown };
    const second = new Error("second", { cause: first });
    first.cause = second;
    expect(classifyFailure(first)).toBe("transient");
  });

  it("trusts an explicit failureClass first", () => {
    const error = Object.assign(new RequestError(tooManyRequests), { failureClass: "expected" });
    expect(classifyFailure(error)).toBe("expected");
    expect(classifyFailure(new CircuitTimeoutError(100))).toBe("external");
    // Not a class name: ignored, the other rules apply.
    expect(classifyFailure({ failureClass: "fatal", code: "EPIPE" })).toBe("external");
  });

  it("classifies a TimeoutError from AbortSignal.timeout as external", async () => {
    const signal = AbortSignal.timeout(1);
    await new Promise((resolve) => signal.addEventListener("abort", resolve));
    expect(classifyFailure(signal.reason)).toBe("external");
  });

  it("calls everything else transient", () => {
    expect(classifyFailure(new Error("boom"))).toBe("transient");
    expect(classifyFailure("a string")).toBe("transient");
    expect(classifyFailure(undefined)).toBe("transient");
    expect(classifyFailure(null)).toBe("transient");
    expect(classifyFailure({ code: "ENOENT" })).toBe("transient");
    expect(classifyFailure(Object.assign(() => {}, { code: "ECONNRESET" }))).toBe("external");
  });
});

describe("classifyGitHubResponse", () => {
  it("reads the body of a 403 to find a secondary rate limit, leaving the response readable", async () => {
    const response = fetchResponse(forbiddenSecondaryLimit);
    expect(await classifyGitHubResponse(response)).toBe("rate_limited");
    expect(await response.json()).toEqual(forbiddenSecondaryLimit.body);
    expect(await classifyGitHubResponse(fetchResponse(forbiddenPlain))).toBe("transient");
  });

  it("decides on status and headers when they suffice", async () => {
    expect(await classifyGitHubResponse(fetchResponse(forbiddenPrimaryLimit))).toBe("rate_limited");
    expect(await classifyGitHubResponse(fetchResponse(tooManyRequests))).toBe("rate_limited");
    expect(await classifyGitHubResponse(fetchResponse(notFound))).toBe("expected");
    expect(
      await classifyGitHubResponse(fetchResponse(notFound), { resourceShouldExist: true }),
    ).toBe("transient");
    expect(
      await classifyGitHubResponse(fetchResponse(forbiddenSecondaryLimit), {
        overrides: { 403: "transient" },
      }),
    ).toBe("transient");
  });

  it("falls back to the headers when the body was already read", async () => {
    const response = fetchResponse(forbiddenSecondaryLimit);
    await response.text();
    expect(await classifyGitHubResponse(response)).toBe("transient");
  });
});

import { describe, expect, it } from "vitest";
import { readHeader } from "./headers.js";
import { describeHttpFailure, readHttpFailure } from "./http-failure.js";

describe("readHttpFailure", () => {
  it("reads a fetch Response", () => {
    const response = new Response("{}", {
      status: 502,
      statusText: "Bad Gateway",
      headers: { "retry-after": "3" },
    });
    const failure = readHttpFailure(response);
    expect(failure?.status).toBe(502);
    expect(failure?.message).toBe("Bad Gateway");
    expect(readHeader(failure?.headers, "retry-after")).toBe("3");
  });

  it("reads an Octokit RequestError's shape", () => {
    const error = Object.assign(new Error("You have exceeded a secondary rate limit"), {
      status: 403,
      request: { method: "post", url: "https://api.github.com/repos/a/b/issues/1/comments" },
      response: { status: 403, headers: { "retry-after": "60" }, url: "ignored" },
    });
    const failure = readHttpFailure(error);
    expect(failure).toMatchObject({
      status: 403,
      method: "POST",
      url: "https://api.github.com/repos/a/b/issues/1/comments",
      message: "You have exceeded a secondary rate limit",
    });
    expect(readHeader(failure?.headers, "retry-after")).toBe("60");
    expect(describeHttpFailure(failure!)).toBe(
      "HTTP 403 POST https://api.github.com/repos/a/b/issues/1/comments: You have exceeded a secondary rate limit",
    );
  });

  it("reads axios-like errors and plain objects", () => {
    expect(
      readHttpFailure({
        response: { status: 429, headers: {} },
        config: { method: "get", url: "/x" },
      }),
    ).toMatchObject({ status: 429, method: "GET", url: "/x" });
    expect(readHttpFailure({ statusCode: 500 })).toMatchObject({ status: 500, headers: {} });
  });

  it("keeps the message of a plain object shaped like an Octokit error", () => {
    const failure = readHttpFailure({
      status: 502,
      headers: {},
      request: { method: "post", url: "https://api.github.com/repos/a/b/issues/1/comments" },
      message: "Bad Gateway",
    });
    expect(failure).toMatchObject({ status: 502, message: "Bad Gateway" });
    expect(describeHttpFailure(failure!)).toBe(
      "HTTP 502 POST https://api.github.com/repos/a/b/issues/1/comments: Bad Gateway",
    );
    expect(readHttpFailure({ status: 404, statusText: "Not Found" })).toMatchObject({
      message: "Not Found",
    });
  });

  it("returns undefined without a status, and survives throwing getters", () => {
    expect(readHttpFailure(new Error("ECONNRESET"))).toBeUndefined();
    expect(readHttpFailure("502")).toBeUndefined();
    expect(readHttpFailure({ status: 42 })).toBeUndefined();
    const hostile = {
      get status(): number {
        throw new Error("no");
      },
      statusCode: 503,
    };
    expect(readHttpFailure(hostile)).toMatchObject({ status: 503 });
  });

  it("describes what it knows", () => {
    expect(describeHttpFailure({ status: 404, headers: {} })).toBe("HTTP 404");
  });
});

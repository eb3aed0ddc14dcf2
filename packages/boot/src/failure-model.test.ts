import { CircuitOpenError, CircuitTimeoutError } from "@beauvoir/breaker";
import { describe, expect, it } from "vitest";
import { octokitError, socketError } from "../test/executor-harness.js";
import { classifyAttemptFailure, describeFailure } from "./failure-model.js";

const SECONDARY = "You have exceeded a secondary rate limit.";

describe("the failure model's GitHub defaults", () => {
  it.each([
    [
      "a 429",
      octokitError(429, "Too Many Requests", { "retry-after": "3" }),
      "not_sent",
      "rate_limited",
    ],
    ["a secondary limit", octokitError(403, SECONDARY), "not_sent", "rate_limited"],
    [
      "a used-up quota",
      octokitError(403, "API rate limit exceeded", { "x-ratelimit-remaining": "0" }),
      "not_sent",
      "rate_limited",
    ],
    ["a 408", octokitError(408, "Request Timeout"), "not_sent", "transient"],
    [
      "a permission 403",
      octokitError(403, "Resource not accessible by integration"),
      "rejected",
      "transient",
    ],
    ["a 404", octokitError(404, "Not Found"), "rejected", "expected"],
    ["a 422", octokitError(422, "Validation Failed"), "rejected", "permanent"],
    ["a 501", octokitError(501, "Not Implemented"), "rejected", "transient"],
    ["a 502", octokitError(502, "Server Error"), "ambiguous", "transient"],
    ["connection refused", socketError("ECONNREFUSED"), "not_sent", "external"],
    ["DNS", socketError("ENOTFOUND"), "not_sent", "external"],
    ["a reset", socketError("ECONNRESET"), "ambiguous", "external"],
    [
      "fetch failed on a refused connection",
      new TypeError("fetch failed", { cause: socketError("ECONNREFUSED") }),
      "not_sent",
      "external",
    ],
    [
      "fetch failed on a closed socket",
      new TypeError("fetch failed", {
        cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" }),
      }),
      "ambiguous",
      "external",
    ],
    [
      "a connect timeout from the kernel",
      connectError("ETIMEDOUT", "connect ETIMEDOUT 10.0.0.1:443"),
      "not_sent",
      "external",
    ],
    [
      "fetch failed on a connect timeout",
      new TypeError("fetch failed", {
        cause: connectError("ETIMEDOUT", "connect ETIMEDOUT 10.0.0.1:443"),
      }),
      "not_sent",
      "external",
    ],
    [
      "every address of a host timing out (happy eyeballs)",
      new TypeError("fetch failed", {
        cause: Object.assign(
          new AggregateError(
            [
              connectError("ETIMEDOUT", "connect ETIMEDOUT 10.0.0.1:443"),
              connectError("ENETUNREACH", "connect ENETUNREACH 2001:db8::1:443"),
            ],
            "",
          ),
          { code: "ETIMEDOUT" },
        ),
      }),
      "not_sent",
      "external",
    ],
    [
      "a timeout reading the answer",
      Object.assign(new Error("read ETIMEDOUT"), {
        code: "ETIMEDOUT",
        errno: -110,
        syscall: "read",
      }),
      "ambiguous",
      "external",
    ],
    ["a timeout", new CircuitTimeoutError(500), "ambiguous", "external"],
    ["an open circuit", new CircuitOpenError(0, "OPEN"), "not_sent", "transient"],
    ["anything else", new Error("who knows"), "ambiguous", "transient"],
  ] as const)("%s is %s (%s)", async (_name, error, kind, failureClass) => {
    expect(await classifyAttemptFailure(error)).toMatchObject({ kind, failureClass });
  });

  it("reads a Response's body to tell a secondary limit from a permission 403", async () => {
    const limited = new Response(JSON.stringify({ message: SECONDARY }), { status: 403 });
    const failure = await classifyAttemptFailure(limited);
    expect(failure).toMatchObject({ kind: "not_sent", failureClass: "rate_limited", status: 403 });
    expect(failure.rateLimitEvidence).toMatchObject({
      status: 403,
      body: JSON.stringify({ message: SECONDARY }),
    });
    expect(await limited.text()).toContain(SECONDARY);
    const denied = new Response("Must have admin rights", { status: 403, statusText: "Forbidden" });
    expect(await classifyAttemptFailure(denied)).toMatchObject({
      kind: "rejected",
      description: "HTTP 403: Must have admin rights",
    });
  });

  it("asks a step's override first; one that throws or answers nonsense means ambiguous", async () => {
    const error = octokitError(409, "Conflict");
    expect((await classifyAttemptFailure(error, { failureKind: () => "not_sent" })).kind).toBe(
      "not_sent",
    );
    expect((await classifyAttemptFailure(error, { failureKind: () => undefined })).kind).toBe(
      "rejected",
    );
    expect(
      (await classifyAttemptFailure(error, { failureKind: () => "maybe" as never })).kind,
    ).toBe("ambiguous");
    const throwing = () => {
      throw new Error("override broke");
    };
    expect((await classifyAttemptFailure(error, { failureKind: throwing })).kind).toBe("ambiguous");
    expect((await classifyAttemptFailure(error, { classify: throwing })).failureClass).toBe(
      "transient",
    );
    expect((await classifyAttemptFailure(error, { classify: () => "rate_limited" })).kind).toBe(
      "not_sent",
    );
  });
});

/** A socket error raised while connecting: the request never left. */
function connectError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, errno: -110, syscall: "connect" });
}

describe("describeFailure", () => {
  it("writes one line for anything thrown, and never throws", () => {
    expect(describeFailure(octokitError(422, "Validation Failed"))).toBe(
      "HTTP 422 POST https://api.github.com/repos/acme/widgets/issues/12/labels: Validation Failed",
    );
    expect(describeFailure(socketError("ECONNRESET"))).toBe(
      "ECONNRESET: connect ECONNRESET 140.82.112.6:443",
    );
    expect(describeFailure(new TypeError("fetch failed", { cause: socketError("EPIPE") }))).toBe(
      "TypeError: fetch failed (cause: EPIPE)",
    );
    expect(describeFailure(new RangeError(""))).toBe("RangeError");
    expect(describeFailure("plain")).toBe("plain");
    expect(describeFailure({ reason: "object" })).toBe('{"reason":"object"}');
    expect(describeFailure(undefined)).toBe("undefined");
    const hostile = Object.defineProperty(new Error("x"), "message", {
      get() {
        throw new Error("no message for you");
      },
    });
    expect(describeFailure(hostile)).toBe("Error");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(describeFailure(cyclic)).toBe("unknown error (it could not be described)");
    expect(
      describeFailure(
        new Response(null, { status: 502, statusText: "Bad Gateway" }),
        "<html>oops</html>",
      ),
    ).toBe("HTTP 502: <html>oops</html>");
  });
});

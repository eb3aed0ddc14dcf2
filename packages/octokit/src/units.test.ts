// The plugin's small parts, one by one.
import { describe, expect, it } from "vitest";
import { isNetworkRequestError, OctokitFailureRules } from "./failure-rules.js";
import { FoundEffects } from "./found-effects.js";
import { hasMarker, markerOf, stripMarkers, withMarker } from "./hidden-marker.js";
import { findInPages, MAX_LOOKUP_PAGES, nextPage } from "./paginate.js";
import { beauvoirReconcilers, reconcileHookFor } from "./reconcilers.js";
import { redactOctokitError } from "./redact-error.js";
import { compactData, recordedForm, replayedResponse } from "./response-forms.js";
import { routeParamsOf } from "./route-plan.js";
import { WRITE_ROUTES } from "./route-table.js";

describe("hidden markers", () => {
  it("append one marker, replacing any copied from elsewhere", () => {
    const key = "add_issue_comment:acme/widgets/issues/1/comments:0123456789abcdef";
    const copied = `Quoting:\n\n${markerOf("other:key")}`;
    expect(withMarker(copied, key)).toBe(`Quoting:\n\n${markerOf(key)}`);
    expect(withMarker(undefined, key)).toBe(markerOf(key));
    expect(withMarker("   ", key)).toBe(markerOf(key));
    expect(hasMarker(withMarker("x", key), key)).toBe(true);
    expect(hasMarker(withMarker("x", key), "other")).toBe(false);
    expect(hasMarker(null, key)).toBe(false);
    expect(stripMarkers(`a\n\n${markerOf(key)}`)).toBe("a");
  });

  it("encode a key that could break out of the comment", () => {
    const marker = markerOf("delivery 1 --> <script>");
    expect(marker).toBe("<!-- beauvoir:delivery%201%20-%2D%3E%20%3Cscript%3E -->");
    expect(marker.indexOf("-->")).toBe(marker.length - 3);
  });
});

describe("pagination", () => {
  it("follows rel=next and stops at the first match", async () => {
    const pages: Record<string, { data: unknown[]; link?: string }> = {
      first: {
        data: [{ id: 1 }, { id: 2 }],
        link: '<https://x/p2>; rel="next", <https://x/p3>; rel="last"',
      },
      "https://x/p2": { data: [null, { id: 3 }] },
    };
    const asked: unknown[] = [];
    const reader = {
      request: async (route: unknown, params?: unknown) => {
        asked.push(route);
        const url = typeof route === "string" ? "first" : (route as { url: string }).url;
        const page = pages[url];
        return { status: 200, url, headers: { link: page?.link }, data: page?.data, params };
      },
    };
    const found = await findInPages(reader, "GET /x", {}, AbortSignal.timeout(1_000), (item) =>
      item.id === 3 ? item : undefined,
    );
    expect(found).toEqual({ id: 3 });
    expect(asked).toHaveLength(2);
    expect(nextPage(undefined)).toBeUndefined();
    expect(nextPage('<https://x/a>; rel="prev"')).toBeUndefined();
  });

  it("gives up in doubt (throws) rather than answer not found past the page limit", async () => {
    let calls = 0;
    const reader = {
      request: async () => {
        calls++;
        return {
          status: 200,
          url: "",
          headers: { link: '<https://x/next>; rel="next"' },
          data: { nope: 1 },
        };
      },
    };
    await expect(
      findInPages(reader, "GET /x", {}, AbortSignal.timeout(10_000), () => undefined),
    ).rejects.toThrow(RangeError);
    expect(calls).toBe(MAX_LOOKUP_PAGES);
  });
});

describe("recorded responses", () => {
  it("keep the status, the rate-limit headers and data two levels deep", () => {
    const form = recordedForm({
      status: 201,
      url: "https://api.github.com/x",
      headers: { "X-RateLimit-Remaining": "10", etag: "abc", "x-ratelimit-reset": 5 },
      data: {
        id: 1,
        head: { ref: "main", repo: { id: 2 } },
        labels: [{ name: "bug", owner: { id: 3 } }],
      },
    });
    expect(form).toEqual({
      status: 201,
      url: "https://api.github.com/x",
      headers: { "x-ratelimit-remaining": "10", "x-ratelimit-reset": "5" },
      data: { id: 1, head: { ref: "main" }, labels: [{ name: "bug" }] },
    });
    expect(compactData(Array.from({ length: 150 }, (_, index) => index))).toHaveLength(100);
    expect(replayedResponse("reconciled", undefined, { id: 7 })).toEqual({
      status: 200,
      url: "",
      headers: { "x-beauvoir-outcome": "reconciled" },
      data: { id: 7 },
    });
    expect(replayedResponse("deduplicated", form).data).toEqual(form.data);
  });
});

describe("found effects", () => {
  it("forget the oldest past the limit, and hand each out once", () => {
    const found = new FoundEffects(2);
    found.remember("a", 1);
    found.remember("b", 2);
    found.remember("c", 3);
    expect(found.take("a")).toBeUndefined();
    expect(found.take("c")).toBe(3);
    expect(found.take("c")).toBeUndefined();
  });
});

describe("reconcile hooks", () => {
  it("cover every check_then_retry route, under renamed actions too", () => {
    const reader = { request: async () => ({ status: 200, url: "", headers: {}, data: [] }) };
    const hooks = beauvoirReconcilers(reader, {
      routes: {
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments": { action: "welcome" },
      },
    });
    const expected = Object.values(WRITE_ROUTES)
      .filter((route) => route.strategy === "check_then_retry")
      .map((route) => route.action);
    expect(Object.keys(hooks).sort()).toEqual([...expected, "welcome"].sort());
    expect(() => beauvoirReconcilers({} as never)).toThrow(TypeError);
    expect(() => reconcileHookFor(reader, "POST /x", { action: "x", strategy: "skip" })).toThrow(
      RangeError,
    );
  });

  it("stay in doubt (throw) for a resource that is not of their route", async () => {
    const reader = { request: async () => ({ status: 200, url: "", headers: {}, data: [] }) };
    const hook = beauvoirReconcilers(reader).add_issue_comment!;
    const ask = (scope: string, resource: string) =>
      hook({
        key: "k",
        action: "add_issue_comment",
        scope,
        resource,
        params: {},
        target: "",
        intentSeq: 1,
        signal: AbortSignal.timeout(1_000),
      });
    await expect(ask("acme/widgets", "issue-12")).rejects.toThrow(/cannot read the parameters/);
    await expect(ask("acme", "issues/1/comments")).rejects.toThrow(/cannot read the parameters/);
    await expect(ask("acme/widgets", "issues/1/comments")).resolves.toBe("not_done");
    expect(routeParamsOf("POST /markdown", "acme/widgets", "markdown")).toBeUndefined();
  });
});

describe("Octokit's failures", () => {
  const networkError = (code: string) =>
    Object.assign(new Error("fetch failed"), {
      name: "HttpError",
      status: 500,
      cause: Object.assign(new TypeError("fetch failed"), {
        cause: Object.assign(new Error(code), { code }),
      }),
    });

  it("judge a network error by its cause, not by the 500 Octokit gives it", async () => {
    const rules = new OctokitFailureRules();
    const refused = networkError("ECONNREFUSED");
    const reset = networkError("ECONNRESET");
    expect(isNetworkRequestError(refused)).toBe(true);
    expect(await rules.judge(refused)).toBe("not_sent");
    expect(await rules.judge(reset)).toBe("ambiguous");
    expect(rules.failureKind(refused)).toBe("not_sent");
    expect(rules.failureKind(new Error("other"))).toBeUndefined();
    expect(rules.failureKind("text")).toBeUndefined();
    expect(rules.classify(refused)).toBe("external");
    expect(rules.classify(Object.assign(new Error("x"), { status: 502 }))).toBe("transient");
    const rejected = Object.assign(new Error("Not Found"), {
      name: "HttpError",
      status: 404,
      response: { status: 404, headers: {} },
    });
    expect(isNetworkRequestError(rejected)).toBe(false);
    expect(await rules.judge(rejected)).toBe("rejected");
  });

  it("redact in place, leaving what is not an Octokit error alone", () => {
    const redactor = {
      redactAny: (value: unknown) =>
        typeof value === "string" ? value.replace("s3cret", "[R]") : { redacted: true },
    };
    const error = Object.assign(new Error("bad s3cret"), {
      status: 422,
      request: { url: "https://x/?t=s3cret", headers: { a: 1 }, body: { b: 1 } },
      response: { url: "https://x/s3cret", data: { c: 1 } },
    });
    Object.defineProperty(error.response, "frozen", {
      value: "s3cret",
      writable: false,
      enumerable: true,
    });
    expect(redactOctokitError(error, redactor)).toBe(error);
    expect(error.message).toBe("bad [R]");
    expect(error.request).toEqual({
      url: "https://x/?t=[R]",
      headers: { redacted: true },
      body: { redacted: true },
    });
    expect(error.response.url).toBe("https://x/[R]");
    const plain = new Error("s3cret");
    expect(redactOctokitError(plain, redactor).message).toBe("s3cret");
    expect(redactOctokitError("s3cret", redactor)).toBe("s3cret");
  });
});

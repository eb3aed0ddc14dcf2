import { runInNewContext } from "node:vm";
import { BeauvoirError, isBeauvoirErrorWithCode } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { fake } from "./__fixtures__/fake-secrets.js";
import { SecretRedactor } from "./secret-redactor.js";

const redactor = new SecretRedactor();
const pat = fake.githubClassic;

describe("redactError", () => {
  it("returns a new Error with message and stack redacted, and leaves the original alone", () => {
    const original = new Error(`GET https://x:${pat}@github.com failed`);
    const originalStack = original.stack;
    const copy = redactor.redactError(original);
    expect(copy).not.toBe(original);
    expect(copy).toBeInstanceOf(Error);
    expect(copy.message).toBe("GET https://x:[REDACTED:github-pat]@github.com failed");
    expect(copy.stack).toContain("Error: GET https://x:[REDACTED:github-pat]@github.com failed");
    expect(copy.stack).toContain("redact-error.test.ts");
    expect(copy.stack).not.toContain(pat);
    expect(original.message).toContain(pat);
    expect(original.stack).toBe(originalStack);
  });

  it("keeps the name and the built-in class", () => {
    for (const ErrorType of [
      TypeError,
      RangeError,
      SyntaxError,
      ReferenceError,
      EvalError,
      URIError,
    ]) {
      const copy = redactor.redactError(new ErrorType("token=abc"));
      expect(copy).toBeInstanceOf(ErrorType);
      expect(copy.name).toBe(ErrorType.name);
      expect(copy.message).toBe("token=[REDACTED:token]");
    }
    class GitHubRequestError extends Error {
      override name = "GitHubRequestError";
    }
    const copy = redactor.redactError(new GitHubRequestError("password=p"));
    expect(copy.name).toBe("GitHubRequestError");
    expect(Object.keys(copy)).not.toContain("name");
    expect(copy.message).toBe("password=[REDACTED:password]");
  });

  it("redacts every cause in the chain, and non-Error causes as data", () => {
    const root = {
      status: 401,
      headers: { authorization: "Bearer abc" },
      note: `key ${fake.google}`,
    };
    const middle = new TypeError(`token=${pat}`, { cause: root });
    const top = new Error("request failed", { cause: middle });
    const copy = redactor.redactError(top);
    const copiedMiddle = copy.cause as Error;
    expect(copiedMiddle).toBeInstanceOf(TypeError);
    expect(copiedMiddle).not.toBe(middle);
    expect(copiedMiddle.message).toBe("token=[REDACTED:github-pat]");
    expect(copiedMiddle.cause).toEqual({
      status: 401,
      headers: { authorization: "[REDACTED:authorization]" },
      note: "key [REDACTED:google-api-key]",
    });
    expect(Object.keys(copy)).not.toContain("cause");
    expect(middle.cause).toBe(root);
    expect(root.headers.authorization).toBe("Bearer abc");
  });

  it("keeps an explicit undefined cause and omits an absent one", () => {
    expect("cause" in redactor.redactError(new Error("x", { cause: undefined }))).toBe(true);
    expect("cause" in redactor.redactError(new Error("x"))).toBe(false);
  });

  it("redacts the errors of an AggregateError and keeps it an AggregateError", () => {
    const aggregate = new AggregateError(
      [new Error(`first ${pat}`), "token=second", { password: "third" }],
      "all failed: api_key=abc",
    );
    const copy = redactor.redactError(aggregate) as AggregateError;
    expect(copy).toBeInstanceOf(AggregateError);
    expect(copy.message).toBe("all failed: api_key=[REDACTED:api-key]");
    expect(copy.errors[0]).toBeInstanceOf(Error);
    expect((copy.errors[0] as Error).message).toBe("first [REDACTED:github-pat]");
    expect(copy.errors.slice(1)).toEqual([
      "token=[REDACTED:token]",
      { password: "[REDACTED:password]" },
    ]);
    expect((aggregate.errors[0] as Error).message).toContain(pat);
  });

  it("redacts errors lists on errors that are not AggregateError", () => {
    const error = Object.assign(new Error("batch"), { errors: [new Error("token=a")] });
    const copy = redactor.redactError(error) as Error & { errors: Error[] };
    expect(copy.errors[0]?.message).toBe("token=[REDACTED:token]");
  });

  it("copies code and own fields, redacted, with credential keys replaced", () => {
    const error = Object.assign(new Error("HTTP 401"), {
      code: "E_UNAUTHORIZED",
      status: 401,
      config: { url: "https://api/x?access_token=abc", headers: { Authorization: `token ${pat}` } },
    });
    const copy = redactor.redactError(error) as Error & Record<string, unknown>;
    expect(copy.code).toBe("E_UNAUTHORIZED");
    expect(copy.status).toBe(401);
    expect(copy.config).toEqual({
      url: "https://api/x?access_token=[REDACTED:token]",
      headers: { Authorization: "[REDACTED:authorization]" },
    });
  });

  it("still passes BeauvoirError.isInstance and code checks", () => {
    class LockHeldError extends BeauvoirError<"LOCK_HELD"> {
      constructor(message: string) {
        super("LOCK_HELD", message);
      }
    }
    const copy = redactor.redactError(new LockHeldError(`held by token=${pat}`));
    expect(BeauvoirError.isInstance(copy)).toBe(true);
    expect(isBeauvoirErrorWithCode(copy, "LOCK_HELD")).toBe(true);
    expect((copy as unknown as { code: string }).code).toBe("LOCK_HELD");
    expect(copy.name).toBe("LockHeldError");
    expect(copy.message).toBe("held by token=[REDACTED:github-pat]");
  });

  it("stops on cause cycles and on chains deeper than maxDepth", () => {
    const first = new Error("first");
    const second = new Error("second", { cause: first });
    (first as { cause?: unknown }).cause = second;
    const copy = redactor.redactError(first);
    expect((copy.cause as Error).message).toBe("second");
    expect((copy.cause as Error).cause).toBe("[Circular]");

    let chain = new Error("level 0");
    for (let level = 1; level <= 15; level++) chain = new Error(`level ${level}`, { cause: chain });
    let depth = 0;
    let cursor: unknown = redactor.redactError(chain);
    while (cursor instanceof Error) {
      cursor = cursor.cause;
      depth++;
    }
    expect(depth).toBe(10);
    expect(cursor).toBe("[MaxDepth]");
  });

  it("turns thrown non-Errors into Errors carrying their redacted description", () => {
    expect(redactor.redactError(`token=${pat}`).message).toBe("token=[REDACTED:github-pat]");
    expect(redactor.redactError({ code: 42, password: "p" }).message).toBe(
      '{"code":42,"password":"[REDACTED:password]"}',
    );
    expect(redactor.redactError(undefined).message).toBe("undefined");
    expect(redactor.redactError(null).message).toBe("null");
    const errorLike = redactor.redactError({
      name: "FetchError",
      message: "token=abc",
      status: 500,
    });
    expect(errorLike).toBeInstanceOf(Error);
    expect(errorLike.name).toBe("FetchError");
    expect(errorLike.message).toBe("token=[REDACTED:token]");
    expect((errorLike as Error & { status?: number }).status).toBe(500);
  });

  it("handles errors from another realm", () => {
    const foreign = runInNewContext(`new TypeError("password=hunter2")`) as Error;
    expect(foreign instanceof Error).toBe(false);
    const copy = redactor.redactError(foreign);
    expect(copy).toBeInstanceOf(Error);
    expect(copy.name).toBe("TypeError");
    expect(copy.message).toBe("password=[REDACTED:password]");
  });

  it("survives errors whose properties throw", () => {
    const hostile = new Error("fine");
    Object.defineProperty(hostile, "message", {
      get() {
        throw new Error("no message");
      },
    });
    Object.defineProperty(hostile, "detail", {
      enumerable: true,
      get() {
        throw new Error("no detail");
      },
    });
    const copy = redactor.redactError(hostile);
    expect(copy.message).toBe("[Unreadable]");
    expect((copy as Error & { detail?: unknown }).detail).toBe("[Unreadable]");
    const proxy = new Proxy(new Error("x"), {
      ownKeys() {
        throw new Error("no keys");
      },
    });
    expect(() => redactor.redactError(proxy)).not.toThrow();
  });

  it("uses name: message as the stack of an error that has none", () => {
    const bare = new Error("token=abc");
    Object.defineProperty(bare, "stack", { value: undefined });
    expect(redactor.redactError(bare).stack).toBe("Error: token=[REDACTED:token]");
  });
});

describe("errors inside redactAny", () => {
  it("renders name, message, stack, code, fields, cause and errors as plain data", () => {
    const error = Object.assign(new RangeError(`bad ${pat}`, { cause: new Error("token=abc") }), {
      code: "E_RANGE",
      detail: { password: "p" },
    });
    const rendered = redactor.redactAny({ error }) as { error: Record<string, unknown> };
    expect(rendered.error).toMatchObject({
      name: "RangeError",
      message: "bad [REDACTED:github-pat]",
      code: "E_RANGE",
      detail: { password: "[REDACTED:password]" },
      cause: { name: "Error", message: "token=[REDACTED:token]" },
    });
    expect(rendered.error.stack).toContain("RangeError: bad [REDACTED:github-pat]");
    const aggregate = redactor.redactAny(new AggregateError([new Error("a")], "b")) as Record<
      string,
      unknown
    >;
    expect(aggregate.errors).toEqual([expect.objectContaining({ name: "Error", message: "a" })]);
  });
});

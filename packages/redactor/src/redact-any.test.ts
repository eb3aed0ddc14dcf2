import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { everyFakeSecret, fake } from "./__fixtures__/fake-secrets.js";
import { SecretRedactor } from "./secret-redactor.js";

const redactor = new SecretRedactor();
const redactAny = (value: unknown) => redactor.redactAny(value);

describe("redactAny on plain data", () => {
  it("returns primitives as they are, and redacts strings", () => {
    expect(redactAny(null)).toBeNull();
    expect(redactAny(undefined)).toBeUndefined();
    expect(redactAny(42)).toBe(42);
    expect(redactAny(Number.NaN)).toBeNaN();
    expect(redactAny(true)).toBe(true);
    expect(redactAny("")).toBe("");
    expect(redactAny(`x ${fake.githubClassic}`)).toBe("x [REDACTED:github-pat]");
  });

  it("walks nested objects and arrays and redacts every string leaf", () => {
    const input = {
      request: {
        url: `https://api.example.com/v1/items?api_key=abc123&page=2`,
        body: [{ note: `deploy with ${fake.npm}` }, ["plain", `Bearer ${fake.jwt}`]],
      },
      count: 3,
    };
    expect(redactAny(input)).toEqual({
      request: {
        url: "https://api.example.com/v1/items?api_key=[REDACTED:api-key]&page=2",
        body: [{ note: "deploy with [REDACTED:npm-token]" }, ["plain", "Bearer [REDACTED:jwt]"]],
      },
      count: 3,
    });
  });

  it("replaces credential headers whole, in any letter case", () => {
    const headers = {
      Authorization: "Bearer short",
      "x-api-key": "k",
      "X-GitHub-Token": "t",
      COOKIE: "sid=1",
      "set-cookie": ["a=1", "b=2"],
      "Proxy-Authorization": "Basic abc",
      accept: "application/json",
      "user-agent": "octokit/1.0",
    };
    expect(redactAny({ headers })).toEqual({
      headers: {
        Authorization: "[REDACTED:authorization]",
        "x-api-key": "[REDACTED:api-key]",
        "X-GitHub-Token": "[REDACTED:token]",
        COOKIE: "[REDACTED:cookie]",
        "set-cookie": "[REDACTED:cookie]",
        "Proxy-Authorization": "[REDACTED:authorization]",
        accept: "application/json",
        "user-agent": "octokit/1.0",
      },
    });
  });

  it("replaces values under keys named like a password, secret, token or key", () => {
    const input = {
      password: "hunter2",
      dbPassword: 12345,
      client_secret: { value: "s" },
      githubToken: "t",
      access_token: "t",
      api_key: "k",
      apiKey: "k",
      private_key: "pk",
      privateKey: "pk",
      AWS_SECRET_ACCESS_KEY: "s",
      passphrase: "p",
      cookies: { sid: "1" },
    };
    expect(redactAny(input)).toEqual({
      password: "[REDACTED:password]",
      dbPassword: "[REDACTED:password]",
      client_secret: "[REDACTED:secret]",
      githubToken: "[REDACTED:token]",
      access_token: "[REDACTED:token]",
      api_key: "[REDACTED:api-key]",
      apiKey: "[REDACTED:api-key]",
      private_key: "[REDACTED:secret]",
      privateKey: "[REDACTED:secret]",
      AWS_SECRET_ACCESS_KEY: "[REDACTED:aws-secret]",
      passphrase: "[REDACTED:password]",
      cookies: "[REDACTED:cookie]",
    });
  });

  it("keeps absent, empty and boolean values under credential keys, and ordinary look-alike keys", () => {
    const input = {
      token: null,
      password: "",
      secret: undefined,
      hasToken: true,
      max_tokens: 1024,
      tokenType: "bearer",
      passwordPolicy: "strict",
      tokens: ["a", "b"],
    };
    expect(redactAny(input)).toEqual(input);
  });

  it("redacts secrets used as object keys", () => {
    const input = { [fake.githubClassic]: "owner", [fake.githubApp]: "app" };
    expect(redactAny(input)).toEqual({
      "[REDACTED:github-pat]": "owner",
      "[REDACTED:github-app]": "app",
    });
  });

  it("keeps both values when two keys redact to the same placeholder", () => {
    const second = `ghp_${"Z9y8".repeat(9)}`;
    const result = redactAny({ [fake.githubClassic]: 1, [second]: 2 });
    expect(result).toEqual({ "[REDACTED:github-pat]": 1, "[REDACTED:github-pat]#2": 2 });
  });
});

describe("redactAny on what JSON and loggers get handed", () => {
  it("reports cycles as [Circular] but repeats shared, non-cyclic references", () => {
    const shared = { name: "shared" };
    const input: Record<string, unknown> = { a: shared, b: shared, list: [] as unknown[] };
    input.self = input;
    (input.list as unknown[]).push(input, shared);
    expect(redactAny(input)).toEqual({
      a: { name: "shared" },
      b: { name: "shared" },
      list: ["[Circular]", { name: "shared" }],
      self: "[Circular]",
    });
  });

  it("stops at maxDepth (10 levels by default) with [MaxDepth]", () => {
    const nest = (levels: number): unknown => (levels === 0 ? "leaf" : { next: nest(levels - 1) });
    const depthOf = (value: unknown): number =>
      typeof value === "object" && value !== null
        ? 1 + depthOf((value as { next: unknown }).next)
        : 0;
    expect(redactAny(nest(10))).toEqual(nest(10));
    const cut = redactAny(nest(11));
    expect(depthOf(cut)).toBe(10);
    expect(JSON.stringify(cut)).toContain('"next":"[MaxDepth]"');
    expect(new SecretRedactor({ maxDepth: 1 }).redactAny({ a: { b: 1 }, c: 2 })).toEqual({
      a: "[MaxDepth]",
      c: 2,
    });
  });

  it("turns Maps, Sets, Dates, bigints, symbols and functions into JSON-safe stand-ins", () => {
    const input = {
      map: new Map<string, unknown>([
        ["password", "p"],
        ["note", `x ${fake.stripeLive}`],
      ]),
      mixedMap: new Map<unknown, unknown>([
        [1, "one"],
        [{ id: 2 }, "token=abc"],
      ]),
      set: new Set([`k ${fake.google}`, 2]),
      date: new Date(Date.UTC(2025, 0, 2, 3, 4, 5)),
      badDate: new Date(Number.NaN),
      big: 12345678901234567890n,
      symbol: Symbol(`label ${fake.githubClassic}`),
      fn: function namedFunction() {},
      arrow: () => {},
      regexp: /token=abc/g,
    };
    const result = redactAny(input);
    expect(result).toEqual({
      map: { password: "[REDACTED:password]", note: "x [REDACTED:stripe-key]" },
      mixedMap: [
        [1, "one"],
        [{ id: 2 }, "token=[REDACTED:token]"],
      ],
      set: ["k [REDACTED:google-api-key]", 2],
      date: "2025-01-02T03:04:05.000Z",
      badDate: "Invalid Date",
      big: "12345678901234567890",
      symbol: "Symbol(label [REDACTED:github-pat])",
      fn: "[Function: namedFunction]",
      arrow: "[Function: arrow]",
      // The value runs to the next blank, so the flags go with it.
      regexp: "/token=[REDACTED:token]",
    });
    expect(() => JSON.stringify(result)).not.toThrow();
  });

  it("never shows the content of binary data", () => {
    const secret = Buffer.from(`token=${fake.githubClassic}`);
    expect(
      redactAny({
        buffer: secret,
        bytes: new Uint8Array(secret),
        view: new DataView(new ArrayBuffer(4)),
        raw: new ArrayBuffer(8),
        shared: new SharedArrayBuffer(2),
      }),
    ).toEqual({
      buffer: `[Buffer: ${secret.length} bytes]`,
      bytes: `[Uint8Array: ${secret.length} bytes]`,
      view: "[DataView: 4 bytes]",
      raw: "[ArrayBuffer: 8 bytes]",
      shared: "[SharedArrayBuffer: 2 bytes]",
    });
  });

  it("copies class instances as plain objects of their own fields", () => {
    class Client {
      readonly baseUrl = "https://u:pw@api.example.com";
      readonly token = "abc";
      get computed() {
        return "not own";
      }
    }
    expect(redactAny(new Client())).toEqual({
      baseUrl: "https://u:[REDACTED:url-password]@api.example.com",
      token: "[REDACTED:token]",
    });
  });

  it("honours toJSON (URL, custom) and redacts its result", () => {
    const url = new URL(`https://ada:hunter2@example.com/cb?access_token=abc`);
    const custom = { toJSON: () => ({ secret: "s", visible: "v" }) };
    expect(redactAny({ url, custom })).toEqual({
      url: "https://ada:[REDACTED:url-password]@example.com/cb?access_token=[REDACTED:token]",
      custom: { secret: "[REDACTED:secret]", visible: "v" },
    });
  });

  it("survives a toJSON that returns its own object or keeps returning new ones", () => {
    const selfish = {
      name: "me",
      toJSON() {
        return this;
      },
    };
    const endless: { toJSON(): unknown } = { toJSON: () => ({ toJSON: endless.toJSON }) };
    expect(redactAny(selfish)).toEqual({ name: "me", toJSON: "[Function: toJSON]" });
    expect(JSON.stringify(redactAny(endless))).toContain("[MaxDepth]");
  });

  it("renders URLSearchParams and Headers with their secrets removed", () => {
    const params = new URLSearchParams({ q: "cats", access_token: "abc" });
    const headers = new Headers({ authorization: "Bearer x", accept: "text/html" });
    expect(redactAny({ params, headers })).toEqual({
      params: "q=cats&access_token=[REDACTED:token]",
      headers: { accept: "text/html", authorization: "[REDACTED:authorization]" },
    });
  });

  it("unboxes boxed primitives", () => {
    const boxed = [new String("token=abc"), new Number(7), new Boolean(false)];
    expect(redactAny(boxed)).toEqual(["token=[REDACTED:token]", 7, false]);
  });

  it("names values it cannot walk: WeakMap, WeakSet, Promise", () => {
    expect(redactAny([new WeakMap(), new WeakSet(), Promise.resolve(1)])).toEqual([
      "[WeakMap]",
      "[WeakSet]",
      "[Promise]",
    ]);
  });

  it("reports throwing getters and hostile proxies as [Unreadable] and carries on", () => {
    const input = {
      fine: "ok",
      get broken(): string {
        throw new Error("getter exploded");
      },
      proxy: new Proxy(
        {},
        {
          ownKeys() {
            throw new Error("no keys for you");
          },
        },
      ),
      list: new Proxy([1, 2], {
        get(target, key) {
          if (key === "1") throw new Error("no index");
          return Reflect.get(target, key);
        },
      }),
    };
    expect(redactAny(input)).toEqual({
      fine: "ok",
      broken: "[Unreadable]",
      proxy: "[Unreadable]",
      list: [1, "[Unreadable]"],
    });
  });

  it("returns [Unreadable] for a top-level value it cannot read at all", () => {
    const hostile = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error("no prototype");
        },
      },
    );
    expect(() => redactAny(hostile)).not.toThrow();
  });

  it("keeps a __proto__ key as data, never as a prototype", () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": true, "password": "p"}, "a": 1}');
    const result = redactAny(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect((result as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(result, "__proto__")?.value).toEqual({
      polluted: true,
      password: "[REDACTED:password]",
    });
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it("ignores symbol-keyed and non-enumerable properties", () => {
    const input = { visible: 1, [Symbol("hidden")]: "token=abc" };
    Object.defineProperty(input, "secretish", { value: "x", enumerable: false });
    expect(redactAny(input)).toEqual({ visible: 1 });
  });

  it("never mutates its input", () => {
    const input = {
      headers: { authorization: "Bearer abc" },
      list: [`token=${fake.githubClassic}`],
      map: new Map([["password", "p"]]),
      nested: { deeper: { url: "https://u:p@h" } },
    };
    const snapshot = structuredClone(input);
    redactAny(input);
    expect(isDeepStrictEqual(input, snapshot)).toBe(true);
  });

  it("never throws and always returns JSON-serialisable data, whatever it is given", () => {
    fc.assert(
      fc.property(
        fc.anything({
          withBigInt: true,
          withMap: true,
          withSet: true,
          withDate: true,
          withTypedArray: true,
          withSparseArray: true,
          withNullPrototype: true,
          withBoxedValues: true,
        }),
        (value) => {
          const result = redactAny(value);
          expect(() => JSON.stringify(result)).not.toThrow();
        },
      ),
      { numRuns: 500 },
    );
  });

  it("removes every known secret wherever it sits in a structure", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...everyFakeSecret),
        fc.constantFrom("value", "key", "map", "set", "error", "array"),
        fc.constantFrom("", "note: ", "token="),
        (secret, place, context) => {
          const text = `${context}${secret}`;
          const holders: Record<string, unknown> = {
            value: { a: { b: text } },
            key: { [text]: 1 },
            map: new Map([["k", text]]),
            set: new Set([text]),
            error: new Error(text),
            array: [[text]],
          };
          expect(JSON.stringify(redactAny({ holder: holders[place] }))).not.toContain(secret);
        },
      ),
      { numRuns: 500 },
    );
  });
});

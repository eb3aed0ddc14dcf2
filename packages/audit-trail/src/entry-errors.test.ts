import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { BeauvoirError, nodeFileSystem } from "@beauvoir/core";
import { describe, expect, it } from "vitest";
import { useAuditDirectory } from "./__fixtures__/audit-directory.js";
import { keepEverything, readRecordsOf } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";
import type { AuditTrailOptions } from "./options.js";

let dir: string;
let path: string;
const trails = useAuditDirectory((made) => {
  ({ dir, path } = made);
});

async function openTrail(options: Partial<AuditTrailOptions> = {}): Promise<AuditTrail> {
  const trail = new AuditTrail({ path, redactor: keepEverything, ...options });
  trails.track(trail);
  await trail.initialize();
  return trail;
}

const comment = { action: "add_issue_comment", target: "acme/app#1", params: { body: "hi" } };

function throwingGetter<T extends object>(target: T, property: string): T {
  Object.defineProperty(target, property, {
    enumerable: true,
    get() {
      throw new Error(`${property} getter exploded`);
    },
  });
  return target;
}

function deeplyNested(levels: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let current = root;
  for (let level = 0; level < levels; level++) {
    const next: Record<string, unknown> = {};
    current.child = next;
    current = next;
  }
  return root;
}

describe("F9: every error thrown on purpose has a code", () => {
  it("records a failure whose message getter throws with a safe description", async () => {
    const trail = await openTrail();
    const seq = await trail.recordIntent(comment);
    const failure = throwingGetter(new Error("x"), "message");
    const outcome = await trail.recordResult(seq, undefined, failure).then(
      (resultSeq) => ({ resultSeq }),
      (error: unknown) => ({ error }),
    );
    if ("error" in outcome) {
      expect(BeauvoirError.isInstance(outcome.error)).toBe(true);
    } else {
      const records = await readRecordsOf(path);
      expect(records[1]).toMatchObject({
        phase: "result",
        intentSeq: seq,
        error: expect.any(String),
      });
    }
  });

  it.each([
    ["a name getter that throws", () => throwingGetter(new Error("boom"), "name")],
    [
      "a proxy that throws on every access",
      () =>
        new Proxy(new Error("boom"), {
          get() {
            throw new Error("trap");
          },
          getPrototypeOf() {
            throw new Error("trap");
          },
        }),
    ],
    [
      "an object whose toString throws",
      () => ({
        toString: () => {
          throw new Error("no");
        },
      }),
    ],
    ["a symbol", () => Symbol("odd")],
  ])("never crashes untyped on an error with %s", async (_name, make) => {
    const trail = await openTrail();
    const seq = await trail.recordIntent(comment);
    const outcome = await trail.recordResult(seq, undefined, make() as never).then(
      () => undefined,
      (error: unknown) => error,
    );
    if (outcome !== undefined) expect(BeauvoirError.isInstance(outcome)).toBe(true);
  });

  it.each([
    ["a getter that throws", () => throwingGetter({}, "field")],
    [
      "a toJSON that throws",
      () => ({
        value: {
          toJSON: () => {
            throw new Error("no JSON");
          },
        },
      }),
    ],
    ["100,000 levels of nesting", () => deeplyNested(100_000)],
    ["a BigInt", () => ({ id: 1n })],
  ])("refuses params with %s with AUDIT_INVALID_ENTRY and writes nothing", async (_name, make) => {
    const trail = await openTrail();
    await expect(trail.recordIntent({ ...comment, params: make() })).rejects.toMatchObject({
      code: "AUDIT_INVALID_ENTRY",
      field: "params",
    });
    const seq = await trail.recordIntent(comment);
    await expect(trail.recordResult(seq, make())).rejects.toMatchObject({
      code: "AUDIT_INVALID_ENTRY",
      field: "result",
    });
    expect(await readRecordsOf(path)).toHaveLength(1);
    // The intent is still open: its result can be recorded once it can be serialized.
    expect(await trail.recordResult(seq, { ok: true })).toBe(2);
  });

  it("refuses an entry whose fields throw when read", async () => {
    const trail = await openTrail();
    await expect(
      trail.recordIntent(throwingGetter({ ...comment }, "action") as never),
    ).rejects.toMatchObject({
      code: "AUDIT_INVALID_ENTRY",
    });
    await expect(
      trail.recordDenied(throwingGetter({ ...comment }, "target") as never),
    ).rejects.toMatchObject({
      code: "AUDIT_INVALID_ENTRY",
    });
    expect((await readFile(path)).length).toBe(0);
  });

  it("refuses a redactor that returns a non-string for a string field", async () => {
    const trail = await openTrail({
      redactor: { redactAny: (value) => (typeof value === "string" ? 42 : value) },
    });
    await expect(trail.recordIntent(comment)).rejects.toMatchObject({
      code: "AUDIT_INVALID_ENTRY",
    });
    expect((await readFile(path)).length).toBe(0);
  });
});

describe("F9: every option is validated before the first durable write", () => {
  it.each([
    ["logger", { logger: { info: () => {} } }],
    ["clock", { clock: { now: () => 0 } }],
    ["fs", { fs: { ...nodeFileSystem, fsyncDirectory: undefined } }],
    ["path", { path: "/tmp/a\u0000b.jsonl" }],
    ["path", { path: "/tmp/" }],
  ])("rejects a bad %s at construction, naming it", (option, extra) => {
    const create = () =>
      new AuditTrail({
        path: join(dir, "never", "audit.jsonl"),
        ...(extra as Partial<AuditTrailOptions>),
      });
    expect(create).toThrow(TypeError);
    expect(create).toThrow(new RegExp(option));
  });
});

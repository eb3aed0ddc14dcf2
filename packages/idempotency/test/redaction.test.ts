import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretRedactor } from "@beauvoir/redactor";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { IdempotencyIndex } from "../src/idempotency-index.js";
import { generateIdempotencyKey } from "../src/idempotency-key.js";

/** Fake secrets of the shapes a GitHub bot holds. */
const CLASSIC = `ghp_${"A1b2C3d4E5".repeat(3)}123456`;
const FINE_GRAINED = `github_pat_11ABCDEFG0123456789ABC_${"abcdefghij".repeat(5)}012345678`;
const URL_TOKEN = `https://x-access-token:${CLASSIC}@github.com/acme/widgets.git`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "idem-redaction-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function everyFileUnder(path: string): Promise<string> {
  let text = "";
  for (const entry of await readdir(path, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) text += (await readFile(join(entry.parentPath, entry.name))).toString();
  }
  return text;
}

describe("nothing a caller hands the index reaches its files unredacted", () => {
  it("results, error texts, actions and keys are redacted in the journal and the snapshot", async () => {
    const index = new IdempotencyIndex({ dir, compactionThreshold: 2 });
    await index.initialize();
    const withResult = index.generateKey("create_branch", "acme/widgets", "fix-1", { CLASSIC });
    await index.markPending(withResult, 1);
    await index.markCompleted(withResult, {
      token: CLASSIC,
      nested: [{ note: `use ${FINE_GRAINED}` }],
      map: new Map([["remote", URL_TOKEN]]),
    });
    const withError = index.generateKey("add_labels", "acme/widgets", "issue-2", {});
    await index.markPending(withError, 2, { action: "add_labels" });
    await index.markFailed(withError, new Error(`push to ${URL_TOKEN} failed`));
    const viaSettle = index.generateKey("add_labels", "acme/widgets", "issue-3", {});
    await index.settle(viaSettle, { status: "failed", error: `token ${FINE_GRAINED} revoked` });
    const withResource = index.generateKey(
      "add_issue_comment",
      "acme/widgets",
      `issues/4?access_token=${CLASSIC}`,
      { body: "hi" },
    );
    await index.markPending(withResource, 4);
    await index.markCompleted(withResource, "ok");
    // What the caller reads back is what the files hold: redacted.
    const entry = await index.check(withResult);
    expect(JSON.stringify(entry)).not.toContain(CLASSIC);
    expect((await index.check(withError))?.error).toContain("failed");
    await index.close();
    const text = await everyFileUnder(dir);
    for (const secret of [CLASSIC, FINE_GRAINED, "A1b2C3d4E5A1b2C3d4E5"]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain("[REDACTED:");
    // The directory is still a working index.
    const fresh = new IdempotencyIndex({ dir });
    await fresh.initialize();
    expect(await fresh.check(withResource)).toMatchObject({ status: "completed", result: "ok" });
    expect(await fresh.markPending(withResult, 9)).toMatchObject({ claimed: false });
    await fresh.close();
  });

  it("uses the redactor given as an option", async () => {
    const seen: string[] = [];
    const redactor = {
      redact: (text: string) => {
        seen.push(text);
        return text.replaceAll("sekrit", "[gone]");
      },
      redactAny: (value: unknown) =>
        JSON.parse(JSON.stringify(value).replaceAll("sekrit", "[gone]")),
    };
    const index = new IdempotencyIndex({ dir, redactor });
    await index.initialize();
    const key = index.generateKey("deploy", "acme/sekrit", "r", {});
    expect(key).toMatch(/^deploy:acme\/\[gone\]\/r:[0-9a-f]{16}$/);
    await index.markPending(key, 1);
    await index.markFailed(key, "sekrit failure");
    expect((await index.check(key))?.error).toBe("[gone] failure");
    await index.close();
    expect(await everyFileUnder(dir)).not.toContain("sekrit");
    expect(seen.length).toBeGreaterThan(0);
  });

  it("refuses a key that would change under redaction instead of storing the secret", async () => {
    const index = new IdempotencyIndex({ dir });
    await index.initialize();
    const error = await index.markPending(`raw:${CLASSIC}`, 1).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "KEY_CONTAINS_SECRET" });
    expect(await index.check(`raw:${CLASSIC}`)).toBeNull();
    await index.close();
    expect(await everyFileUnder(dir)).not.toContain(CLASSIC);
  });

  it("creates its files 0600 and its directory 0700", async () => {
    const nested = join(dir, "fresh", "index");
    const index = new IdempotencyIndex({ dir: nested });
    await index.initialize();
    await index.markPending("k", 1);
    await index.close();
    expect((await stat(nested)).mode & 0o777).toBe(0o700);
    for (const name of await readdir(nested)) {
      const info = await stat(join(nested, name));
      if (info.isFile()) expect(info.mode & 0o777, name).toBe(0o600);
    }
  });
});

describe("key derivation", () => {
  it("keeps the documented shape with the visible scope and resource redacted", () => {
    const plain = generateIdempotencyKey("add_labels", "acme/widgets", "issue-12", {});
    expect(plain).toMatch(/^add_labels:acme\/widgets\/issue-12:[0-9a-f]{16}$/);
    const inProse = generateIdempotencyKey("push", "acme/widgets", `branch ${CLASSIC} x`, {});
    expect(inProse).toMatch(/^push:acme\/widgets\/branch \[REDACTED:[^\]]+\] x:[0-9a-f]{16}$/);
    for (const resource of [`issue?token=${CLASSIC}`, `a/${FINE_GRAINED}`, URL_TOKEN]) {
      const key = generateIdempotencyKey("add_labels", "acme/widgets", resource, {});
      expect(key).toMatch(/^add_labels:acme\/widgets\/.*:[0-9a-f]{16}$/);
      expect(key).not.toContain(CLASSIC);
      expect(key).not.toContain(FINE_GRAINED);
    }
  });

  it("hashes the unredacted scope, resource and params: two secrets never share a key", () => {
    const other = `ghp_${"Z9y8X7w6V5".repeat(3)}654321`;
    const first = generateIdempotencyKey("push", "acme/widgets", `branch?token=${CLASSIC}`, {});
    const second = generateIdempotencyKey("push", "acme/widgets", `branch?token=${other}`, {});
    expect(first.slice(0, first.lastIndexOf(":"))).toBe(second.slice(0, second.lastIndexOf(":")));
    expect(first).not.toBe(second);
    const inParams = generateIdempotencyKey("push", "s", "r", { token: CLASSIC });
    expect(inParams).not.toBe(generateIdempotencyKey("push", "s", "r", { token: other }));
    // Deterministic.
    expect(generateIdempotencyKey("push", "acme/widgets", `branch?token=${CLASSIC}`, {})).toBe(
      first,
    );
  });

  it("does not let scope and resource slide into each other", () => {
    expect(generateIdempotencyKey("a", "acme/widgets", "issues/12", {})).not.toBe(
      generateIdempotencyKey("a", "acme", "widgets/issues/12", {}),
    );
    expect(generateIdempotencyKey("a", "s", "r", { x: 1 })).not.toBe(
      generateIdempotencyKey("a", "s", 'r","params":{"x":1}', {}),
    );
  });

  it("redacting an already generated key gives the same key back", () => {
    const redactor = new SecretRedactor();
    const inputs: Array<[string, string]> = [
      ["acme/widgets", "issue-12"],
      ["acme/widgets", `issues/4?access_token=${CLASSIC}`],
      [URL_TOKEN, "main"],
      ["acme", `Bearer ${FINE_GRAINED}`],
      ["o/r", "password=hunter2"],
    ];
    for (const [scope, resource] of inputs) {
      const key = generateIdempotencyKey("act", scope, resource, { resource });
      expect(redactor.redact(key), key).toBe(key);
      expect(key).toMatch(/^act:.*:[0-9a-f]{16}$/);
    }
  });
});

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";
import { useAuditDirectory } from "./__fixtures__/audit-directory.js";
import { AuditTrail } from "./audit-trail.js";

let dir: string;
useAuditDirectory((made) => {
  ({ dir } = made);
});

const token = `ghp_${"Z9y8X7w6V5".repeat(3)}u4T3s2`;

it("F3: redacts every field carrying caller data: action, target, dedupeKey, params, result, error, reason", async () => {
  const path = join(dir, "audit.jsonl");
  const trail = new AuditTrail({ path });
  await trail.initialize();
  const seq = await trail.recordIntent({
    action: `call:${token}`,
    target: `https://x-access-token:${token}@github.com/acme/app.git`,
    params: { token },
    dedupeKey: `get:acme/app/contents?access_token=${token}:0123456789abcdef`,
  });
  await trail.recordResult(seq, { echoed: token }, `failed ${token}`);
  await trail.recordDenied({
    action: "push",
    target: `acme/app?token=${token}`,
    params: {},
    reason: `no: ${token}`,
  });
  await trail.recordDryRun({ action: "push", target: `acme/app#${token}`, params: {} });
  await trail.close();
  const text = await readFile(path, "utf8");
  expect(text).not.toContain(token);
  expect(text).not.toContain(token.slice(4, 24));
  const reopened = new AuditTrail({ path });
  await reopened.initialize();
  expect(await reopened.verifyChain()).toMatchObject({ valid: true, records: 4 });
  await reopened.close();
});

it("F3: passes every caller-supplied field through the configured redactor", async () => {
  const seen: unknown[] = [];
  const redactor = {
    redactAny: (value: unknown) => {
      seen.push(value);
      return typeof value === "string" ? value.replaceAll("secret", "[R]") : value;
    },
  };
  const path = join(dir, "audit.jsonl");
  const trail = new AuditTrail({ path, redactor });
  await trail.initialize();
  const seq = await trail.recordIntent({
    action: "secret-action",
    target: "secret-target",
    params: { p: 1 },
    dedupeKey: "secret-key",
  });
  await trail.recordResult(seq, { r: 1 }, "secret-error");
  await trail.recordDenied({ action: "a", target: "t", params: {}, reason: "secret-reason" });
  await trail.close();
  expect(seen).toEqual(
    expect.arrayContaining([
      "secret-action",
      "secret-target",
      "secret-key",
      "secret-error",
      "secret-reason",
    ]),
  );
  expect(await readFile(path, "utf8")).not.toContain("secret");
});

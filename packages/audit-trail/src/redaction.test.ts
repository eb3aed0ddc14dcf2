import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { SecretRedactor } from "@beauvoir/redactor";
import { afterEach, beforeEach, expect, it } from "vitest";
import { makeTempDir, readRecordsOf } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});
afterEach(() => cleanup());

const token = `ghp_${"A1b2C3d4E5".repeat(3)}f6G7h8`;

it("redacts params, results and errors with the default SecretRedactor before anything is written", async () => {
  expect(token).toHaveLength(40);
  const path = join(dir, "audit.jsonl");
  const trail = new AuditTrail({ path });
  await trail.initialize();
  const intent = await trail.recordIntent({
    action: "add_issue_comment",
    target: "acme/app#1",
    params: {
      body: `deploy with ${token}`,
      headers: { authorization: `Bearer ${token}` },
      list: [token],
    },
  });
  await trail.recordResult(
    intent,
    { echoed: token },
    new Error(`GitHub said: bad credentials ${token}`),
  );
  const denied = await trail.recordIntent({
    action: "push",
    target: "acme/app",
    params: { nested: { deeper: { secret: token } } },
  });
  await trail.recordResult(denied, undefined, `string error with ${token}`);
  await trail.recordDenied({
    action: "push",
    target: "acme/app",
    params: { token },
    reason: `refused ${token}`,
  });
  await trail.recordDryRun({ action: "push", target: "acme/app", params: { token } });
  await trail.close();

  const text = await readFile(path, "utf8");
  expect(text).not.toContain(token);
  expect(text).not.toContain(token.slice(4));
  expect(text).toContain("[REDACTED");
  const records = await readRecordsOf(path);
  expect(records[0]!.params).toMatchObject({
    body: expect.stringMatching(/^deploy with \[REDACTED/),
  });
  expect(records[1]!.error).toMatch(/^Error: GitHub said: bad credentials \[REDACTED/);
  // The chain is over the redacted text, so it verifies.
  const reopened = new AuditTrail({ path, redactor: new SecretRedactor() });
  await reopened.initialize();
  expect(await reopened.verifyChain()).toMatchObject({ valid: true, records: 6 });
  await reopened.close();
});

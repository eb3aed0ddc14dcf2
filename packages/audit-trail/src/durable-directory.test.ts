import { join } from "node:path";
import { expect, it } from "vitest";
import { useAuditDirectory } from "./__fixtures__/audit-directory.js";
import { instrumentedFs, keepEverything } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";

let dir: string;
useAuditDirectory((made) => {
  ({ dir } = made);
});

it("F10: makes each directory it creates durable in its parent before writing in it", async () => {
  const fs = instrumentedFs();
  const path = join(dir, "one", "two", "audit.jsonl");
  const trail = new AuditTrail({ path, fs, redactor: keepEverything });
  await trail.initialize();
  await trail.recordIntent({ action: "a", target: "t", params: {} });
  await trail.close();
  const firstWrite = fs.log.findIndex((line) => line.startsWith("write:"));
  const before = fs.log.slice(0, firstWrite);
  expect(before).toContain(`fsyncDirectory:${dir}`);
  expect(before).toContain(`fsyncDirectory:${join(dir, "one")}`);
  expect(before).toContain(`fsyncDirectory:${join(dir, "one", "two")}`);
});

import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { instrumentedFs, keepEverything, makeTempDir } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});
afterEach(() => cleanup());

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

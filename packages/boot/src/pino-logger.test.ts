// pino as boot's logger, given as it is: every record keeps its data, is
// redacted before pino sees it, and an Error lands under err.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, expect, it } from "vitest";
import { boot } from "./boot-orchestrator.js";

let dataDir: string | undefined;
afterEach(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it("keeps every record's data, redacted, when the logger initializer returns a pino instance", async () => {
  dataDir = await mkdtemp(join(tmpdir(), "beauvoir-pino-"));
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const token = `ghp_${"Pino5ecret".repeat(3)}123456`;
  const app = await boot({
    dataDir,
    initializers: { logger: () => pino({ level: "debug" }, destination) },
  });
  app.services.logger.warn("calling GitHub", { headers: { authorization: `token ${token}` } });
  app.services.logger.error(
    new Error(`push to https://x:${token}@github.com failed`),
    "push failed",
  );
  app.services.logger.child({ delivery: "d-7" }).info(`token ${token} in a message`);
  await app.shutdown();
  expect(JSON.stringify(lines)).not.toContain(token);
  // Boot's own records keep their data.
  expect(lines.find((line) => line.msg === "boot: done")).toMatchObject({
    level: 30,
    mode: "autonomous",
  });
  expect(lines.find((line) => line.msg === "calling GitHub")).toMatchObject({
    level: 40,
    headers: { authorization: "[REDACTED:authorization]" },
  });
  expect(lines.find((line) => line.msg === "push failed")).toMatchObject({
    level: 50,
    err: { message: expect.stringContaining("[REDACTED") },
  });
  expect(lines.find((line) => line.delivery === "d-7")?.msg).toBe(
    "token [REDACTED:github-pat] in a message",
  );
});

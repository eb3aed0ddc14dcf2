// Finding 9 of issue 12 at boot level: every option is checked before the
// first durable write, so a rejected boot leaves no directory, lock or file.
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BootConfig, boot } from "../src/index.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-boot-options-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const BAD_OPTIONS: Array<[string, Partial<BootConfig>]> = [
  ["auditTrail.maxSizeBytes", { auditTrail: { maxSizeBytes: -1 } }],
  ["auditTrail.dryRunFsyncDelayMs", { auditTrail: { dryRunFsyncDelayMs: Number.NaN } }],
  ["idempotency.ttlMs", { idempotency: { ttlMs: -5 } }],
  ["idempotency.compactionThreshold", { idempotency: { compactionThreshold: 0 } }],
  ["idempotency.onPendingConflict", { idempotency: { onPendingConflict: "explode" as never } }],
  ["locks.maxAgeMs", { locks: { maxAgeMs: -1 } }],
  ["circuitBreaker.failureThreshold", { circuitBreaker: { failureThreshold: 0 } }],
  ["rateLimiter.maxBlockMs", { rateLimiter: { maxBlockMs: -1 } }],
  ["redactor.maxDepth", { redactor: { maxDepth: -1 } }],
  ["log.level", { log: { level: "loud" as never } }],
  ["hmacKey", { hmacKey: 42 as never }],
  ["allowDev", { allowDev: "yes" as never }],
  ["handleSignals", { handleSignals: "yes" as never }],
  ["onDurablePoint", { onDurablePoint: 5 as never }],
  ["toolNames", { actionPolicy: { tools: {} }, toolNames: "add_labels" as never }],
  [
    "actionPolicy pattern",
    { actionPolicy: { tools: { add_labels: { constraints: { repo: { pattern: "(" } } } } } },
  ],
  ["workflows", { workflows: [{ name: "", steps: [] }] }],
  ["clock", { clock: {} as never }],
  ["retry.maxAttempts", { retry: { maxAttempts: 0 } }],
  ["initializers", { initializers: { auditTrail: 3 as never } }],
];

describe("finding 9: boot checks every option before its first durable write", () => {
  it.each(BAD_OPTIONS)("%s: rejected at step config, nothing created", async (name, options) => {
    const dataDir = join(root, name.replace(/[^a-z]/gi, "-"));
    const error = await boot({ dataDir, ...options, log: options.log ?? { level: "silent" } })
      .then(async (app) => {
        await app.shutdown();
        return undefined;
      })
      .catch((caught: unknown) => caught);
    expect(error, `${name} was accepted`).toMatchObject({ code: "BOOT_FAILED", step: "config" });
    // Not even the data directory exists: nothing was written before the check.
    expect(await readdir(root)).not.toContain(dataDir.slice(root.length + 1));
  });
});

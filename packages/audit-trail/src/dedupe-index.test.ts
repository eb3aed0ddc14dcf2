import { readFile } from "node:fs/promises";
import { SecretRedactor } from "@beauvoir/redactor";
import { describe, expect, it } from "vitest";
import { useAuditDirectory } from "./__fixtures__/audit-directory.js";
import { instrumentedFs, keepEverything } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";
import type { AuditTrailOptions } from "./options.js";

let dir: string;
let path: string;
const trails = useAuditDirectory((made) => {
  ({ dir, path } = made);
});

async function openTrail(options: Partial<AuditTrailOptions> = {}): Promise<AuditTrail> {
  const trail = new AuditTrail({ path, redactor: keepEverything, maxSizeBytes: 1_500, ...options });
  trails.track(trail);
  await trail.initialize();
  return trail;
}

const token = `ghp_${"Q7w8E9r0T1".repeat(3)}y2U3i4`;

describe("findResultByDedupeKey", () => {
  it("answers the latest result whose intent carries the key, over every segment, before and after a restart", async () => {
    const trail = await openTrail();
    const first = await trail.recordIntent({
      action: "comment",
      target: "acme/app#1",
      params: {},
      dedupeKey: "comment:acme/app#1",
    });
    await trail.recordResult(first, { id: 1 });
    for (let index = 0; index < 30; index++) {
      const seq = await trail.recordIntent({
        action: "label",
        target: `acme/app#${index}`,
        params: { pad: "p".repeat(40) },
        dedupeKey: `label:${index}`,
      });
      await trail.recordResult(seq, { index }, index === 7 ? "Error: 502" : undefined);
    }
    const again = await trail.recordIntent({
      action: "comment",
      target: "acme/app#1",
      params: {},
      dedupeKey: "comment:acme/app#1",
    });
    await trail.recordResult(again, { id: 2 });
    const open = await trail.recordIntent({
      action: "comment",
      target: "acme/app#9",
      params: {},
      dedupeKey: "comment:acme/app#9",
    });

    const check = async (subject: AuditTrail) => {
      expect(await subject.findResultByDedupeKey("comment:acme/app#1")).toMatchObject({
        intentSeq: again,
        result: { id: 2 },
        ts: expect.any(String),
      });
      expect(await subject.findResultByDedupeKey("label:0")).toMatchObject({
        intentSeq: 3,
        result: { index: 0 },
      });
      expect(await subject.findResultByDedupeKey("label:7")).toMatchObject({
        error: "Error: 502",
        result: { index: 7 },
      });
      expect(await subject.findResultByDedupeKey("comment:acme/app#9")).toBeNull();
      expect(await subject.findResultByDedupeKey("never seen")).toBeNull();
    };
    await check(trail);
    expect(trail.lastSeq).toBe(open);
    await trail.close();
    const files = (await (await import("node:fs/promises")).readdir(dir)).length;
    expect(files).toBeGreaterThan(2);

    const fs = instrumentedFs();
    const restarted = await openTrail({ fs });
    await check(restarted);
    await restarted.recordResult(open, { id: 9 });
    expect(await restarted.findResultByDedupeKey("comment:acme/app#9")).toMatchObject({
      intentSeq: open,
      result: { id: 9 },
    });
  });

  it("redacts the key it is asked for as keys are redacted on write, so the raw key finds its record", async () => {
    const trail = await openTrail({ redactor: new SecretRedactor() });
    const rawKey = `get_contents:acme/app/file?access_token=${token}:0123456789abcdef`;
    const seq = await trail.recordIntent({
      action: "get_contents",
      target: "acme/app",
      params: {},
      dedupeKey: rawKey,
    });
    await trail.recordResult(seq, { sha: "abc" });
    expect(await readFile(path, "utf8")).not.toContain(token);
    expect(await trail.findResultByDedupeKey(rawKey)).toMatchObject({
      intentSeq: seq,
      result: { sha: "abc" },
    });
    await trail.close();
    const restarted = await openTrail({ redactor: new SecretRedactor() });
    expect(await restarted.findResultByDedupeKey(rawKey)).toMatchObject({ intentSeq: seq });
  });

  it("refuses before initialize() and a key that is not a string", async () => {
    const trail = new AuditTrail({ path, redactor: keepEverything });
    await expect(trail.findResultByDedupeKey("x")).rejects.toMatchObject({
      code: "AUDIT_NOT_READY",
    });
    const ready = await openTrail();
    await expect(ready.findResultByDedupeKey(5 as never)).rejects.toMatchObject({
      code: "AUDIT_INVALID_ENTRY",
    });
  });
});

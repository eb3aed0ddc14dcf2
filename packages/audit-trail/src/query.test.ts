import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { instrumentedFs, keepEverything, makeTempDir } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});
afterEach(() => cleanup());

const intent = (index: number) => ({
  action: "create_pull_request",
  target: `acme/app:feature-${index}`,
  params: { index },
});

describe("findResultByIntentSeq", () => {
  it("answers from an index built once at initialize() and kept current by recordResult()", async () => {
    const path = join(dir, "audit.jsonl");
    const first = new AuditTrail({ path, redactor: keepEverything });
    await first.initialize();
    const succeeded = await first.recordIntent(intent(1));
    const failed = await first.recordIntent(intent(2));
    const open = await first.recordIntent(intent(3));
    await first.recordResult(succeeded, { number: 17 });
    await first.recordResult(failed, undefined, new Error("422 Unprocessable"));
    const denied = await first.recordDenied(intent(4));

    // Same process: the index follows recordResult() without reading the file.
    expect(await first.findResultByIntentSeq(succeeded)).toEqual({
      hasResult: true,
      result: { number: 17 },
    });
    expect(await first.findResultByIntentSeq(failed)).toEqual({
      hasResult: true,
      error: "Error: 422 Unprocessable",
    });
    expect(await first.findResultByIntentSeq(open)).toBeNull();
    expect(await first.findResultByIntentSeq(denied)).toBeNull();
    expect(await first.findResultByIntentSeq(999)).toBeNull();
    await first.close();

    const fs = instrumentedFs();
    const second = new AuditTrail({ path, redactor: keepEverything, fs });
    await second.initialize();
    const opens = () => fs.log.filter((line) => line.startsWith("open:")).length;
    // One open to read and verify the file, one to append to it.
    const readsAfterInit = opens();
    expect(readsAfterInit).toBe(2);
    expect(await second.findResultByIntentSeq(succeeded)).toEqual({
      hasResult: true,
      result: { number: 17 },
    });
    expect(await second.findResultByIntentSeq(failed)).toEqual({
      hasResult: true,
      error: "Error: 422 Unprocessable",
    });
    expect(await second.findResultByIntentSeq(open)).toBeNull();
    await second.recordResult(open, { number: 18 });
    expect(await second.findResultByIntentSeq(open)).toEqual({
      hasResult: true,
      result: { number: 18 },
    });
    expect(opens()).toBe(readsAfterInit);
    expect(fs.log.filter((line) => line.startsWith("readFile:"))).toEqual([]);

    // Answers are copies: changing one does not change the index.
    const answer = await second.findResultByIntentSeq(open);
    answer!.error = "changed";
    expect(await second.findResultByIntentSeq(open)).toEqual({
      hasResult: true,
      result: { number: 18 },
    });
    await second.close();
  });
});

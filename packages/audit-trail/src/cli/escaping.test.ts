import { join } from "node:path";
import { expect, it } from "vitest";
import { runCapturing, useAuditDirectory } from "../__fixtures__/audit-directory.js";
import { keepEverything } from "../__fixtures__/helpers.js";
import { AuditTrail } from "../audit-trail.js";

let dir: string;
useAuditDirectory((made) => {
  ({ dir } = made);
});

const hostile = "acme/app\u001b[2J\u001b]0;pwned\u0007\r\n#2 forged line\u2028\u202e";

it("F7: escapes control characters from records in every output of the command line", async () => {
  const path = join(dir, "audit.jsonl");
  const trail = new AuditTrail({ path, redactor: keepEverything });
  await trail.initialize();
  const seq = await trail.recordIntent({
    action: `act\u001b[31m`,
    target: hostile,
    params: { note: hostile },
  });
  await trail.recordResult(seq, { echo: hostile }, `Error: ${hostile}`);
  await trail.close();

  const outputs = [
    await runCapturing(["tail", path]),
    await runCapturing(["tail", path, "--json"]),
    await runCapturing(["show", "2", path]),
    await runCapturing(["show", "2", path, "--json"]),
    await runCapturing(["stats", path]),
    await runCapturing(["stats", path, "--json"]),
    await runCapturing(["verify", path]),
  ];
  for (const output of outputs) {
    expect(output.code).toBe(0);
    // One line per record at most, and no raw ESC, BEL, CR, U+2028 or bidi override.
    expect(output.stdout).not.toMatch(
      /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/,
    );
  }
  const tail = outputs[0]!.stdout.trim().split("\n");
  expect(tail).toHaveLength(2);
  expect(tail[0]).toContain("\\x1b[2J");
  expect(tail[0]).toContain("\\r\\n#2 forged line");
  // JSON output stays JSON with the same values.
  expect(JSON.parse(outputs[3]!.stdout)).toMatchObject({
    target: hostile,
    result: { echo: hostile },
  });
  for (const line of outputs[1]!.stdout.trim().split("\n"))
    expect(JSON.parse(line).target).toBe(hostile);
});

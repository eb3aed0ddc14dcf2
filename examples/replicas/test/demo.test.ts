// The replicas demo is the PostgreSQL backend's main job: this runs it the way
// `pnpm demo:replicas` does and holds it to the report's verdict.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

it("runs three replicas on one PostgreSQL, kills one mid-comment, and the others finish exactly once", async () => {
  const demo = fileURLToPath(new URL("../src/demo.ts", import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", demo], {
    timeout: 170_000,
  }).catch((error: { stdout?: string; stderr?: string }) => {
    // A failed demo's stderr holds what the replicas printed when they exited.
    throw new Error(`the demo failed:\n${error.stdout ?? ""}\n${error.stderr ?? ""}`);
  });
  expect(stdout).toMatch(/SIGKILL replica \d/);
  expect(stdout).toMatch(/replicas that finished the job: 2/);
  expect(stdout).toMatch(/the comment on #4 after the kill: .*reconciled/);
  expect(stdout).toMatch(
    /side effects requested: 16, performed on the server: 16, duplicate comments: 0/,
  );
  expect(stdout).toContain("issues without exactly one label and one comment: 0");
  expect(stdout).toContain("keys: 16 completed");
  expect(stdout).toMatch(/verifyAuditFile: valid; verify_audit\.py: OK: \d+ records/);
  expect(stdout).toContain("every intent has exactly one result: yes");
  expect(stdout).toContain("DEMO PASSED");
});

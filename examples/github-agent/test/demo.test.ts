// The demo is the README's main job; this runs it the way `pnpm demo` does and
// holds it to the report's verdict, so the main job cannot silently break.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

it("runs the crash-and-recover demo end to end and passes every check", async () => {
  const demo = fileURLToPath(new URL("../src/demo.ts", import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", demo], {
    timeout: 110_000,
  });
  expect(stdout).toContain("SIGKILL the agent now");
  expect(stdout).toMatch(
    /side effects requested: 16, performed on the server: 16, duplicate comments: 0/,
  );
  expect(stdout).toContain("audit chain (beauvoir-audit verify): valid");
  expect(stdout).toContain("secret in logs, audit or state files: none found");
  expect(stdout).toContain("DEMO PASSED");
});

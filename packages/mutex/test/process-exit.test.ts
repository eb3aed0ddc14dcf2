import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = promisify(execFile);

it("lets a process whose work is done exit without waiting for lease or timeout timers", async () => {
  const fixture = fileURLToPath(new URL("./fixtures/exit-after-work.mjs", import.meta.url));
  const started = Date.now();
  const { stdout } = await run(process.execPath, [fixture], { timeout: 15_000 });
  expect(stdout.trim()).toBe("done");
  // The lease (60 s) and wait timeout (30 s) would hold the process far longer than this.
  expect(Date.now() - started).toBeLessThan(15_000);
});

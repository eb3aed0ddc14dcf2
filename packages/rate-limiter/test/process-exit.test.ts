import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = promisify(execFile);

it("lets a process that never called shutdown() exit: the cleanup timer does not hold it", async () => {
  const fixture = fileURLToPath(new URL("./fixtures/exit-with-limiter.mjs", import.meta.url));
  const started = Date.now();
  const { stdout } = await run(process.execPath, [fixture], { timeout: 15_000 });
  expect(stdout.trim()).toBe("done 3");
  // A held timer would keep it alive for the 60 s cleanup interval, or forever as it re-arms.
  expect(Date.now() - started).toBeLessThan(15_000);
});

import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { makeTempDir } from "../src/__fixtures__/helpers.js";

const run = promisify(execFile);

it("lets a process exit while a dry-run fsync is still scheduled (the timer is unref'd)", async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const path = join(dir, "audit.jsonl");
    const fixture = fileURLToPath(
      new URL("./fixtures/exit-with-pending-dry-run.mjs", import.meta.url),
    );
    const started = Date.now();
    const { stdout } = await run(process.execPath, [fixture, path], { timeout: 30_000 });
    expect(stdout.trim()).toBe("done");
    // The dry-run timer is set to 60 s; waiting for it would take far longer.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect((await readFile(path, "utf8")).trim().split("\n")).toHaveLength(2);
  } finally {
    await cleanup();
  }
});

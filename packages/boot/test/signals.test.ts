import { fork } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boot } from "../src/index.js";
import { waitForExit } from "./spawn-crash-worker.js";

const worker = fileURLToPath(new URL("./fixtures/signal-worker.mjs", import.meta.url));
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-signal-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("handleSignals", () => {
  it("refuses a second process on the same directory; SIGTERM drains the running step, releases the locks, emits shutdown, then ends the process by the signal", async () => {
    const dataDir = join(root, "data");
    const eventFile = join(root, "event.json");
    const child = fork(worker, [JSON.stringify({ dataDir, eventFile })], {
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready signal\n${stderr}`)), 10_000);
      child.once("message", () => {
        clearTimeout(timer);
        resolve();
      });
      child.once("exit", () => reject(new Error(`exited early\n${stderr}`)));
    });
    // While the child runs, a second process on the same directory is refused.
    const second = await boot({ dataDir, log: { level: "silent" } }).catch(
      (error: unknown) => error,
    );
    expect(second).toMatchObject({ code: "BOOT_FAILED", step: "instanceLock" });
    expect((second as Error).cause).toMatchObject({ code: "LOCK_HELD", owner: { pid: child.pid } });
    child.kill("SIGTERM");
    expect(await waitForExit(child, 15_000)).toBe("SIGTERM");
    expect(JSON.parse(await readFile(eventFile, "utf8"))).toEqual({
      reason: "SIGTERM",
      drained: true,
      errors: [],
    });
    // The step that was running finished durably: intent and result on disk.
    const phases = (await readFile(join(dataDir, "audit", "audit.jsonl"), "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { phase: string }).phase);
    expect(phases).toEqual(["intent", "result"]);
    // No lock file is left behind.
    const lockFiles = (await readdir(join(dataDir, "locks"))).filter(
      (name) => !name.startsWith("."),
    );
    expect(lockFiles).toEqual([]);
    // And once it is gone, the directory boots.
    const next = await boot({ dataDir, log: { level: "silent" } });
    expect(next.mode).toBe("autonomous");
    await next.shutdown();
  });
});

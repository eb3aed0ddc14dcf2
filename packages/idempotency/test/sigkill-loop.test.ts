import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdempotencyIndex } from "../src/idempotency-index.js";

/**
 * A child process runs transitions (4 concurrent workers, so fsyncs are shared)
 * and is SIGKILLed at a random moment; a fresh index must then hold every
 * transition the child reported as resolved. Compaction runs often in the child
 * (threshold 40), so kills also land inside compactions. Two lanes, each on its
 * own directory, run side by side to halve the wall time on two cores.
 */

const CHILD = fileURLToPath(new URL("./fixtures/crash-child.mjs", import.meta.url));
const KILLS = process.env.BEAUVOIR_SOAK ? 500 : 50;
const LANES = 2;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "idem-sigkill-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Reported {
  status: "pending" | "completed" | "failed";
  seq: number;
}

/** Starts the child, kills it `afterMs` after it is ready, returns what it reported. */
function runAndKill(
  dir: string,
  prefix: string,
  afterMs: number,
): Promise<{ lines: string[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [CHILD, dir, prefix, "4", "40"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let killTimer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child did not get ready or exit in time; stderr: ${stderr}`));
    }, 15_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (killTimer === undefined && stdout.startsWith("ready\n")) {
        killTimer = setTimeout(() => child.kill("SIGKILL"), afterMs);
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("exit", (_code, signal) => {
      clearTimeout(guard);
      clearTimeout(killTimer);
      if (signal !== "SIGKILL") {
        reject(new Error(`child exited on its own (${signal ?? _code}); stderr: ${stderr}`));
        return;
      }
      // A line cut by the kill was never fully reported.
      const complete = stdout.slice(0, stdout.lastIndexOf("\n") + 1);
      resolve({
        lines: complete.split("\n").filter((line) => line.length > 0 && line !== "ready"),
        stderr,
      });
    });
  });
}

/** Kills a child `kills` times on `dir`, checking a fresh index after each kill. */
async function lane(dir: string, kills: number): Promise<{ reported: number; checked: number }> {
  const reported = new Map<string, Reported>();
  let checked = 0;
  for (let kill = 0; kill < kills; kill += 1) {
    const { lines } = await runAndKill(dir, `r${kill}`, 5 + Math.floor(Math.random() * 60));
    for (const line of lines) {
      const [kind, key, seq] = line.split(" ");
      const status = kind === "P" ? "pending" : kind === "C" ? "completed" : "failed";
      reported.set(key as string, { status, seq: Number(seq) });
    }
    const index = new IdempotencyIndex({ dir });
    await index.initialize();
    try {
      for (const [key, expected] of reported) {
        const entry = await index.check(key);
        if (entry === null)
          expect.fail(`${key} (reported ${expected.status}) is missing after kill ${kill}`);
        if (entry.intentSeq !== expected.seq) expect(entry.intentSeq, key).toBe(expected.seq);
        // Reported pending: its settlement may or may not have landed before the kill.
        if (expected.status !== "pending" && entry.status !== expected.status) {
          expect(entry.status, `${key} after kill ${kill}`).toBe(expected.status);
        }
        if (entry.status === "completed") expect(entry.result).toEqual({ n: expected.seq - 1 });
        checked += 1;
      }
      // Nothing the child never attempted appears: at most one unreported claim per worker per run.
      expect(index.size).toBeGreaterThanOrEqual(reported.size);
      expect(index.size).toBeLessThanOrEqual(reported.size + 4 * (kill + 1));
    } finally {
      await index.close();
    }
  }
  return { reported: reported.size, checked };
}

describe("SIGKILL loop", () => {
  it(`keeps every reported transition across ${KILLS} kills`, { timeout: 85_000 }, async () => {
    const results = await Promise.all(
      Array.from({ length: LANES }, async (_, laneNumber) => {
        const dir = join(root, `lane-${laneNumber}`);
        await mkdir(dir);
        return lane(dir, KILLS / LANES);
      }),
    );
    for (const result of results) {
      expect(result.reported).toBeGreaterThan(KILLS / LANES);
      expect(result.checked).toBeGreaterThan(KILLS / LANES);
    }
  });
});

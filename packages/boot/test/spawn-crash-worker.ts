import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));

/** Options of {@link spawnCrashWorker}. */
export interface CrashWorkerOptions {
  dataDir: string;
  /** The durable point after which the child is killed. */
  crashAfterStep: "intent" | "pending" | "execute" | "result";
  /** `create_branch` (safe_retry) or `add_issue_comment` (check_then_retry). */
  action: string;
  /** The file where side effects are counted, outside the child. */
  effectsFile: string;
  /** Longest wait for the child's signal. @default 15_000 */
  timeoutMs?: number;
}

/** Resolves when `child` has exited; rejects after `timeoutMs`. */
export function waitForExit(
  child: ChildProcess,
  timeoutMs = 10_000,
): Promise<NodeJS.Signals | number | null> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.signalCode ?? child.exitCode);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child ${child.pid} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(signal ?? code);
    });
  });
}

/**
 * Forks the crash worker on `dataDir`, waits for its IPC signal that the
 * durable point `crashAfterStep` is reached, SIGKILLs it at once, and waits
 * for it to exit.
 * @returns the point the child reported and how it ended (`"SIGKILL"`).
 */
export async function spawnCrashWorker(
  options: CrashWorkerOptions,
): Promise<{ step: string; exit: unknown }> {
  const child = fork(`${fixtures}crash-worker.mjs`, [JSON.stringify(options)], {
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const step = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `crash worker gave no signal within ${options.timeoutMs ?? 15_000} ms\n${stderr}`,
        ),
      );
    }, options.timeoutMs ?? 15_000);
    child.on("message", (message: { ready?: boolean; step?: string }) => {
      if (!message.ready) return;
      child.kill("SIGKILL");
      clearTimeout(timer);
      resolve(message.step as string);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`crash worker exited (${signal ?? code}) before the crash point\n${stderr}`),
      );
    });
  });
  const exit = await waitForExit(child);
  return { step, exit };
}

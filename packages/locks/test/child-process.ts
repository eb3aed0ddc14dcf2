import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Absolute path of a fixture in `test/fixtures/`. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** A running fixture with its collected output. */
export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  stdout: string;
  stderr: string;
}

/** Starts `node fixture ...args`. */
export function start(name: string, args: string[]): Child {
  const child = spawn(process.execPath, [fixture(name), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const record: Child = { process: child, pid: child.pid ?? -1, stdout: "", stderr: "" };
  child.stdout?.on("data", (chunk: Buffer) => {
    record.stdout += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    record.stderr += chunk.toString("utf8");
  });
  return record;
}

/** Waits until the child's stdout contains `text`; fails after `timeoutMs` or if the child exits first. */
export function waitForOutput(child: Child, text: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (child.stdout.includes(text)) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(
        new Error(`child exited (${code ?? signal}) before printing ${text}: ${child.stderr}`),
      );
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${JSON.stringify(text)}; stderr: ${child.stderr}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.process.stdout?.off("data", check);
      child.process.off("exit", onExit);
    };
    child.process.stdout?.on("data", check);
    child.process.once("exit", onExit);
    check();
  });
}

/** Waits for the child to exit; kills it and fails after `timeoutMs`. */
export function waitForExit(
  child: Child,
  timeoutMs = 10_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const { process: handle } = child;
  if (handle.exitCode !== null || handle.signalCode !== null) {
    return Promise.resolve({ code: handle.exitCode, signal: handle.signalCode });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      handle.kill("SIGKILL");
      reject(
        new Error(
          `child ${child.pid} did not exit within ${timeoutMs} ms; stderr: ${child.stderr}`,
        ),
      );
    }, timeoutMs);
    handle.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** SIGKILLs the child and waits until the kernel has reaped it. */
export async function killHard(child: Child): Promise<void> {
  child.process.kill("SIGKILL");
  await waitForExit(child);
}

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runCommandLine } from "./command-line.js";

describe("runCommandLine", () => {
  let exitCodeBefore: typeof process.exitCode;
  const stderr: string[] = [];
  beforeEach(() => {
    exitCodeBefore = process.exitCode;
    stderr.length = 0;
    vi.spyOn(process.stderr, "write").mockImplementation((text) => {
      stderr.push(String(text));
      return true;
    });
  });
  afterEach(() => {
    process.exitCode = exitCodeBefore;
    vi.restoreAllMocks();
  });

  it("hands the command the process's streams and environment, and sets its exit code", async () => {
    let received: unknown;
    await runCommandLine("tool", async (io) => {
      received = io;
      return 1;
    });
    expect(process.exitCode).toBe(1);
    expect(received).toMatchObject({
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
    });
    expect(stderr).toEqual([]);
  });

  it.each(["SIGINT", "SIGTERM"] as const)("aborts the command's signal on %s", async (name) => {
    await runCommandLine("tool", async ({ signal }) => {
      expect(signal.aborted).toBe(false);
      process.emit(name);
      return signal.aborted ? 0 : 1;
    });
    expect(process.exitCode).toBe(0);
  });

  it("prints an error the command throws under the command's name, and exits 2", async () => {
    await runCommandLine("tool", async () => {
      throw new Error("disk on fire");
    });
    expect(process.exitCode).toBe(2);
    expect(stderr.join("")).toBe("tool: Error: disk on fire\n");
  });

  it("leaves no signal listener behind once the command has finished", async () => {
    const before = [process.listenerCount("SIGINT"), process.listenerCount("SIGTERM")];
    await runCommandLine("tool", async () => 0);
    await runCommandLine("tool", async () => {
      throw new Error("failed");
    });
    expect([process.listenerCount("SIGINT"), process.listenerCount("SIGTERM")]).toEqual(before);
  });
});

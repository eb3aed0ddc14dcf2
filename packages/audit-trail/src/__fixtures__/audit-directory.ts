import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";
import { type CliIo, runCli } from "../cli/run-cli.js";
import { makeTempDir } from "./helpers.js";

/** Something a test opens and the fixture closes after it. */
interface Closable {
  close(): Promise<void>;
}

/**
 * A fresh directory for each test, with the path of an `audit.jsonl` in it;
 * every trail passed to `track()` is closed (errors ignored) and the directory
 * removed after the test.
 * @param onReady - receives the directory and path before each test.
 */
export function useAuditDirectory(onReady: (made: { dir: string; path: string }) => void): {
  track<T extends Closable>(trail: T): T;
} {
  const opened: Closable[] = [];
  let cleanup: () => Promise<void> = async () => {};
  beforeEach(async () => {
    const made = await makeTempDir();
    cleanup = made.cleanup;
    onReady({ dir: made.dir, path: join(made.dir, "audit.jsonl") });
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((trail) => trail.close().catch(() => {})));
    await cleanup();
  });
  return {
    track(trail) {
      opened.push(trail);
      return trail;
    },
  };
}

/**
 * Fake streams and environment for `beauvoir-audit` (stderr not a terminal),
 * with what was written to them.
 * @param extra - fields of the io to set or override.
 */
export function fakeCliIo(extra: Partial<CliIo> = {}): {
  io: CliIo;
  stdout: () => string;
  stderr: () => string;
} {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text), isTTY: false },
    env: {},
    ...extra,
  };
  return { io, stdout: () => out.join(""), stderr: () => err.join("") };
}

/** Runs `beauvoir-audit` with fake streams; resolves with its exit code and output. */
export async function runCapturing(
  argv: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = fakeCliIo({ env });
  const code = await runCli(argv, run.io);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { access, constants, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, expect, it } from "vitest";
import { makeTempDir } from "../src/__fixtures__/helpers.js";
import { AuditTrail } from "../src/index.js";

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL("..", import.meta.url));

let dir: string;
let cleanup: () => Promise<void>;
const children: ChildProcess[] = [];
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});
afterEach(async () => {
  // A child still running (the test failed or timed out) must not outlive it.
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  await cleanup();
});

async function bin(): Promise<string> {
  const manifest = JSON.parse(await readFile(join(packageDir, "package.json"), "utf8"));
  return join(packageDir, manifest.bin["beauvoir-audit"]);
}

/** Runs the built bin directly (through its shebang), as an installed command runs. */
async function audit(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(await bin(), args, {
      env: { ...process.env, ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

it("is an executable file with a node shebang", async () => {
  const path = await bin();
  await access(path, constants.X_OK);
  expect((await readFile(path, "utf8")).startsWith("#!/usr/bin/env node\n")).toBe(true);
});

it("exits 0, 1 and 2 for a valid chain, a broken one and a usage error", async () => {
  const path = join(dir, "audit.jsonl");
  const trail = new AuditTrail({ path, hmacKey: "bin key" });
  await trail.initialize();
  const seq = await trail.recordIntent({ action: "a", target: "t", params: {} });
  await trail.recordResult(seq, "ok");
  await trail.close();

  const valid = await audit(["verify", dir, "--hmac-key-env", "KEY"], { KEY: "bin key" });
  expect(valid).toMatchObject({ code: 0, stdout: expect.stringMatching(/^OK: 2 record\(s\)/) });
  const json = await audit(["verify", path, "--json"]);
  expect(JSON.parse(json.stdout)).toMatchObject({ valid: true, records: 2 });

  await writeFile(path, (await readFile(path, "utf8")).replace('"ok"', '"no"'));
  const broken = await audit(["verify", path]);
  expect(broken).toMatchObject({
    code: 1,
    stdout: expect.stringContaining("BROKEN at seq 2 (hash_mismatch)"),
  });

  expect(await audit(["verify"])).toMatchObject({
    code: 2,
    stderr: expect.stringContaining("Usage: beauvoir-audit"),
  });
  expect(await audit(["verify", join(dir, "missing")])).toMatchObject({ code: 2 });
  expect(await audit(["stats", path])).toMatchObject({
    code: 0,
    stdout: expect.stringContaining("open intents: 0"),
  });
});

it("follows a file until interrupted, then exits 0", async () => {
  const path = join(dir, "audit.jsonl");
  const trail = new AuditTrail({ path });
  await trail.initialize();
  await trail.recordDenied({ action: "first", target: "t", params: {} });
  const child = spawn(await bin(), ["tail", "--follow", path], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const saw = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`did not print ${text}: ${output}`)), 15_000);
      const check = () => {
        if (output.includes(text)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        check();
      });
      check();
    });
  try {
    await saw("denied  first");
    await trail.recordDenied({ action: "second", target: "t", params: {} });
    await saw("denied  second");
  } finally {
    child.kill("SIGINT");
    await trail.close();
  }
  expect(await exited).toBe(0);
});

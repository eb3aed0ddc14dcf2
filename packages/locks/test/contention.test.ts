import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LockManager } from "../src/index.js";
import { type Child, killHard, start, waitForExit } from "./child-process.js";

// Child processes run the built package (dist/), like a real second process would.
const CONTENDERS = 8;
const ROUNDS_PER_CONTENDER = 200;

let root: string;
let lockDir: string;
const children: Child[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-locks-"));
  lockDir = join(root, "locks");
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.process.exitCode === null && child.process.signalCode === null) await killHard(child);
  }
  await rm(root, { recursive: true, force: true });
});

function launch(name: string, args: string[]): Child {
  const child = start(name, args);
  children.push(child);
  return child;
}

describe("contention across processes", () => {
  it(`${CONTENDERS} processes x ${ROUNDS_PER_CONTENDER} increments under the lock give exactly ${
    CONTENDERS * ROUNDS_PER_CONTENDER
  }, and no two holders overlap`, async () => {
    await mkdir(lockDir);
    await writeFile(join(root, "counter"), "0");
    const contenders = Array.from({ length: CONTENDERS }, () =>
      launch("contender.mjs", [lockDir, root, String(ROUNDS_PER_CONTENDER)]),
    );
    const exits = await Promise.all(contenders.map((child) => waitForExit(child, 80_000)));
    for (const [index, exit] of exits.entries()) {
      expect(exit, contenders[index]?.stderr).toEqual({ code: 0, signal: null });
    }
    const overlaps = await readFile(join(root, "overlaps.log"), "utf8").catch(() => "");
    expect(overlaps).toBe("");
    expect(Number(await readFile(join(root, "counter"), "utf8"))).toBe(
      CONTENDERS * ROUNDS_PER_CONTENDER,
    );
    // Every contender released: the lock is free for the next one.
    const after = new LockManager({ lockDir });
    await expect(after.recoverStaleLocks()).resolves.toEqual({
      recovered: [],
      live: [],
      failed: [],
    });
  }, 90_000);
});

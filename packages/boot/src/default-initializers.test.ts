import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FileSystem, nodeFileSystem, silentLogger, systemClock } from "@beauvoir/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BootContext } from "./boot-config.js";
import { defaultInitializers } from "./default-initializers.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-probe-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function contextFor(dataDir: string, fs: FileSystem = nodeFileSystem): BootContext {
  return {
    config: { dataDir },
    paths: {
      dataDir,
      auditFile: join(dataDir, "audit", "audit.jsonl"),
      storesDir: join(dataDir, "stores"),
      locksDir: join(dataDir, "locks"),
      idempotencyDir: join(dataDir, "idempotency"),
    },
    clock: systemClock,
    fs,
    logger: silentLogger,
    redactor: undefined,
    lockManager: undefined,
    auditTrail: undefined,
  };
}

describe("default filesystem initializer (step 2)", () => {
  it("creates every directory and leaves no probe file behind", async () => {
    const dataDir = join(root, "fresh");
    await defaultInitializers.filesystem(contextFor(dataDir));
    expect((await readdir(dataDir)).sort()).toEqual(["audit", "idempotency", "locks", "stores"]);
    for (const directory of ["audit", "idempotency", "locks", "stores"]) {
      expect(await readdir(join(dataDir, directory))).toEqual([]);
    }
  });

  it("replaces a probe file left by a killed process with the same pid", async () => {
    const dataDir = join(root, "stale");
    await defaultInitializers.filesystem(contextFor(dataDir));
    await writeFile(join(dataDir, "stores", `.boot-probe.${process.pid}`), "left over");
    await defaultInitializers.filesystem(contextFor(dataDir));
    expect(await readdir(join(dataDir, "stores"))).toEqual([]);
  });

  it("fails when a directory refuses exclusive create", async () => {
    const refusing: FileSystem = {
      ...nodeFileSystem,
      open: async (path, flags, mode) => {
        if (path.includes(".boot-probe"))
          throw Object.assign(new Error(`EACCES: ${path}`), { code: "EACCES" });
        return nodeFileSystem.open(path, flags, mode);
      },
    };
    await expect(
      defaultInitializers.filesystem(contextFor(join(root, "refused"), refusing)),
    ).rejects.toMatchObject({
      code: "EACCES",
    });
  });
});

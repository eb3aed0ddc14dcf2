import { lstat, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nodeFileSystem } from "./file-system.js";
import { openPrivateFile, SymlinkRefusedError } from "./private-files.js";

describe("openPrivateFile", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "beauvoir-core-private-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("creates files readable by the owner only", async () => {
    const file = join(dir, "journal.jsonl");
    const handle = await openPrivateFile(nodeFileSystem, file, "append");
    await handle.write(Buffer.from("a\n"));
    await handle.close();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it.each(["append", "update", "read"] as const)(
    "refuses a symbolic link in %s mode and leaves its target alone",
    async (mode) => {
      const victim = join(dir, "victim.txt");
      await writeFile(victim, "precious\n");
      const planted = join(dir, "audit.jsonl");
      await symlink(victim, planted);
      const error = await openPrivateFile(nodeFileSystem, planted, mode).catch((caught) => caught);
      expect(SymlinkRefusedError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: "SYMLINK_REFUSED", path: planted });
      expect(await readFile(victim, "utf8")).toBe("precious\n");
      expect((await lstat(planted)).isSymbolicLink()).toBe(true);
    },
  );

  it("fails an exclusive create over a symbolic link with EEXIST, never following it", async () => {
    const victim = join(dir, "victim.txt");
    await writeFile(victim, "precious\n");
    const planted = join(dir, "store.json.tmp");
    await symlink(victim, planted);
    await expect(openPrivateFile(nodeFileSystem, planted, "create")).rejects.toMatchObject({
      code: "EEXIST",
    });
    expect(await readFile(victim, "utf8")).toBe("precious\n");
  });

  it("fails an exclusive create on an existing file with EEXIST", async () => {
    const file = join(dir, "lock");
    await writeFile(file, "x");
    await expect(openPrivateFile(nodeFileSystem, file, "create")).rejects.toMatchObject({
      code: "EEXIST",
    });
  });

  it("fails update and read of a missing file with ENOENT", async () => {
    await expect(
      openPrivateFile(nodeFileSystem, join(dir, "none"), "update"),
    ).rejects.toMatchObject({ code: "ENOENT" });
  });
});

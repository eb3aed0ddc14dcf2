import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keepEverything, makeTempDir } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";

let dir: string;
let outside: string;
let cleanup: () => Promise<void>;
let cleanupOutside: () => Promise<void>;
const opened: AuditTrail[] = [];
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
  ({ dir: outside, cleanup: cleanupOutside } = await makeTempDir());
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((trail) => trail.close().catch(() => {})));
  await cleanup();
  await cleanupOutside();
});

describe("F4: no file is written through a symbolic link", () => {
  it("refuses audit.jsonl pre-planted as a link to another file, leaving the target as it was", async () => {
    const victim = join(outside, "passwd");
    await writeFile(victim, "root:x:0:0:root:/root:/bin/bash\n");
    const path = join(dir, "audit.jsonl");
    await symlink(victim, path);
    const trail = new AuditTrail({ path, redactor: keepEverything });
    opened.push(trail);
    const error = await trail.initialize().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "SYMLINK_REFUSED", path });
    expect(await readFile(victim, "utf8")).toBe("root:x:0:0:root:/root:/bin/bash\n");
    expect((await lstat(path)).isSymbolicLink()).toBe(true);
  });

  it("refuses a dangling link too, creating nothing at its target", async () => {
    const path = join(dir, "audit.jsonl");
    const target = join(outside, "created-through-link");
    await symlink(target, path);
    const trail = new AuditTrail({ path, redactor: keepEverything });
    opened.push(trail);
    await expect(trail.initialize()).rejects.toMatchObject({ code: "SYMLINK_REFUSED" });
    expect(await readdir(outside)).toEqual([]);
  });
});

describe("F4: files 0600, directories 0700, rotated files included", () => {
  it("creates every file and directory owner-only", async () => {
    const path = join(dir, "a", "b", "audit.jsonl");
    const trail = new AuditTrail({ path, redactor: keepEverything, maxSizeBytes: 300 });
    opened.push(trail);
    await trail.initialize();
    for (let index = 0; index < 10; index++) {
      await trail.recordDenied({
        action: "x",
        target: `t${index}`,
        params: { padding: "p".repeat(100) },
      });
    }
    await trail.close();
    const names = await readdir(join(dir, "a", "b"));
    expect(names.length).toBeGreaterThan(2);
    for (const name of names)
      expect((await stat(join(dir, "a", "b", name))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "a"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "a", "b"))).mode & 0o777).toBe(0o700);
  });

  it("keeps an existing directory's mode as it is", async () => {
    await mkdir(join(dir, "shared"), { mode: 0o750 });
    const trail = new AuditTrail({
      path: join(dir, "shared", "audit.jsonl"),
      redactor: keepEverything,
    });
    opened.push(trail);
    await trail.initialize();
    expect((await stat(join(dir, "shared"))).mode & 0o777).toBe(0o750);
  });
});

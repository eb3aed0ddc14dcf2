import { symlink, unlink } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { useAuditDirectory } from "./__fixtures__/audit-directory.js";
import { keepEverything, readRecordsOf } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";

let dir: string;
let path: string;
const trails = useAuditDirectory((made) => {
  ({ dir, path } = made);
});

function trailAt(at: string): AuditTrail {
  const trail = new AuditTrail({ path: at, redactor: keepEverything });
  trails.track(trail);
  return trail;
}

const entry = { action: "add_labels", target: "acme/app#1", params: {} };

describe("F8: one writer per audit file, also inside one process", () => {
  it("refuses a second AuditTrail on the same file until the first is closed", async () => {
    const first = trailAt(path);
    await first.initialize();
    for (let index = 0; index < 10; index++) {
      const seq = await first.recordIntent(entry);
      await first.recordResult(seq, { index });
    }
    const second = trailAt(path);
    const error = await second.initialize().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "AUDIT_FILE_IN_USE", path });
    await expect(second.recordIntent(entry)).rejects.toMatchObject({ code: "AUDIT_NOT_READY" });
    expect(await readRecordsOf(path)).toHaveLength(20);

    await first.close();
    expect(await second.initialize()).toMatchObject({ records: 20, recordsLost: 0 });
    expect(await second.recordIntent(entry)).toBe(21);
  });

  it("recognises the same file under another spelling of its path", async () => {
    const first = trailAt(path);
    await first.initialize();
    const spellings = [join(dir, ".", "sub", "..", "audit.jsonl"), relative(process.cwd(), path)];
    for (const spelling of spellings) {
      await expect(trailAt(spelling).initialize()).rejects.toMatchObject({
        code: "AUDIT_FILE_IN_USE",
      });
    }
  });

  it("recognises the same file through a symbolic link to its directory", async () => {
    const first = trailAt(path);
    await first.initialize();
    await first.recordIntent(entry);
    const alias = `${dir}-alias`;
    await symlink(dir, alias);
    try {
      await expect(trailAt(join(alias, "audit.jsonl")).initialize()).rejects.toMatchObject({
        code: "AUDIT_FILE_IN_USE",
      });
      await first.recordIntent(entry);
      expect(await readRecordsOf(path)).toHaveLength(2);
    } finally {
      await unlink(alias);
    }
  });

  it("lets different files of one directory have a writer each", async () => {
    const one = trailAt(path);
    const other = trailAt(join(dir, "other.jsonl"));
    await Promise.all([one.initialize(), other.initialize()]);
    expect(await one.recordIntent(entry)).toBe(1);
    expect(await other.recordIntent(entry)).toBe(1);
  });

  it("releases the file when initialize() fails", async () => {
    const failing = new AuditTrail({
      path,
      redactor: keepEverything,
      fs: {
        ...(await import("@beauvoir/core")).nodeFileSystem,
        readdir: async () => {
          throw Object.assign(new Error("EIO"), { code: "EIO" });
        },
      },
    });
    await expect(failing.initialize()).rejects.toMatchObject({ code: "AUDIT_READ" });
    await expect(trailAt(path).initialize()).resolves.toMatchObject({ records: 0 });
  });
});

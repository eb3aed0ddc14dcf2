import {
  chmod,
  mkdir,
  readdir,
  readFile,
  rm,
  symlink,
  truncate,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { useAuditDirectory } from "./__fixtures__/audit-directory.js";
import { errno, instrumentedFs, keepEverything } from "./__fixtures__/helpers.js";
import { AuditTrail } from "./audit-trail.js";
import type { AuditTrailOptions } from "./options.js";

let dir: string;
let path: string;
let segments: string[];
const trails = useAuditDirectory((made) => {
  ({ dir, path } = made);
});

function trailFor(options: Partial<AuditTrailOptions> = {}): AuditTrail {
  const trail = new AuditTrail({ path, redactor: keepEverything, maxSizeBytes: 1_000, ...options });
  trails.track(trail);
  return trail;
}

/** Everything in the directory, name → bytes, to show nothing changed. */
async function snapshot(): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  for (const name of (await readdir(dir)).sort()) {
    try {
      entries.set(name, (await readFile(join(dir, name))).toString("base64"));
    } catch (error) {
      entries.set(name, `unreadable: ${(error as NodeJS.ErrnoException).code}`);
    }
  }
  return entries;
}

beforeEach(async () => {
  const trail = trailFor();
  await trail.initialize();
  for (let index = 0; index < 24; index++) {
    const seq = await trail.recordIntent({
      action: "create_branch",
      target: `acme/app:b${index}`,
      params: { index },
    });
    await trail.recordResult(seq, { index });
  }
  await trail.close();
  segments = (await readdir(dir)).filter((name) => name !== "audit.jsonl").sort();
  expect(segments.length).toBeGreaterThanOrEqual(3);
});

async function expectRejected(
  expected: Record<string, unknown>,
  options: Partial<AuditTrailOptions> = {},
) {
  const before = await snapshot();
  const error = await trailFor(options)
    .initialize()
    .catch((caught: unknown) => caught);
  expect(error).toMatchObject(expected);
  expect(await snapshot()).toEqual(before);
}

describe("F5: initialize() verifies every rotated segment, not only the current file", () => {
  it("rejects a flipped bit in a rotated segment, naming the file and line", async () => {
    const file = join(dir, segments[1]!);
    const bytes = await readFile(file);
    bytes[bytes.indexOf('"index":') + 3]! ^= 0x02;
    await writeFile(file, bytes);
    await expectRejected({ code: "AUDIT_CORRUPT", file, line: 1, reason: "hash_mismatch" });
  });

  it("rejects a rotated segment truncated mid-line", async () => {
    const file = join(dir, segments[0]!);
    const size = (await readFile(file)).length;
    await truncate(file, Math.floor(size / 2));
    await expectRejected({ code: "AUDIT_CORRUPT", file, reason: "malformed_line" });
  });

  it("rejects a rotated segment truncated at a line boundary", async () => {
    const file = join(dir, segments[1]!);
    const text = await readFile(file, "utf8");
    await writeFile(file, `${text.split("\n").slice(0, 2).join("\n")}\n`);
    await expectRejected({
      code: "AUDIT_CORRUPT",
      file: join(dir, segments[2]!),
      line: 1,
      reason: "segment_link_mismatch",
    });
  });

  it("rejects a rotated segment truncated to 0 bytes", async () => {
    const file = join(dir, segments[segments.length - 1]!);
    await truncate(file, 0);
    await expectRejected({ code: "AUDIT_CORRUPT", file });
  });

  it.each(["oldest", "middle", "newest"] as const)(
    "rejects the deletion of the %s segment",
    async (which) => {
      const index = which === "oldest" ? 0 : which === "middle" ? 1 : segments.length - 1;
      await rm(join(dir, segments[index]!));
      const next = index + 1 < segments.length ? join(dir, segments[index + 1]!) : path;
      await expectRejected({
        code: "AUDIT_CORRUPT",
        file: next,
        line: 1,
        reason: which === "oldest" ? "history_head_missing" : "segment_link_mismatch",
      });
    },
  );

  it("rejects a directory in place of a segment, naming it", async () => {
    const file = join(dir, segments[1]!);
    await rm(file);
    await mkdir(file);
    await expectRejected({ code: "AUDIT_READ", path: file });
  });

  it("rejects a segment it may not read (EACCES), naming it", async () => {
    const file = join(dir, segments[1]!);
    const fs = instrumentedFs({
      open: (opened) => (opened === file ? errno("EACCES") : undefined),
    });
    await expectRejected({ code: "AUDIT_READ", path: file }, { fs });
  });

  it("refuses a chmod 000 segment, naming it, even as root", async () => {
    const file = join(dir, segments[1]!);
    await chmod(file, 0o000);
    await expectRejected({ code: "AUDIT_READ", path: file, cause: { code: "EACCES" } });
  });

  it("refuses a current file its owner may not write (chmod 0400), even as root", async () => {
    await chmod(path, 0o400);
    await expectRejected({
      code: "AUDIT_WRITE",
      operation: "open",
      path,
      cause: { code: "EACCES" },
    });
  });

  it("refuses a symbolic link in place of a segment, reading nothing through it", async () => {
    const file = join(dir, segments[1]!);
    const elsewhere = join(dir, "..", `elsewhere-${Date.now()}.jsonl`);
    await writeFile(elsewhere, await readFile(file));
    try {
      await rm(file);
      await symlink(elsewhere, file);
      await expectRejected({ code: "SYMLINK_REFUSED", path: file });
    } finally {
      await rm(elsewhere, { force: true });
    }
  });
});

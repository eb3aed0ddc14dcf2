// The bad-files matrix: every file the audit trail writes (the current file,
// rotated segments, the directory they live in), damaged every way a disk or
// a person can damage it. Each case must end in a typed error with a
// documented code, or in the documented recovery (a torn last line cut); no
// complete line present after the damage may disappear from the data
// directory (repair moves lines aside, it never deletes them); and nothing
// outside the data directory is touched, not even through a planted link.
import { execFileSync } from "node:child_process";
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  truncate,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BeauvoirError } from "@beauvoir/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AuditTrail, repairAuditHistory } from "../src/index.js";

/** Every code initialize() and repair document for a damaged or unusable file. */
const DOCUMENTED = ["AUDIT_CORRUPT", "AUDIT_READ", "AUDIT_WRITE", "SYMLINK_REFUSED"];
const keepEverything = { redactAny: (value: unknown) => value };
const VICTIM = "root:x:0:0:root:/root:/bin/bash\n";

let base: string;
let data: string;
let outside: string;
let path: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "beauvoir-bad-files-"));
  data = join(base, "data");
  outside = join(base, "outside");
  path = join(data, "audit.jsonl");
  await mkdir(outside);
  await writeFile(join(outside, "victim"), VICTIM);
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

async function writeHistory(directory = data, pairs = 30): Promise<void> {
  const trail = new AuditTrail({
    path: join(directory, "audit.jsonl"),
    redactor: keepEverything,
    maxSizeBytes: 1_000,
  });
  await trail.initialize();
  for (let index = 0; index < pairs; index++) {
    const seq = await trail.recordIntent({
      action: "add_labels",
      target: `acme/app#${index}`,
      params: { index },
    });
    await trail.recordResult(seq, { index });
  }
  await trail.close();
}

/** Complete lines of every regular file under `directory`, quarantined copies included. */
async function completeLines(directory: string): Promise<Set<string>> {
  const lines = new Set<string>();
  for (const name of await readdir(directory)) {
    const file = join(directory, name);
    const entry = await lstat(file);
    if (!entry.isFile()) continue;
    const text = await readFile(file, "utf8");
    const complete = text.slice(0, text.lastIndexOf("\n") + 1);
    for (const line of complete.split("\n")) if (line) lines.add(line);
  }
  return lines;
}

async function outsideState(): Promise<string> {
  return JSON.stringify([
    await readdir(outside),
    await readFile(join(outside, "victim"), "utf8"),
    await readdir(base),
  ]);
}

function segmentsOf(names: string[]): string[] {
  return names.filter((name) => /^audit\.\d{8}T\d{9}Z\.jsonl$/.test(name)).sort();
}

type Fault = (file: string) => Promise<void>;

const FAULTS: Record<string, Fault> = {
  "truncated mid-file": async (file) => {
    const size = (await readFile(file)).length;
    await truncate(file, Math.floor(size / 2));
  },
  "truncated to 0 bytes": (file) => truncate(file, 0),
  "a flipped bit": async (file) => {
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x10;
    await writeFile(file, bytes);
  },
  "garbage appended": async (file) => {
    await writeFile(
      file,
      Buffer.concat([await readFile(file), Buffer.from("\u0000\u00ffgarbage\n{]\n")]),
    );
  },
  "a directory in its place": async (file) => {
    await rm(file);
    await mkdir(file);
  },
  "a symbolic link to a file outside": async (file) => {
    await rm(file);
    await symlink(join(outside, "victim"), file);
  },
  "chmod 000": (file) => chmod(file, 0o000),
};

/** What each fault leads to: for the current file, and for a rotated segment. */
const EXPECTED: Record<string, [current: string, segment: string]> = {
  // A cut mid-line is what a torn write looks like; a segment is fsynced before it is renamed, so never torn.
  "truncated mid-file": ["recovered", "AUDIT_CORRUPT"],
  // An emptied current file looks like one just rotated (only an anchor kept elsewhere can tell).
  "truncated to 0 bytes": ["recovered", "AUDIT_CORRUPT"],
  "a flipped bit": ["AUDIT_CORRUPT", "AUDIT_CORRUPT"],
  "garbage appended": ["AUDIT_CORRUPT", "AUDIT_CORRUPT"],
  "a directory in its place": ["AUDIT_READ", "AUDIT_READ"],
  "a symbolic link to a file outside": ["SYMLINK_REFUSED", "SYMLINK_REFUSED"],
  // Refused even as root, who could read it: the outcome does not depend on who runs the program.
  "chmod 000": ["AUDIT_READ", "AUDIT_READ"],
};

const TARGETS: Record<string, (names: string[]) => string> = {
  "the current file": () => path,
  "the oldest segment": (names) => join(data, segmentsOf(names)[0]!),
  "the newest segment": (names) => join(data, segmentsOf(names).at(-1)!),
};

describe.each(Object.keys(TARGETS))("%s", (targetName) => {
  it.each(Object.keys(FAULTS))(
    "%s: a typed error or the documented recovery, nothing lost, nothing outside touched",
    async (faultName) => {
      await writeHistory();
      const target = TARGETS[targetName]!(await readdir(data));
      await FAULTS[faultName]!(target);
      const linesAfterFault = await completeLines(data);
      const before = await outsideState();

      const trail = new AuditTrail({ path, redactor: keepEverything, maxSizeBytes: 1_000 });
      let outcome: string;
      try {
        const report = await trail.initialize();
        outcome = "recovered";
        // The only recovery initialize() does is cutting a torn last line of the current file.
        if (report.truncatedBytes > 0) expect(target).toBe(path);
        await trail.recordDenied({ action: "after", target: "t", params: {} });
        expect(await trail.verifyChain()).toMatchObject({ valid: true });
        await trail.close();
      } catch (error) {
        await trail.close();
        expect(BeauvoirError.isInstance(error), String(error)).toBe(true);
        outcome = (error as BeauvoirError).code;
        expect(DOCUMENTED).toContain(outcome);
        expect(
          (error as { file?: string; path?: string }).file ?? (error as { path?: string }).path,
        ).toEqual(outcome === "AUDIT_CORRUPT" ? expect.stringContaining(data) : target);
        // The operator's repair moves the damaged part aside; then the trail goes on.
        const repair = await repairAuditHistory({ path });
        expect(repair.repaired).toBe(true);
        const next = new AuditTrail({ path, redactor: keepEverything, maxSizeBytes: 1_000 });
        await next.initialize();
        await next.recordDenied({ action: "after repair", target: "t", params: {} });
        expect(await next.verifyChain()).toMatchObject({ valid: true });
        await next.close();
      }
      const linesAfter = await completeLines(data);
      for (const line of linesAfterFault)
        expect(linesAfter.has(line), `lost: ${line.slice(0, 80)}`).toBe(true);
      expect(await outsideState()).toBe(before);
      expect(outcome).toBe(EXPECTED[faultName]![target === path ? 0 : 1]);
    },
  );
});

describe("on a filesystem of its own", () => {
  let mountPoint: string;
  beforeAll(async () => {
    mountPoint = await mkdtemp(join(tmpdir(), "beauvoir-bad-files-tmpfs-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", mountPoint]);
  });
  afterAll(async () => {
    execFileSync("umount", [mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });
  afterEach(async () => {
    execFileSync("mount", ["-o", "remount,rw", mountPoint]);
    for (const name of await readdir(mountPoint))
      await rm(join(mountPoint, name), { recursive: true, force: true });
  });

  it("ENOSPC: refuses the records that do not fit with AUDIT_WRITE, keeps every resolved one, and goes on once there is room", async () => {
    const directory = join(mountPoint, "audit");
    const trail = new AuditTrail({
      path: join(directory, "audit.jsonl"),
      redactor: keepEverything,
      maxSizeBytes: 4_096,
    });
    await trail.initialize();
    const resolved: number[] = [];
    for (let index = 0; index < 5; index++)
      resolved.push(await trail.recordDenied({ action: "fill", target: "t", params: { index } }));
    // Fill the rest of the filesystem.
    const filler = join(mountPoint, "filler");
    await writeFile(filler, Buffer.alloc(512 * 1024)).catch(() => {});
    const refusals: unknown[] = [];
    for (let index = 0; index < 50 && refusals.length === 0; index++) {
      try {
        resolved.push(
          await trail.recordDenied({
            action: "more",
            target: "t",
            params: { padding: "p".repeat(200) },
          }),
        );
      } catch (error) {
        refusals.push(error);
      }
    }
    expect(refusals[0]).toMatchObject({ code: "AUDIT_WRITE", cause: { code: "ENOSPC" } });
    await rm(filler);
    resolved.push(await trail.recordDenied({ action: "room again", target: "t", params: {} }));
    expect(await trail.verifyChain()).toMatchObject({ valid: true, lastSeq: resolved.at(-1) });
    await trail.close();
    const lines = [...(await completeLines(directory))].map(
      (line) => JSON.parse(line).seq as number,
    );
    for (const seq of resolved) expect(lines).toContain(seq);
  });

  it("ENOSPC during a repair: AUDIT_WRITE, and the damaged history is still all there", async () => {
    const directory = join(mountPoint, "audit");
    await writeHistory(directory, 10);
    const current = join(directory, "audit.jsonl");
    const bytes = await readFile(current);
    bytes[bytes.length - 20]! ^= 0x01;
    await writeFile(current, bytes);
    const linesBefore = await completeLines(directory);
    const filler = join(mountPoint, "filler");
    await writeFile(filler, Buffer.alloc(512 * 1024)).catch(() => {});
    const error = await repairAuditHistory({ path: current }).catch((caught: unknown) => caught);
    await rm(filler);
    expect(error).toMatchObject({ code: "AUDIT_WRITE" });
    const linesAfter = await completeLines(directory);
    for (const line of linesBefore) expect(linesAfter.has(line)).toBe(true);
    await repairAuditHistory({ path: current });
    const trail = new AuditTrail({ path: current, redactor: keepEverything });
    await trail.initialize();
    expect(await trail.verifyChain()).toMatchObject({ valid: true });
    await trail.close();
  });

  it("a read-only filesystem: initialize() and repair fail with AUDIT_WRITE and change nothing", async () => {
    const directory = join(mountPoint, "audit");
    await writeHistory(directory, 10);
    const current = join(directory, "audit.jsonl");
    await writeFile(current, Buffer.concat([await readFile(current), Buffer.from("torn")]));
    const before = await completeLines(directory);
    execFileSync("mount", ["-o", "remount,ro", mountPoint]);
    const trail = new AuditTrail({ path: current, redactor: keepEverything });
    await expect(trail.initialize()).rejects.toMatchObject({
      code: "AUDIT_WRITE",
      cause: { code: "EROFS" },
    });
    await expect(repairAuditHistory({ path: current })).rejects.toMatchObject({
      code: "AUDIT_WRITE",
    });
    const missing = new AuditTrail({
      path: join(mountPoint, "new", "audit.jsonl"),
      redactor: keepEverything,
    });
    await expect(missing.initialize()).rejects.toMatchObject({
      code: "AUDIT_WRITE",
      operation: "mkdir",
    });
    expect(await completeLines(directory)).toEqual(before);
    execFileSync("mount", ["-o", "remount,rw", mountPoint]);
    expect(await trail.initialize()).toMatchObject({ recordsLost: 1 });
    await trail.close();
  });
});

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createFaultyFileSystem } from "@beauvoir/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryLocks } from "../src/__fixtures__/memory-dependencies.js";
import { runIndexCli } from "../src/cli/run-index-cli.js";
import { IdempotencyIndex } from "../src/idempotency-index.js";
import { repairIdempotencyIndex } from "../src/repair-index.js";
import { verifyIdempotencyIndex } from "../src/verify-index.js";

const BIN = fileURLToPath(new URL("../bin/beauvoir-index.js", import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "idem-repair-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function seed(count: number, compactionThreshold = 1000): Promise<void> {
  const index = new IdempotencyIndex({ dir, compactionThreshold });
  await index.initialize();
  for (let n = 0; n < count; n += 1) {
    await index.markPending(`k${n}`, n + 1);
    await index.markCompleted(`k${n}`, { n });
  }
  await index.close();
}

/** Like {@link seed}, but the index is abandoned without closing it, as a crash does. */
async function seedThenCrash(count: number): Promise<void> {
  const index = new IdempotencyIndex({ dir, locks: new MemoryLocks() });
  await index.initialize();
  for (let n = 0; n < count; n += 1) {
    await index.markPending(`k${n}`, n + 1);
    await index.markCompleted(`k${n}`, { n });
  }
}

async function flipByteInLine(path: string, line: number): Promise<void> {
  const bytes = await readFile(path);
  let start = 0;
  for (let current = 1; current < line; current += 1) start = bytes.indexOf(0x0a, start) + 1;
  const at = start + 30;
  bytes[at] = (bytes[at] as number) ^ 0x02;
  await writeFile(path, bytes);
}

async function fingerprint(): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    result[path] = createHash("sha256")
      .update(await readFile(path))
      .digest("hex");
  }
  return result;
}

function capture() {
  const out = { stdout: "", stderr: "" };
  return {
    out,
    io: {
      version: "9.9.9",
      stdout: { write: (text: string) => (out.stdout += text) },
      stderr: { write: (text: string) => (out.stderr += text) },
    },
  };
}

describe("verifyIdempotencyIndex", () => {
  it("reports every problem without changing anything, even while the index is open", async () => {
    await seed(6);
    const journal = join(dir, "journal.0.jsonl");
    await flipByteInLine(journal, 3);
    await flipByteInLine(journal, 8);
    const before = await fingerprint();
    const report = await verifyIdempotencyIndex({ dir });
    expect(report.intact).toBe(false);
    expect(report.problems.map((problem) => [problem.file, problem.line, problem.kind])).toEqual([
      [journal, 3, "damaged-line"],
      [journal, 8, "damaged-line"],
    ]);
    expect(report.entries.total).toBe(6);
    expect(await fingerprint()).toEqual(before);
  });

  it("answers while an index has the directory open", async () => {
    await seed(2);
    const index = new IdempotencyIndex({ dir });
    await index.initialize();
    await index.markPending("live", 9);
    const report = await verifyIdempotencyIndex({ dir });
    expect(report).toMatchObject({ intact: true, entries: { total: 3, pending: 1, completed: 2 } });
    await index.close();
  });

  it("reads a damaged snapshot the way initialize would (its backup) without moving it", async () => {
    await seed(30, 5);
    await truncate(join(dir, "snapshot.json"), 40);
    const before = await fingerprint();
    const report = await verifyIdempotencyIndex({ dir });
    expect(report.intact).toBe(true);
    expect(report.entries.total).toBe(30);
    expect(report.notes.join("\n")).toMatch(/bak/);
    expect(await fingerprint()).toEqual(before);
  });

  it("reports a torn tail, which is not damage", async () => {
    await seed(1);
    await writeFile(join(dir, "journal.0.jsonl"), '{"sum":"01', { flag: "a" });
    const report = await verifyIdempotencyIndex({ dir });
    expect(report).toMatchObject({
      intact: true,
      tornTail: { file: join(dir, "journal.0.jsonl"), bytes: 10 },
    });
  });

  it("reads again when a running index deletes a journal between the listing and the read", async () => {
    await seed(4);
    let vanished = 0;
    const fs = createFaultyFileSystem({
      inject: ({ operation, path }) => {
        if (operation === "open" && path.endsWith(".jsonl") && vanished === 0) {
          vanished += 1;
          return { error: "ENOENT" };
        }
        return undefined;
      },
    });
    const report = await verifyIdempotencyIndex({ dir, fs });
    expect(vanished).toBe(1);
    expect(report).toMatchObject({ intact: true, entries: { total: 4 } });
  });

  it("refuses a directory that does not exist with a typed error", async () => {
    await expect(verifyIdempotencyIndex({ dir: join(dir, "missing") })).rejects.toMatchObject({
      code: "INDEX_IO_FAILED",
    });
    await expect(verifyIdempotencyIndex({ dir: "" })).rejects.toThrow(TypeError);
  });
});

describe("repairIdempotencyIndex", () => {
  it("moves the damaged journal aside byte for byte and keeps every readable record", async () => {
    await seedThenCrash(5);
    const journal = join(dir, "journal.0.jsonl");
    await flipByteInLine(journal, 3); // the completion of k0
    const damaged = await readFile(journal);
    const report = await repairIdempotencyIndex({ dir });
    expect(report.repaired).toBe(true);
    expect(report.problems).toEqual([
      expect.objectContaining({ file: journal, line: 3, kind: "damaged-line" }),
    ]);
    expect(report.moved).toHaveLength(1);
    const [move] = report.moved;
    expect(move?.from).toBe(journal);
    expect(move?.to.startsWith(join(dir, "quarantine"))).toBe(true);
    expect(await readFile(move?.to as string)).toEqual(damaged);
    expect(report.entries).toBe(5);

    const index = new IdempotencyIndex({ dir });
    await index.initialize();
    for (let n = 1; n < 5; n += 1) {
      expect(await index.check(`k${n}`)).toMatchObject({ status: "completed", result: { n } });
    }
    // The lost completion leaves k0 pending: it goes through reconciliation, never re-run blindly.
    expect(await index.check("k0")).toMatchObject({ status: "pending" });
    expect(await index.markPending("k0", 99)).toMatchObject({ claimed: false, reason: "pending" });
    await index.markPending("after", 50);
    await index.close();
    const again = new IdempotencyIndex({ dir });
    await again.initialize();
    expect(again.size).toBe(6);
    await again.close();
  });

  it("rebuilds from what is left when the snapshot and older journals are gone", async () => {
    await seed(30, 5);
    await rm(join(dir, "snapshot.json"));
    await rm(join(dir, "snapshot.json.bak"));
    const report = await repairIdempotencyIndex({ dir });
    expect(report.repaired).toBe(true);
    expect(report.problems[0]).toMatchObject({ kind: "missing-records" });
    expect((await verifyIdempotencyIndex({ dir })).intact).toBe(true);
    const index = new IdempotencyIndex({ dir });
    await index.initialize();
    expect(index.size).toBe(report.entries);
    await index.close();
  });

  it("after a clean shutdown, a damaged line costs nothing: the snapshot holds its transition", async () => {
    await seed(5);
    await flipByteInLine(join(dir, "journal.0.jsonl"), 3);
    const report = await repairIdempotencyIndex({ dir });
    expect(report.repaired).toBe(true);
    const index = new IdempotencyIndex({ dir });
    await index.initialize();
    for (let n = 0; n < 5; n += 1) {
      expect(await index.check(`k${n}`)).toMatchObject({ status: "completed", result: { n } });
    }
    await index.close();
  });

  it("leaves an intact directory alone", async () => {
    await seed(3);
    const before = await fingerprint();
    const report = await repairIdempotencyIndex({ dir });
    expect(report).toMatchObject({ repaired: false, moved: [], quarantineDir: null, entries: 3 });
    const after = await fingerprint();
    expect(after).toEqual(before);
  });

  it("refuses while an index has the directory open, changing nothing", async () => {
    await seed(3);
    await flipByteInLine(join(dir, "journal.0.jsonl"), 2);
    // An index with the same lock directory holds the owner lock, as a running bot does.
    const { LockManager } = await import("@beauvoir/locks");
    const lock = await new LockManager({ lockDir: join(dir, "locks") }).acquire(
      "idempotency-index",
    );
    const before = await fingerprint();
    await expect(repairIdempotencyIndex({ dir })).rejects.toMatchObject({ code: "LOCK_HELD" });
    expect(await fingerprint()).toEqual(before);
    await lock.release();
  });
});

describe("beauvoir-index", () => {
  it("verify: exit 0 intact, 1 damaged, one line per problem, --json", async () => {
    await seed(3);
    const intact = capture();
    expect(await runIndexCli(["verify", dir], intact.io)).toBe(0);
    expect(intact.out.stdout).toMatch(/^OK: .*3 entries/);
    await flipByteInLine(join(dir, "journal.0.jsonl"), 2);
    const damaged = capture();
    expect(await runIndexCli(["verify", dir], damaged.io)).toBe(1);
    expect(damaged.out.stdout).toMatch(/^DAMAGED: journal\.0\.jsonl line 2: /);
    const json = capture();
    expect(await runIndexCli(["verify", dir, "--json"], json.io)).toBe(1);
    expect(JSON.parse(json.out.stdout)).toMatchObject({ intact: false, problems: [{ line: 2 }] });
  });

  it("repair: moves the damage aside, reports it, exit 0", async () => {
    await seed(3);
    await flipByteInLine(join(dir, "journal.0.jsonl"), 2);
    const repair = capture();
    expect(await runIndexCli(["repair", dir], repair.io)).toBe(0);
    expect(repair.out.stdout).toMatch(/found: journal\.0\.jsonl line 2/);
    expect(repair.out.stdout).toMatch(/moved: journal\.0\.jsonl -> quarantine\//);
    expect(repair.out.stdout).toMatch(/REPAIRED/);
    const second = capture();
    expect(await runIndexCli(["repair", dir, "--json"], second.io)).toBe(0);
    expect(JSON.parse(second.out.stdout)).toMatchObject({ repaired: false, intactAfter: true });
  });

  it("usage and I/O errors: exit 2 with one clean line, control characters escaped", async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /no command given/],
      [["frobnicate", dir], /unknown command "frobnicate"/],
      [["verify"], /needs the index directory/],
      [["verify", dir, dir], /takes one directory/],
      [["verify", "--frob"], /unknown option --frob/],
      [["verify", join(dir, "no\u001b[31mpe")], /Could not list .*no\\x1b\[31mpe \(ENOENT\)/],
    ];
    for (const [argv, pattern] of cases) {
      const run = capture();
      expect(await runIndexCli(argv, run.io), argv.join(" ")).toBe(2);
      const first = run.out.stderr.split("\n")[0] as string;
      expect(first, argv.join(" ")).toMatch(/^beauvoir-index: /);
      expect(first).toMatch(pattern);
      expect(run.out.stderr).not.toContain("\u001b");
    }
    const help = capture();
    expect(await runIndexCli(["--help"], help.io)).toBe(0);
    expect(help.out.stdout).toContain("Usage: beauvoir-index");
    const version = capture();
    expect(await runIndexCli(["--version"], version.io)).toBe(0);
    expect(version.out.stdout).toBe("9.9.9\n");
  });

  it("runs as a bin through the committed launcher", async () => {
    await seed(1);
    const ok = spawnSync(process.execPath, [BIN, "verify", dir], { encoding: "utf8" });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^OK: /);
    const version = spawnSync(process.execPath, [BIN, "--version"], { encoding: "utf8" });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const missing = spawnSync(process.execPath, [BIN, "verify", join(dir, "nope")], {
      encoding: "utf8",
    });
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
  });
});

// Issue 12, the boot-level bad-files matrix: every kind of file a boot, steps,
// a workflow and a SIGKILLed child leave (audit file and rotated segment,
// journal, snapshot and its bak, stores and their baks, the breaker state,
// last-boot.json and its bak, a dead holder's lock) truncated, bit-flipped,
// replaced by garbage, by a directory, by a symbolic link to a file outside,
// or chmod 000 (for root, and for an unprivileged uid in a child); the data
// directory read-only; the disk full. Each case ends in a typed error or the
// documented outcome (README, "Damaged files"), no resolved step runs twice,
// and nothing outside the data directory changes.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmod,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  truncate,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BootResult, boot } from "../src/index.js";
import { flipBit, runSomeSteps } from "./boot-data-dir.js";
import { spawnCrashWorker } from "./spawn-crash-worker.js";

const NOBODY = 65534;
const asNobody = fileURLToPath(new URL("./fixtures/boot-as-nobody.mjs", import.meta.url));
const silent = { level: "silent" as const };

type Damage = "truncate" | "bit-flip" | "garbage" | "directory" | "symlink" | "chmod-000";
const DAMAGES: readonly Damage[] = [
  "truncate",
  "bit-flip",
  "garbage",
  "directory",
  "symlink",
  "chmod-000",
];

/** What boot does with a damaged file of each kind (the README's table). */
type Expected = "abort" | "degraded" | "runs";
const TARGETS: ReadonlyArray<{
  kind: string;
  pick: (names: string[]) => string | undefined;
  expected: (damage: Damage) => Expected | "abort-or-runs";
}> = [
  // A torn (truncated) current file is the one recovery the audit trail makes.
  {
    kind: "audit current file",
    pick: (names) => names.find((name) => name === "audit/audit.jsonl"),
    expected: (damage) => (damage === "truncate" ? "abort-or-runs" : "abort"),
  },
  {
    kind: "audit rotated segment",
    pick: (names) => names.filter((name) => /^audit\/audit\.\d/.test(name)).sort()[0],
    expected: () => "abort",
  },
  {
    kind: "index journal",
    pick: (names) =>
      names
        .filter((name) => /^idempotency\/journal\.\d+\.jsonl$/.test(name))
        .sort()
        .at(-1),
    expected: (damage) => (damage === "truncate" ? "abort-or-runs" : "degraded"),
  },
  {
    kind: "index snapshot",
    pick: (names) => names.find((name) => name === "idempotency/snapshot.json"),
    expected: (damage) =>
      ["directory", "symlink", "chmod-000"].includes(damage) ? "degraded" : "runs",
  },
  {
    kind: "index snapshot bak",
    pick: (names) => names.find((name) => name === "idempotency/snapshot.json.bak"),
    expected: (damage) =>
      ["directory", "symlink", "chmod-000"].includes(damage) ? "degraded" : "runs",
  },
  {
    kind: "unfinished-runs store",
    pick: (names) => names.find((name) => name === "stores/workflow-runs.json"),
    expected: () => "runs",
  },
  {
    kind: "run state store",
    pick: (names) => names.find((name) => /^stores\/workflow-run\..*\.json$/.test(name)),
    expected: () => "runs",
  },
  {
    kind: "run state bak",
    pick: (names) => names.find((name) => /^stores\/workflow-run\..*\.json\.bak$/.test(name)),
    expected: () => "runs",
  },
  {
    kind: "breaker state",
    pick: (names) => names.find((name) => name === "stores/resilience-state.json"),
    expected: () => "runs",
  },
  {
    kind: "last-boot record",
    pick: (names) => names.find((name) => name === "last-boot.json"),
    expected: () => "runs",
  },
  {
    kind: "last-boot bak",
    pick: (names) => names.find((name) => name === "last-boot.json.bak"),
    expected: () => "runs",
  },
  // A dead holder's lock: recovered, or refused as LOCK_CORRUPT inside its grace.
  {
    kind: "dead holder's instance lock",
    pick: (names) => names.find((name) => name === "locks/boot-instance.lock"),
    expected: () => "abort-or-runs",
  },
];

let root: string;
let template: string;
let outside: string;
let counter = 0;
const counts: Record<string, number> = {};
/** What each case ended in, printed at the end (the README's table is made from it). */
const seen: Record<string, string> = {};
const summary = (outcome: Outcome): string =>
  outcome.ok
    ? `${outcome.app.mode}${outcome.app.health.damage.length ? ` (${[...new Set(outcome.app.health.damage.map((entry) => entry.code))].join(",")})` : outcome.app.health.warnings.length ? " (warning)" : ""}`
    : `abort ${outcome.step} ${outcome.cause}`;

async function filesUnder(directory: string, prefix = ""): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory())
      names.push(...(await filesUnder(join(directory, entry.name), relative)));
    else names.push(relative);
  }
  return names;
}

async function seedTemplate(dataDir: string): Promise<void> {
  const config = {
    dataDir,
    log: silent,
    auditTrail: { maxSizeBytes: 2_000 },
    idempotency: { compactionThreshold: 4 },
    circuitBreaker: { failureThreshold: 1 },
    retry: { maxAttempts: 1 },
  };
  for (const tag of ["a", "b"]) {
    const app = await boot(config);
    try {
      await runSomeSteps(app, tag);
      // Opens update_pull_request's breaker, so the breaker state is saved.
      await app.executor
        .execute({
          action: "update_pull_request",
          scope: "acme/widgets",
          resource: `pull-${tag}`,
          params: {},
          run: async () => {
            throw Object.assign(new Error("bad gateway"), { status: 502, headers: {} });
          },
        })
        .catch(() => {});
    } finally {
      await app.shutdown();
    }
  }
  // A child killed with its key pending leaves its locks, an open intent and a pending entry.
  await spawnCrashWorker({
    dataDir,
    crashAfterStep: "pending",
    action: "create_branch",
    effectsFile: join(root, "effects.log"),
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "beauvoir-boot-bad-files-"));
  await chmod(root, 0o711); // the unprivileged child must reach its data directory
  outside = join(root, "outside.txt");
  await writeFile(outside, "outside the data directory\n", { mode: 0o644 });
  template = join(root, "template");
  await seedTemplate(template);
}, 60_000);
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  console.info(`boot bad-files matrix: ${JSON.stringify(counts)}`);
  if (process.env.BEAUVOIR_PRINT_MATRIX) console.info(JSON.stringify(seen, null, 1));
});

async function damage(path: string, kind: Damage): Promise<void> {
  const size = (await stat(path)).size;
  if (kind === "truncate") await truncate(path, Math.floor(size / 2));
  else if (kind === "bit-flip") await flipBit(path, Math.floor(size / 2), 3);
  else if (kind === "garbage") await writeFile(path, randomBytes(Math.max(size, 64)));
  else if (kind === "directory") {
    await rm(path);
    await mkdir(path);
  } else if (kind === "symlink") {
    await rm(path);
    await symlink(outside, path);
  } else await chmod(path, 0);
}

type Outcome =
  | { ok: true; app: BootResult }
  | { ok: false; code: string; step: string; cause: string | undefined };

async function attempt(dataDir: string): Promise<Outcome> {
  try {
    return { ok: true, app: await boot({ dataDir, log: silent }) };
  } catch (error) {
    const failure = error as { code?: string; step?: string; cause?: { code?: string } };
    return {
      ok: false,
      code: String(failure.code),
      step: String(failure.step),
      cause: failure.cause?.code,
    };
  }
}

/** The seeded add_labels steps: completed before the damage, never run again after it. */
async function reexecuteSeededSteps(app: BootResult): Promise<string[]> {
  const statuses: string[] = [];
  for (const resource of ["issue-a1", "issue-b2"]) {
    const settled = await app.executor.executeSettled({
      action: "add_labels",
      scope: "acme/widgets",
      resource,
      params: { labels: ["bug"] },
      run: async () => {
        statuses.push("RAN AGAIN");
        return { labels: ["bug"] };
      },
    });
    statuses.push(
      settled.ok ? settled.outcome.status : String((settled.error as { code?: string }).code),
    );
  }
  return statuses;
}

async function checkOutcome(
  outcome: Outcome,
  expected: Expected | "abort-or-runs",
  label: string,
): Promise<void> {
  counts[expected] = (counts[expected] ?? 0) + 1;
  if (!outcome.ok) {
    expect(["abort", "abort-or-runs"], `${label}: aborted (${outcome.cause})`).toContain(expected);
    expect(outcome.code).toBe("BOOT_FAILED");
    expect(outcome.cause, `${label}: the cause has a code`).toMatch(/^[A-Z_]+$/);
    return;
  }
  const app = outcome.app;
  try {
    const statuses = await reexecuteSeededSteps(app);
    expect(statuses, label).not.toContain("RAN AGAIN");
    if (expected === "degraded") {
      expect(app.mode, label).toBe("degraded");
      expect(app.health.damage.length, `${label}: damage reported`).toBeGreaterThan(0);
      expect(statuses).toEqual(["DEGRADED_MODE", "DEGRADED_MODE"]);
    } else {
      expect(["runs", "abort-or-runs"], `${label}: booted ${app.mode}`).toContain(expected);
      expect(app.mode, label).toBe("autonomous");
      expect(
        statuses.every((status) => status === "deduplicated" || status === "reconciled"),
        `${label}: ${statuses}`,
      ).toBe(true);
    }
  } finally {
    await app.shutdown();
  }
}

/** Whether `bytes` are still the content of `path`, or of a file beside it (a quarantined copy). */
async function bytesKept(path: string, bytes: Buffer): Promise<boolean> {
  const directory = join(path, "..");
  for (const name of await readdir(directory)) {
    const candidate = join(directory, name);
    if (!(await lstat(candidate)).isFile()) continue;
    if ((await readFile(candidate)).equals(bytes)) return true;
  }
  return false;
}

async function caseDir(): Promise<string> {
  const dataDir = join(root, `case-${++counter}`);
  await cp(template, dataDir, { recursive: true, preserveTimestamps: true });
  return dataDir;
}

async function outsideUnchanged(): Promise<void> {
  expect(await readFile(outside, "utf8")).toBe("outside the data directory\n");
  expect((await lstat(outside)).mode & 0o777).toBe(0o644);
}

describe("boot over damaged files", () => {
  it("the template holds every kind of file", async () => {
    const names = await filesUnder(template);
    for (const target of TARGETS) expect(target.pick(names), target.kind).toBeDefined();
  });

  for (const target of TARGETS) {
    for (const kind of DAMAGES) {
      it(`${target.kind}: ${kind}`, async () => {
        const dataDir = await caseDir();
        const file = target.pick(await filesUnder(dataDir)) as string;
        await damage(join(dataDir, file), kind);
        const damaged = ["directory", "symlink"].includes(kind)
          ? undefined
          : await readFile(join(dataDir, file));
        const outcome = await attempt(dataDir);
        seen[`${target.kind} | ${kind}`] = summary(outcome);
        // chmod 000 means nothing to root except where a subsystem refuses it on purpose.
        const expected =
          kind === "chmod-000" && !target.kind.startsWith("audit")
            ? "abort-or-runs-or-degraded"
            : target.expected(kind);
        if (expected === "abort-or-runs-or-degraded") {
          counts["root-chmod"] = (counts["root-chmod"] ?? 0) + 1;
          if (outcome.ok) {
            const statuses = await reexecuteSeededSteps(outcome.app).finally(() =>
              outcome.app.shutdown(),
            );
            expect(statuses).not.toContain("RAN AGAIN");
          } else expect(outcome.cause).toMatch(/^[A-Z_]+$/);
        } else await checkOutcome(outcome, expected, `${target.kind} ${kind}`);
        await outsideUnchanged();
        // The damaged bytes are kept: in place, or as a quarantined copy beside
        // them (only the audit trail's torn-tail cut may drop a torn last line,
        // and a store's bak is replaced by the next write, as documented).
        const tornTail = kind === "truncate" && /current file|journal/.test(target.kind);
        const replacedBak = /bak/.test(target.kind);
        // A dead holder's lock is removed once it is recovered: it holds no record.
        const recoveredLock = /lock/.test(target.kind) && outcome.ok;
        if (damaged && !tornTail && !replacedBak && !recoveredLock) {
          expect(
            await bytesKept(join(dataDir, file), damaged),
            `${target.kind} ${kind}: bytes kept`,
          ).toBe(true);
        }
      });
    }
  }

  for (const target of TARGETS) {
    it(`${target.kind}: chmod 000, booted by an unprivileged uid`, async () => {
      const dataDir = await caseDir();
      const file = target.pick(await filesUnder(dataDir)) as string;
      execFileSync("chown", ["-R", `${NOBODY}:${NOBODY}`, dataDir]);
      await chmod(join(dataDir, file), 0);
      const child = spawnSync(process.execPath, [asNobody, dataDir, String(NOBODY)], {
        encoding: "utf8",
        timeout: 30_000,
      });
      const result = JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "{}") as {
        ok: boolean;
        mode?: string;
        cause?: string;
        damage?: Array<{ code: string }>;
      };
      counts["nobody-chmod"] = (counts["nobody-chmod"] ?? 0) + 1;
      seen[`${target.kind} | chmod 000 (uid ${NOBODY})`] = result.ok
        ? `${result.mode} (${(result.damage ?? []).map((entry) => entry.code).join(",")})`
        : `abort ${result.cause}`;
      if (target.kind.startsWith("audit"))
        expect(result, target.kind).toMatchObject({ ok: false, step: "auditTrail" });
      else if (target.kind.startsWith("index"))
        expect(result, target.kind).toMatchObject({ ok: true, mode: "degraded" });
      else if (result.ok) expect(result.mode, target.kind).not.toBe("dev");
      else expect(result.cause, target.kind).toMatch(/^[A-Z_]+$/);
      await outsideUnchanged();
    });
  }
});

describe("boot on a data directory it cannot write", () => {
  async function withTmpfs<T>(size: string, body: (mount: string) => Promise<T>): Promise<T> {
    const mount = join(root, `tmpfs-${++counter}`);
    await mkdir(mount);
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", mount]);
    try {
      return await body(mount);
    } finally {
      execFileSync("umount", ["-l", mount]);
    }
  }

  it("read-only: a typed abort at the filesystem step, nothing changed", async () => {
    await withTmpfs("4m", async (mount) => {
      const dataDir = join(mount, "data");
      await cp(template, dataDir, { recursive: true, preserveTimestamps: true });
      const before = await filesUnder(dataDir);
      execFileSync("mount", ["-o", "remount,ro", mount]);
      const outcome = await attempt(dataDir);
      expect(outcome).toMatchObject({
        ok: false,
        code: "BOOT_FAILED",
        step: "filesystem",
        cause: "EROFS",
      });
      expect(await filesUnder(dataDir)).toEqual(before);
    });
    await outsideUnchanged();
  });

  it("disk full: a typed error or a boot that runs, no step run twice, nothing lost", async () => {
    await withTmpfs("1m", async (mount) => {
      const dataDir = join(mount, "data");
      await cp(template, dataDir, { recursive: true, preserveTimestamps: true });
      const auditBefore = await readFile(join(dataDir, "audit", "audit.jsonl"));
      // Fill the rest of the filesystem.
      try {
        await writeFile(join(mount, "filler"), Buffer.alloc(1024 * 1024));
      } catch {
        // ENOSPC: full, as wanted
      }
      const outcome = await attempt(dataDir);
      seen["data directory | disk full"] = summary(outcome);
      if (outcome.ok) {
        const statuses = await reexecuteSeededSteps(outcome.app).finally(() =>
          outcome.app.shutdown(),
        );
        expect(statuses).not.toContain("RAN AGAIN");
      } else {
        expect(outcome.code).toBe("BOOT_FAILED");
        expect(outcome.cause).toMatch(/^[A-Z_]+$/);
      }
      // The audit history is still there, byte for byte as a prefix.
      const auditAfter = await readFile(join(dataDir, "audit", "audit.jsonl"));
      expect(auditAfter.subarray(0, auditBefore.length)).toEqual(auditBefore);
    });
    await outsideUnchanged();
  });
});

import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { verifyAuditFile } from "@beauvoir/audit-trail";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../../test/support/test-database.js";
import { SCHEMA_VERSION } from "../migrations.js";
import { runCli } from "./run-cli.js";

const db = useTestDatabase();
const bin = fileURLToPath(new URL("../../bin/beauvoir-postgres.js", import.meta.url));
let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "beauvoir-pg-cli-"));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function cli(argv: string[], env: Record<string, string | undefined> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: { BEAUVOIR_DATABASE_URL: db.url, ...env },
    createPool: (connectionString) => {
      const pool = new pg.Pool({ connectionString, max: 2 });
      pool.on("error", () => {});
      return pool;
    },
  });
  return { code, stdout, stderr };
}

describe("beauvoir-postgres", () => {
  it("migrates a schema, then says there is nothing to apply", async () => {
    const first = await cli(["migrate", "--schema", "cli_one"]);
    expect(first).toMatchObject({ code: 0, stderr: "" });
    expect(first.stdout).toContain(`Schema "cli_one" migrated from nothing to ${SCHEMA_VERSION}`);
    const second = await cli(["migrate", "--schema", "cli_one", "--json"]);
    expect(JSON.parse(second.stdout)).toMatchObject({ applied: [], toVersion: SCHEMA_VERSION });
  });

  it("reports status, exit 1 for a schema this version cannot run on", async () => {
    const missing = await cli(["status", "--schema", "cli_none"]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain("no Beauvoir tables");
    await cli(["migrate", "--schema", "cli_two"]);
    const ok = await cli(["status", "--schema", "cli_two", "--json"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      version: SCHEMA_VERSION,
      usable: true,
      liveInstances: 0,
      pendingKeys: 0,
      sealedRecords: 0,
      unsealedRecords: 0,
    });
    expect((await cli(["status", "--schema", "cli_two"])).stdout).toMatch(/Live instances: 0/);
  });

  it("exports the sealed audit history as a file the verifier accepts", async () => {
    const backend = db.backend({ sealer: { enabled: false } });
    await backend.start();
    const intent = await backend.audit.recordIntent({ action: "a", target: "t", params: { x: 1 } });
    await backend.audit.recordResult(intent, "ok");
    await backend.sealer.sealPending();
    const path = join(directory, "exported.jsonl");
    const exported = await cli(["audit", "export", path]);
    expect(exported).toMatchObject({ code: 0, stderr: "" });
    expect(exported.stdout).toMatch(/^Wrote 2 records/);
    expect(await verifyAuditFile(path)).toMatchObject({ valid: true, records: 2 });
    const again = await cli(["audit", "export", path]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/EEXIST|exists/);
  });

  it("explains usage mistakes with exit 2", async () => {
    expect((await cli(["--help"])).code).toBe(0);
    expect((await cli(["--help"])).stdout).toContain("Usage: beauvoir-postgres");
    expect((await cli([])).code).toBe(2);
    expect((await cli(["frobnicate"])).stderr).toContain('unknown command "frobnicate"');
    expect((await cli(["audit", "import"])).code).toBe(2);
    expect((await cli(["migrate", "--schema", "Bad-Name"])).stderr).toMatch(/schema must be/);
    expect((await cli(["migrate", "--bogus"])).code).toBe(2);
    const noUrl = await cli(["migrate"], {
      BEAUVOIR_DATABASE_URL: undefined,
      DATABASE_URL: undefined,
    });
    expect(noUrl).toMatchObject({ code: 2 });
    expect(noUrl.stderr).toContain("no database");
  });

  it("prints database errors with their code, and exit 2", async () => {
    await cli(["migrate", "--schema", "cli_three"]);
    await db.admin.query("UPDATE cli_three.schema_version SET version = 99, compatible_from = 99");
    const refused = await cli(["migrate", "--schema", "cli_three"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("[SCHEMA_TOO_NEW]");
  });

  it("runs as an installed bin through the committed shim", { timeout: 300_000 }, async () => {
    // The shim imports dist/, which the workspace build makes; on a fresh clone
    // (`pnpm install` then this package's tests) build it and its dependencies first.
    const root = fileURLToPath(new URL("../../../../", import.meta.url));
    const built = [
      "postgres",
      "audit-trail",
      "core",
      "idempotency",
      "rate-limiter",
      "redactor",
    ].every((name) => existsSync(join(root, "packages", name, "dist", "index.js")));
    if (!built || !existsSync(join(root, "packages/postgres/dist/cli.js"))) {
      execFileSync("pnpm", ["turbo", "run", "build", "--filter=@beauvoir/postgres..."], {
        cwd: root,
        stdio: "ignore",
        timeout: 280_000,
      });
    }
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [bin, "status", "--schema", "beauvoir"],
      {
        env: { ...process.env, BEAUVOIR_DATABASE_URL: db.url },
        timeout: 60_000,
      },
    );
    expect(stdout).toContain(`version ${SCHEMA_VERSION}`);
  });
});

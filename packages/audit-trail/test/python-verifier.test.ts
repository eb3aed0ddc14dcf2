import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, expect, it } from "vitest";
import { makeTempDir } from "../src/__fixtures__/helpers.js";
import { AuditTrail, canonicalJson, startSigning } from "../src/index.js";

const run = promisify(execFile);
const script = fileURLToPath(new URL("../scripts/verify_audit.py", import.meta.url));
const readme = fileURLToPath(new URL("../README.md", import.meta.url));

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});
afterEach(() => cleanup());

/** Runs the Python verifier; resolves with its exit code and output. */
async function python(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run("python3", [script, ...args], {
      env: { ...process.env, ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function historyFiles(): Promise<string[]> {
  const names = (await readdir(dir)).sort();
  const current = names.filter((name) => name === "audit.jsonl");
  return [...names.filter((name) => name !== "audit.jsonl"), ...current].map((name) =>
    join(dir, name),
  );
}

it("verifies, in Python, a rotated and signed history the package wrote, and catches edits", async () => {
  const unsignedPrefix = new AuditTrail({ path: join(dir, "audit.jsonl"), maxSizeBytes: 1_500 });
  await unsignedPrefix.initialize();
  await unsignedPrefix.recordDenied({
    action: "before_key",
    target: "t",
    params: { ünïcode: '😀 \u2028 "q"' },
  });
  await unsignedPrefix.close();
  // The history began unsigned: the switch to signing is recorded once.
  await startSigning({ path: join(dir, "audit.jsonl"), hmacKey: "py-key" });
  const trail = new AuditTrail({
    path: join(dir, "audit.jsonl"),
    maxSizeBytes: 1_500,
    hmacKey: "py-key",
  });
  await trail.initialize();
  for (let index = 0; index < 12; index++) {
    const seq = await trail.recordIntent({
      action: "add_issue_comment",
      target: `acme/app#${index}`,
      params: {
        body: `n=${index} ${"é".repeat(index)}`,
        nested: { list: [index, 1.5, 1e-7, null, true], zed: {} },
      },
    });
    await trail.recordResult(seq, { id: index }, index === 5 ? new Error("boom") : undefined);
  }
  await trail.recordDryRun({ action: "simulate", target: "t", params: {} });
  await trail.close();
  const files = await historyFiles();
  expect(files.length).toBeGreaterThanOrEqual(3);

  expect(await python(files)).toMatchObject({ code: 0, stdout: "OK: 27 records\n" });
  expect(await python(["--key-env", "AUDIT_KEY", ...files], { AUDIT_KEY: "py-key" })).toMatchObject(
    { code: 0, stdout: "OK: 27 records\n" },
  );
  expect(
    (await python(["--key-env", "AUDIT_KEY", ...files], { AUDIT_KEY: "wrong" })).stderr,
  ).toMatch(/^BROKEN at seq 2: /);

  // A deleted middle file, files out of order, an edited byte.
  expect((await python([files[0]!, ...files.slice(2)])).stderr).toMatch(/^BROKEN at seq \d+: /);
  // Out of order, the first file continues one that is not before it (and no checkpoint names it).
  expect((await python([files[1]!, files[0]!, ...files.slice(2)])).stderr).toMatch(
    /^BROKEN at seq \d+: the oldest file continues a removed one/,
  );
  const last = files[files.length - 1]!;
  const text = await readFile(last, "utf8");
  await writeFile(last, text.replace("simulate", "simulat3"));
  const edited = await python(files);
  expect(edited.code).toBe(1);
  expect(edited.stderr).toBe(`BROKEN at seq 27: ${last} line ${text.trim().split("\n").length}\n`);
  await writeFile(last, text.replace(/\n$/, "").concat("\nnot json\n"));
  expect((await python(files)).stderr).toMatch(/^BROKEN at seq 28: .* is not a record/);
});

it("refuses, in Python, unsigned records no switch covers, a torn last line and an empty rotated file", async () => {
  const path = join(dir, "audit.jsonl");
  const signed = new AuditTrail({ path, hmacKey: "py-key", maxSizeBytes: 600 });
  await signed.initialize();
  for (let index = 0; index < 6; index++)
    await signed.recordDenied({ action: "a", target: `t${index}`, params: {} });
  await signed.close();
  const files = await historyFiles();
  expect(files.length).toBeGreaterThanOrEqual(2);
  const env = { AUDIT_KEY: "py-key" };
  expect(await python(["--key-env", "AUDIT_KEY", ...files], env)).toMatchObject({ code: 0 });

  // The HMACs stripped and the chain re-hashed (what an attacker without the key can do).
  const current = files[files.length - 1]!;
  const original = await readFile(current, "utf8");
  const stripped = original.replace(/,"hmac":"[0-9a-f]{64}"/g, "");
  let prevHash = "genesis";
  const rehashed = stripped
    .trim()
    .split("\n")
    .map((line, index) => {
      const record = JSON.parse(line);
      delete record.hash;
      if (index > 0) record.prevHash = prevHash;
      const body = canonicalJson(record)!;
      prevHash = createHash("sha256").update(body).digest("hex");
      return `${body.slice(0, -1)},"hash":"${prevHash}"}\n`;
    })
    .join("");
  await writeFile(current, rehashed);
  expect(await python(files)).toMatchObject({ code: 0 });
  expect((await python(["--key-env", "AUDIT_KEY", ...files], env)).stderr).toMatch(
    /^BROKEN at seq \d+: .* is unsigned and no signing_started record covers it/,
  );
  await writeFile(current, original);

  await writeFile(current, original.slice(0, -5));
  expect((await python(files)).stderr).toMatch(/has no newline \(a torn write\)/);
  await writeFile(current, original);

  await writeFile(files[0]!, "");
  expect((await python(files)).stderr).toMatch(/is a rotated file with no record/);
});

it("is the script printed in the README", async () => {
  const source = await readFile(script, "utf8");
  expect(await readFile(readme, "utf8")).toContain(source.trim());
});

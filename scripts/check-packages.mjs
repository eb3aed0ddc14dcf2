// Checks every public package the way a user would meet it: publint and
// are-the-types-wrong on the packed tarball, then a scratch project installs all
// tarballs and loads each package with both `import` and `require`.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const packagesDir = join(root, "packages");
const packages = readdirSync(packagesDir)
  .map((name) => join(packagesDir, name))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) }))
  .filter(({ manifest }) => !manifest.private)
  .filter(
    ({ dir }) =>
      process.env.BEAUVOIR_CHECK_ONLY === undefined ||
      process.env.BEAUVOIR_CHECK_ONLY.split(",").some((name) => dir.endsWith(`/${name}`)),
  );

const bin = (name) => join(root, "node_modules", ".bin", name);
const run = (command, args, options = {}) =>
  execFileSync(command, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", ...options });

let failures = 0;
const fail = (message, detail = "") => {
  failures++;
  console.error(`✗ ${message}\n${detail}`);
};

const scratch = mkdtempSync(join(tmpdir(), "beauvoir-pack-"));
try {
  const tarballs = [];
  for (const { dir, manifest } of packages) {
    try {
      run(bin("publint"), ["--strict"], { cwd: dir });
    } catch (error) {
      fail(`publint: ${manifest.name}`, `${error.stdout}${error.stderr}`);
    }
    const packed = run("pnpm", ["pack", "--pack-destination", scratch], { cwd: dir });
    const tarball = packed.trim().split("\n").pop();
    tarballs.push(tarball);
    const contents = run("tar", ["-tzf", tarball]).split("\n");
    if (!contents.includes("package/LICENSE"))
      fail(`LICENSE missing from ${manifest.name}'s tarball`);
    if (manifest.engines?.node !== ">=20.3.0") {
      // AbortSignal.any, which the packages call, arrived in Node.js 20.3.
      fail(`${manifest.name}: engines.node must be ">=20.3.0", got ${manifest.engines?.node}`);
    }
    try {
      run(bin("attw"), [tarball, "--format", "table-flipped"]);
    } catch (error) {
      fail(`attw: ${manifest.name}`, `${error.stdout}${error.stderr}`);
    }
  }

  const project = join(scratch, "consumer");
  run("mkdir", ["-p", project]);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true }));
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs], {
    cwd: project,
  });

  for (const { manifest } of packages) {
    const probe = `
      const required = require(${JSON.stringify(manifest.name)});
      import(${JSON.stringify(manifest.name)}).then((imported) => {
        const cjs = Object.keys(required).sort().join(",");
        const esm = Object.keys(imported).filter((key) => key !== "default").sort().join(",");
        if (!cjs || cjs !== esm) { console.error("exports differ: cjs=[" + cjs + "] esm=[" + esm + "]"); process.exit(1); }
        console.log(Object.keys(required).length);
      });`;
    try {
      const count = run(process.execPath, ["-e", probe], { cwd: project }).trim();
      console.log(
        `✓ ${manifest.name}: publint, attw, import and require agree on ${count} exports`,
      );
    } catch (error) {
      fail(`load from tarball: ${manifest.name}`, `${error.stdout}${error.stderr}`);
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

if (failures > 0) {
  console.error(`check-packages: ${failures} problem(s)`);
  process.exit(1);
}
console.log(`check-packages: ${packages.length} packages ok`);

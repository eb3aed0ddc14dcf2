// Creates the files every package shares (package.json, tsconfig, tsup and
// vitest configs) so each package starts from the same, publishable shape.
// Usage: node scripts/new-package.mjs <name> "<description>" [dep ...]
import { existsSync, mkdirSync, writeFileSync } from "node:fs";

const [name, description, ...dependencies] = process.argv.slice(2);
if (!name || !description) {
  console.error('usage: node scripts/new-package.mjs <name> "<description>" [dep ...]');
  process.exit(2);
}
const dir = new URL(`../packages/${name}/`, import.meta.url);
mkdirSync(new URL("src/", dir), { recursive: true });

const manifest = {
  name: `@beauvoir/${name}`,
  version: "0.1.0",
  description,
  license: "MIT",
  type: "module",
  sideEffects: false,
  main: "./dist/index.cjs",
  module: "./dist/index.js",
  types: "./dist/index.d.cts",
  exports: {
    ".": {
      import: { types: "./dist/index.d.ts", default: "./dist/index.js" },
      require: { types: "./dist/index.d.cts", default: "./dist/index.cjs" },
    },
    "./package.json": "./package.json",
  },
  files: ["dist"],
  engines: { node: ">=20" },
  publishConfig: { access: "public" },
  repository: {
    type: "git",
    url: "git+https://github.com/beauvoir-dev/beauvoir.git",
    directory: `packages/${name}`,
  },
  keywords: ["beauvoir", "reliability", "hardening"],
  scripts: {
    build: "tsup",
    typecheck: "tsc --noEmit",
    test: "vitest run --coverage",
  },
  dependencies: Object.fromEntries(
    ["core", ...dependencies]
      .filter((dep) => dep !== name)
      .map((dep) => [`@beauvoir/${dep}`, "workspace:^"]),
  ),
};

const files = {
  "package.json": `${JSON.stringify(manifest, null, 2)}\n`,
  "tsconfig.json": `${JSON.stringify({ extends: "../../tsconfig.base.json", include: ["src", "test", "*.config.ts"] }, null, 2)}\n`,
  "tsup.config.ts":
    'import { definePackageBuild } from "../../tsup.shared.js";\n\nexport default definePackageBuild();\n',
  "vitest.config.ts":
    'import { definePackageTests } from "../../vitest.shared.js";\n\nexport default definePackageTests();\n',
};
for (const [file, content] of Object.entries(files)) {
  const target = new URL(file, dir);
  if (!existsSync(target)) writeFileSync(target, content);
}

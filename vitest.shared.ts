import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const packagesDir = fileURLToPath(new URL("./packages/", import.meta.url));

/**
 * Tests resolve sibling `@beauvoir/*` packages to their sources, so a package's
 * tests never run against a stale build of its dependencies. Child processes in
 * crash tests run the built output instead (turbo builds it before `test`).
 */
const sourceAliases = Object.fromEntries(
  readdirSync(packagesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => [`@beauvoir/${entry.name}`, `${packagesDir}${entry.name}/src/index.ts`]),
);

export interface PackageTestOptions {
  /** Minimum branch coverage in percent; the plan's floor is 80. */
  branches?: number;
  /** Per-test timeout in milliseconds. */
  testTimeout?: number;
}

export function definePackageTests(options: PackageTestOptions = {}) {
  return defineConfig({
    resolve: { alias: sourceAliases },
    test: {
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      testTimeout: options.testTimeout ?? 20_000,
      hookTimeout: 30_000,
      reporters: ["default", "json"],
      outputFile: { json: ".vitest-report.json" },
      typecheck: { enabled: false },
      coverage: {
        provider: "v8",
        include: ["src/**/*.ts"],
        exclude: [
          "src/**/*.test.ts",
          "src/**/*.test-d.ts",
          "src/**/__fixtures__/**",
          "src/index.ts",
        ],
        reporter: ["text-summary", "json-summary"],
        thresholds: { branches: options.branches ?? 80 },
      },
    },
  });
}

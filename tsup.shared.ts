import { defineConfig, type Options } from "tsup";

/**
 * The build every package shares: one entry, ESM and CJS side by side, each
 * with its own declaration file (`.d.ts` for import, `.d.cts` for require).
 */
export function definePackageBuild(overrides: Options = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
    platform: "node",
    splitting: false,
    treeshake: true,
    ...overrides,
  });
}

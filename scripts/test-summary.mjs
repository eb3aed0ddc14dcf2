// Adds up the JSON reports every package's vitest run wrote, and prints one
// closing line for the whole workspace.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dirs = ["packages", "examples"].flatMap((group) =>
  readdirSync(join(root, group)).map((name) => join(root, group, name)),
);
let passed = 0;
let failed = 0;
let skipped = 0;
let reports = 0;
for (const dir of dirs) {
  const file = join(dir, ".vitest-report.json");
  if (!existsSync(file)) continue;
  const report = JSON.parse(readFileSync(file, "utf8"));
  reports++;
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
}
if (reports === 0) {
  console.error("test-summary: no vitest report found");
  process.exit(1);
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);

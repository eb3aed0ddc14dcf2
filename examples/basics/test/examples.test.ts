// Runs every example as a user would (tsx, the built packages) and checks the
// lines its header promises with `// expect: <text>`, so examples cannot rot.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const sourceDir = new URL("../src/", import.meta.url);
const examples = readdirSync(sourceDir).filter((file) => file.endsWith(".ts"));

describe("examples", () => {
  it("has at least one example", () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  for (const file of examples) {
    const path = new URL(file, sourceDir);
    const expected = [...readFileSync(path, "utf8").matchAll(/^\/\/ expect: (.+)$/gm)].map(
      (match) => match[1]!.trim(),
    );

    it(`${file} runs and prints what it promises`, async () => {
      expect(expected.length, `${file} declares no '// expect:' lines`).toBeGreaterThan(0);
      const { stdout } = await run(process.execPath, ["--import", "tsx", path.pathname], {
        timeout: 50_000,
      });
      for (const line of expected) expect(stdout).toContain(line);
    });
  }
});

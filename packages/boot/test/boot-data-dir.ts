// Helpers for tests that boot on a real data directory.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type BootConfig, type BootResult, boot } from "../src/index.js";

/** A log sink that keeps every line. */
export function captureSink() {
  const lines: string[] = [];
  const sink = (line: unknown) => {
    lines.push(typeof line === "string" ? line : JSON.stringify(line));
  };
  return { lines, sink };
}

/** Boots, runs two write steps, a read and a two-step workflow, and shuts down. */
export async function bootAndRun(dataDir: string, config: Partial<BootConfig> = {}): Promise<void> {
  const app = await boot({ dataDir, log: { level: "silent" }, ...config });
  try {
    await runSomeSteps(app);
  } finally {
    await app.shutdown();
  }
}

/** Two write steps, a read and a two-step workflow. */
export async function runSomeSteps(app: BootResult, tag = "a"): Promise<void> {
  for (const resource of [`issue-${tag}1`, `issue-${tag}2`]) {
    await app.executor.execute({
      action: "add_labels",
      scope: "acme/widgets",
      resource,
      params: { labels: ["bug"] },
      run: async () => ({ labels: ["bug"] }),
    });
  }
  await app.executor.execute({
    kind: "read",
    action: "get_issue",
    scope: "acme/widgets",
    resource: `issue-${tag}1`,
    params: {},
    run: async () => ({ number: 1 }),
  });
  const runId = await app.workflows.start(
    {
      name: "triage",
      steps: [
        { name: "label", action: "add_labels", run: async () => ({ labels: ["triaged"] }) },
        { name: "comment", action: "add_issue_comment", run: async () => ({ id: 7 }) },
      ],
    },
    { issue: tag },
    { runId: `run-${tag}` },
  );
  await app.workflows.run(runId);
}

/** Flips one bit of the byte at `offset` (negative: from the end). */
export async function flipBit(path: string, offset: number, bit = 0): Promise<void> {
  const bytes = await readFile(path);
  const at = offset < 0 ? bytes.length + offset : offset;
  bytes[at] = (bytes[at] as number) ^ (1 << bit);
  await writeFile(path, bytes);
}

/** The byte offset of the first occurrence of `text` in line `line` (1-based) of a file. */
export async function offsetInLine(path: string, line: number, text: string): Promise<number> {
  const content = await readFile(path, "utf8");
  const lines = content.split("\n");
  let offset = 0;
  for (let index = 0; index < line - 1; index++) offset += Buffer.byteLength(`${lines[index]}\n`);
  const within = (lines[line - 1] ?? "").indexOf(text);
  if (within < 0) throw new Error(`${text} not in line ${line} of ${path}`);
  return offset + Buffer.byteLength((lines[line - 1] ?? "").slice(0, within));
}

export const auditFile = (dataDir: string) => join(dataDir, "audit", "audit.jsonl");

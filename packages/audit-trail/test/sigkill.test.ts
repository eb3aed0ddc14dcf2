import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { makeTempDir } from "../src/__fixtures__/helpers.js";
import { AuditTrail } from "../src/index.js";

const fixture = fileURLToPath(new URL("./fixtures/record-until-killed.mjs", import.meta.url));
const soak = process.env.BEAUVOIR_SOAK !== undefined;
const LANES = 5;
const KILLS_PER_LANE = soak ? 100 : 10;
const WRITERS = 8;

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir());
});
afterAll(() => cleanup());

interface Reported {
  intents: Map<number, string>;
  results: Map<number, number>;
}

/** Starts the writer and SIGKILLs it the instant it reports its first resolved record. */
function runUntilKilled(path: string, lane: number, reported: Reported): Promise<void> {
  return new Promise((resolve, reject) => {
    // Odd lanes rotate every few kilobytes, so some kills land around a rotation.
    const maxSizeBytes = lane % 2 === 1 ? 4_096 : 10 * 1024 * 1024;
    const child = spawn(
      process.execPath,
      [fixture, path, String(WRITERS), String(lane), String(maxSizeBytes)],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let buffer = "";
    let stderr = "";
    let killed = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`lane ${lane}: no record reported within 45 s. ${stderr}`));
    }, 45_000);
    child.stdout.on("data", (chunk: Buffer) => {
      if (!killed) {
        killed = true;
        child.kill("SIGKILL");
      }
      // Lines already in the pipe were printed after their promise resolved: they count too.
      buffer += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("exit", (_code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL") {
        reject(new Error(`lane ${lane}: writer exited without being killed. ${stderr}`));
        return;
      }
      for (const line of buffer.split("\n")) {
        const [kind, seq, detail] = line.split(" ");
        if (kind === "intent") reported.intents.set(Number(seq), detail!);
        if (kind === "result") reported.results.set(Number(seq), Number(detail));
      }
      resolve();
    });
  });
}

async function lane(index: number): Promise<{ path: string; reported: Reported }> {
  const path = join(dir, `lane-${index}.jsonl`);
  const reported: Reported = { intents: new Map(), results: new Map() };
  // Each run recovers the file the previous one was killed in the middle of writing.
  for (let kill = 0; kill < KILLS_PER_LANE; kill++) await runUntilKilled(path, index, reported);
  return { path, reported };
}

it(
  `keeps every record whose promise resolved before a SIGKILL (${LANES * KILLS_PER_LANE} kills)`,
  async () => {
    const lanes = await Promise.all(Array.from({ length: LANES }, (_, index) => lane(index)));
    for (const [index, { path, reported }] of lanes.entries()) {
      expect(reported.intents.size).toBeGreaterThanOrEqual(KILLS_PER_LANE);
      const trail = new AuditTrail({ path, redactor: { redactAny: (value) => value } });
      await trail.initialize();
      const verification = await trail.verifyChain();
      expect(verification).toMatchObject({ valid: true });
      if (index % 2 === 1) expect(verification.segments.length).toBeGreaterThan(1);
      const names = (await readdir(dir)).filter((name) => name.startsWith(`lane-${index}.`));
      const records = (await Promise.all(names.map((name) => readFile(join(dir, name), "utf8"))))
        .flatMap((text) => text.split("\n"))
        .filter(Boolean)
        .map((line) => JSON.parse(line));
      const bySeq = new Map(records.map((record) => [record.seq as number, record]));
      for (const [seq, detail] of reported.intents) {
        const [pid, writer, count] = detail.split(":").map(Number);
        expect(bySeq.get(seq), `intent ${seq}`).toMatchObject({
          phase: "intent",
          params: { pid, writer, count },
        });
      }
      for (const [seq, intentSeq] of reported.results) {
        expect(bySeq.get(seq), `result ${seq}`).toMatchObject({ phase: "result", intentSeq });
      }
      await trail.close();
    }
  },
  soak ? 1_800_000 : 120_000,
);
